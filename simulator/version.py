"""The package's version and distribution name (imported by what cites them,
so that nothing needs the package root)."""
__version__ = "0.3.0"
SOFTWARE = "ivig-trial-simulator"     # the distribution name, as cited in reports
