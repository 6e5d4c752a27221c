"""Monte Carlo and exact planning of a two-arm randomised trial with a binary
endpoint (live birth per woman randomised).

Library API (no printing)::

    from simulator import load_scenario, run, sensitivity
    scenario = load_scenario("severe.yaml", overrides={"analysis.test": "z_pooled"})
    result = run(scenario.override({"arms.control.rate": 0.25}))
    result.sample_size.answer.n_control, result.power_curve.to_frame(), result.to_dict()
    result.figures()["power_curve"]          # a matplotlib Figure
    sensitivity(scenario, {"arms.treatment.rate": [0.5, 0.6, 0.69]}).sweep.to_frame()
"""
from .errors import NoSolutionError, ScenarioError
from .planning.run import run
from .planning.sweep import Sweep, sensitivity
from .results import PlanResult, PowerCurve, PowerPoint, SampleSizeResult
from .scenario.build import Scenario, bundled_scenarios, load_scenario
from .version import SOFTWARE, __version__

__all__ = ["__version__", "SOFTWARE", "load_scenario", "bundled_scenarios", "run", "sensitivity",
           "Scenario", "PlanResult", "PowerCurve", "PowerPoint", "SampleSizeResult", "Sweep",
           "ScenarioError", "NoSolutionError"]
