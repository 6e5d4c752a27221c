"""Monte Carlo and exact planning of a two-arm randomised trial with a binary
endpoint (live birth per woman randomised).

Library API (no printing)::

    from simulator import load_scenario, run
    result = run(load_scenario("severe.yaml", overrides={"analysis.test": "z_pooled"}))
    result.sample_size.answer.n_control, result.to_dict()
"""
__version__ = "0.2.0"

from .errors import NoSolutionError, ScenarioError  # noqa: E402
from .scenario import Scenario, bundled_scenarios, load_scenario  # noqa: E402
from .plan import run  # noqa: E402
from .results import PlanResult, PowerPoint, SampleSizeResult  # noqa: E402

__all__ = ["__version__", "load_scenario", "bundled_scenarios", "run", "Scenario",
           "PlanResult", "PowerPoint", "SampleSizeResult", "ScenarioError", "NoSolutionError"]
