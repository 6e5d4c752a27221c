"""Exact and Monte Carlo planning of a two-arm randomised trial with a binary
endpoint (live birth per woman randomised): power, sample size, assurance,
interim analyses, a patient-level model, and the grant's justification.

The common questions, with keyword arguments (statsmodels' ``solve_power``
style; each builds a validated scenario and runs it)::

    import simulator
    simulator.sample_size(control=0.20, treatment=0.69, test="fisher", power=0.9, dropout=0.1)
    simulator.power(control=0.20, treatment=0.69, n_control=24)
    simulator.detectable(control=0.20, n_control=30)
    simulator.solve(control=0.20, treatment=0.69, n_control=None, power=0.9)
    simulator.compare("severe", vary={"analysis.test": ["fisher", "boschloo"]})

Scenario files stay the one complete form: ``load_scenario`` reads one (or a
bundled name, or a mapping in the file's shape), ``run`` answers it, and a
result's ``scenario.to_yaml()`` writes one back.  Results show themselves:
``summary()`` is the command's table, ``to_dict()`` its JSON, ``plot()`` the
figures, and a notebook displays the headline, the paragraph and the power
curve.  The library never prints.
"""
from .api import compare, detectable, power, sample_size, solve
from .errors import NoSolutionError, ScenarioError
from .planning.compare import Comparison
from .planning.run import run
from .planning.sweep import Sweep, sensitivity
from .results import PlanResult, PowerCurve, PowerPoint, SampleSizeResult
from .scenario.build import Scenario, bundled_scenarios, load_scenario
from .version import SOFTWARE, __version__

__all__ = ["sample_size", "power", "detectable", "solve", "compare",
           "load_scenario", "bundled_scenarios", "run", "sensitivity",
           "Scenario", "PlanResult", "Comparison", "PowerCurve", "PowerPoint",
           "SampleSizeResult", "Sweep", "ScenarioError", "NoSolutionError",
           "__version__", "SOFTWARE"]


def __dir__() -> list[str]:
    """The public names (PEP 562), not the subpackages."""
    return sorted(__all__)
