"""The Monte Carlo check of an exact answer: by default a run on the 2x2 table
simulates 100,000 trials at the proposed size, and the simulated power (and
exact assurance) agrees with the exact value within its Monte Carlo error."""
import pytest

from simulator import bundled_scenarios, load_scenario, run
from simulator.report.justification import justification
from simulator.report.tables import table

EXACT = [n.removesuffix(".yaml") for n in bundled_scenarios() if n != "multicentre.yaml"]


@pytest.mark.parametrize("name", EXACT)
@pytest.mark.slow
def test_the_simulated_power_at_the_answer_agrees_with_the_exact_power(name):
    result = run(load_scenario(name))
    conf, rep = result.confirmation, result.reported
    assert result.method == "exact" and conf.n_sims == 100_000
    assert conf.seed == result.scenario.simulation.seed
    assert abs(conf.power - rep.power) <= 4 * conf.power_se
    if result.assurance is not None and result.assurance.method == "exact":
        assert abs(conf.assurance - rep.assurance) <= 4 * conf.assurance_se
    else:
        assert conf.assurance is None
    assert f"Monte Carlo check at {rep.n_control:,} + {rep.n_treatment:,}" in table(result)
    assert f"confirmed by simulating {conf.n_sims:,} trials" in justification(result)
    assert result.to_dict()["confirmation"]["power"] == conf.power


def test_a_key_turns_the_check_off_and_simulated_runs_need_none():
    off = run(load_scenario("severe", {"simulation.confirm": 0}))
    assert off.confirmation is None and off.to_dict()["confirmation"] is None
    assert "Monte Carlo check" not in table(off) and "confirmed" not in justification(off)
    simulated = run(load_scenario("severe", {"simulation.method": "monte_carlo"}))
    assert simulated.confirmation is None


def test_the_check_is_reproducible_and_its_size_is_the_key():
    first = run(load_scenario("severe", {"simulation.confirm": 20_000}))
    again = run(load_scenario("severe", {"simulation.confirm": 20_000}))
    assert first.confirmation == again.confirmation and first.confirmation.n_sims == 20_000
