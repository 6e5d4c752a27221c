"""``python cli.py ...``: the ``simulate`` command run from a checkout (the
installed command is ``simulate``, i.e. :func:`simulator.cli.main`)."""
import sys

from simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
