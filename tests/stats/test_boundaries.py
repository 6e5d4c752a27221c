"""Group-sequential boundaries by recursive integration against published
values (rpact's and gsDesign's documentation, Jennison and Turnbull 2000) and a
simulation of the canonical joint distribution."""
import numpy as np
import pytest
from scipy import optimize, stats

from simulator.stats.boundaries import crossing, efficacy_bounds, normal_pdf, spent

EQUAL3 = [1 / 3, 2 / 3, 1]


@pytest.mark.parametrize("t,alpha,kind,sided,published", [
    # rpact vignette: O'Brien-Fleming, information rates 0.5 / 0.75 / 1, one-sided 0.025
    ([0.5, 0.75, 1], 0.025, "obrien_fleming", "one", [2.863, 2.337, 2.024]),
    # Jennison and Turnbull (2000) Table 2.1 (Pocock) and 2.3 (O'Brien-Fleming,
    # C_B at the last look), two-sided 0.05, equally spaced looks
    ([0.5, 1], 0.05, "pocock", "two", [2.178] * 2),
    ([0.25, 0.5, 0.75, 1], 0.05, "pocock", "two", [2.361] * 4),
    ([0.2, 0.4, 0.6, 0.8, 1], 0.05, "pocock", "two", [2.413] * 5),
    (EQUAL3, 0.025, "pocock", "one", [2.289] * 3),
    ([0.5, 1], 0.05, "obrien_fleming", "two", [1.977 * 2 ** 0.5, 1.977]),
    ([0.2, 0.4, 0.6, 0.8, 1], 0.05, "obrien_fleming", "two",
     [2.040 * 5 ** 0.5, 2.040 * 2.5 ** 0.5, 2.040 * (5 / 3) ** 0.5, 2.040 * 1.25 ** 0.5, 2.040]),
    # gsDesign: Lan-DeMets O'Brien-Fleming (sfLDOF) and Hwang-Shih-DeCani
    # (sfHSD, gamma -4), 3 equally spaced looks, one-sided 0.025
    (EQUAL3, 0.025, "ld_obrien_fleming", "one", [3.7103, 2.5114, 1.9930]),
    (EQUAL3, 0.025, "hsd", "one", [3.0107, 2.5465, 1.9992]),
])
@pytest.mark.slow
def test_bounds_agree_with_published_values(t, alpha, kind, sided, published):
    bounds = efficacy_bounds(t, alpha, kind, sided)
    assert np.allclose(bounds, published, atol=1e-3), bounds


@pytest.mark.slow
def test_rpact_power_and_expected_size_with_futility():
    """rpact: OBF with futility bounds 0 / 0.5, beta 0.1: cumulative power
    0.2958 / 0.6998 / 0.9000 and expected N under H1 198.3 for 0.4 vs 0.6."""
    t = np.array([0.5, 0.75, 1])
    upper = efficacy_bounds(t, 0.025, "obrien_fleming")
    lower = np.array([0.0, 0.5, -np.inf])
    drift = optimize.brentq(lambda d: crossing(t, upper, lower, d)[0].sum() - 0.9, 1, 6)
    up, down = crossing(t, upper, lower, drift)
    assert np.allclose(np.cumsum(up), [0.2958, 0.6998, 0.9000], atol=1e-4)
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.9)
    fixed = 2 * ((stats.norm.ppf(0.975) * np.sqrt(2 * 0.25) + stats.norm.ppf(0.9)
                  * np.sqrt(0.24 + 0.24)) / 0.2) ** 2
    n_max = (drift / z) ** 2 * fixed
    stop = np.append((up + down)[:-1], 1 - (up + down)[:-1].sum())
    assert n_max * (stop * t).sum() == pytest.approx(198.3, abs=0.05)


@pytest.mark.parametrize("kind", ["ld_obrien_fleming", "ld_pocock", "hsd"])
@pytest.mark.parametrize("sided", ["one", "two"])
def test_spending_bounds_spend_exactly_the_function(kind, sided):
    t = np.array([0.3, 0.55, 0.8, 1.0])
    alpha = 0.05 if sided == "two" else 0.025
    bounds = efficacy_bounds(t, alpha, kind, sided)
    up, _ = crossing(t, bounds, np.full(4, -np.inf), 0.0, sided)
    assert np.allclose(np.cumsum(up), spent(kind, t, alpha), atol=1e-8)


def test_crossing_probabilities_match_a_simulation_of_the_joint_distribution():
    rng = np.random.default_rng(1)
    t = np.array([0.4, 0.7, 1.0])
    upper, lower, drift = np.array([2.8, 2.3, 2.0]), np.array([-0.5, 0.3, -np.inf]), 2.5
    n = 400_000
    s = np.cumsum(rng.normal(drift * np.diff(t, prepend=0), np.sqrt(np.diff(t, prepend=0)),
                             (n, 3)), axis=1)
    z = s / np.sqrt(t)
    alive = np.ones(n, bool)
    sim_up, sim_down = np.zeros(3), np.zeros(3)
    for k in range(3):
        u, d = alive & (z[:, k] >= upper[k]), alive & (z[:, k] <= lower[k])
        sim_up[k], sim_down[k] = u.mean(), d.mean()
        alive &= ~(u | d)
    up, down = crossing(t, upper, lower, drift)
    for exact, sim in ((up, sim_up), (down, sim_down)):
        se = np.sqrt(exact * (1 - exact) / n)
        assert np.all(np.abs(exact - sim) <= 3 * se + 1e-12), (exact, sim)


@pytest.mark.slow
def test_beta_spending_futility_matches_gsdesign_default_design():
    """gsDesign's default gsDesign() (k = 3, test.type = 4, alpha 0.025, beta 0.1,
    sfHSD gamma -4 upper, -2 lower): upper 3.01 / 2.55 / 2.00, lower -0.24 /
    0.94 / 2.00 (printed to two decimals), power 0.9 at the solved drift."""
    from simulator.stats.boundaries import beta_spending_design
    upper = efficacy_bounds(EQUAL3, 0.025, "hsd")
    lower, drift = beta_spending_design(EQUAL3, upper, 0.025, 0.1, "hsd")
    assert np.allclose(upper, [3.0107, 2.5465, 1.9992], atol=1e-3)
    assert np.allclose(lower, [-0.24, 0.94, 2.00], atol=5e-3)
    up, down = crossing(EQUAL3, upper, lower, drift)
    assert up.sum() == pytest.approx(0.9, abs=1e-8)
    assert np.allclose(np.cumsum(down), spent("hsd", EQUAL3, 0.1, -2.0), atol=1e-8)


def test_normal_density_is_scipys_bit_for_bit():
    """The recursive integration's density skips scipy's per-call argument
    handling; the numbers are scipy.stats.norm.pdf's exactly (infinities and
    nan included)."""
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 12.0, size=(40, 61))
    x[0, :3] = np.inf, -np.inf, np.nan
    for loc, scale in [(0.0, 1.0), (1.7, 0.35), (-4.2, 6.0)]:
        assert np.array_equal(normal_pdf(x, loc, scale), stats.norm.pdf(x, loc, scale),
                              equal_nan=True)
