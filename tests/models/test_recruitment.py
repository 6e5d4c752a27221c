"""Recruitment duration: exact quantiles against a brute-force simulation of the
pooled inhomogeneous Poisson process (by thinning), the closed-form number of
centres against direct evaluation, and input checks."""
import math

import numpy as np
import pytest
from scipy import stats

from simulator.models.recruitment import Recruitment, centres_needed, duration

EXAMPLE_WEIGHTS = (2, 2, 1.5, 1, 1, 1, 0.75, 0.75)


# --- the model, written out independently of the module ------------------------

def ramp(t, r):
    return np.ones_like(t) if r == 0 else np.minimum(1.0, t / r)


def cumulative(t, total, r):
    """H(t): expected number of women randomised by month t."""
    t = np.asarray(t, dtype=float)
    if r == 0:
        return total * t
    return total * np.where(t <= r, t * t / (2 * r), t - r / 2)


def cdf(t, n, total, r):
    return stats.gamma.cdf(cumulative(t, total, r), n)


def density(t, n, total, r):
    return stats.gamma.pdf(cumulative(t, total, r), n) * total * ramp(np.asarray(t, float), r)


def simulate_by_thinning(rng, n, total, r, m, chunk=256):
    """Month of the n-th woman in each of m trials: candidate arrivals of a
    homogeneous Poisson process at the full total rate, each accepted with
    probability ramp(t)."""
    clock, accepted = np.zeros(m), np.zeros(m, dtype=int)
    result = np.full(m, np.nan)
    active = np.arange(m)
    while active.size:
        times = clock[active, None] + np.cumsum(
            rng.exponential(1 / total, (active.size, chunk)), axis=1)
        keep = rng.random(times.shape) < ramp(times, r)
        count = accepted[active, None] + np.cumsum(keep, axis=1)
        done = count[:, -1] >= n
        first = np.argmax(count >= n, axis=1)
        result[active[done]] = times[done, first[done]]
        clock[active], accepted[active] = times[:, -1], count[:, -1]
        active = active[~done]
    return result


CASES = [  # per_centre_month, weights, ramp_up_months, n_women
    (1.5, EXAMPLE_WEIGHTS, 6.0, 400),        # ramp-up much shorter than enrolment
    (1.0, (1, 2, 3), 36.0, 40),              # enrolment ends during the ramp-up
    (0.8, (1, 1, 1, 1, 5), 0.0, 60),         # no ramp-up
]


@pytest.mark.parametrize("per_centre, weights, r, n", CASES)
def test_exact_quantiles_match_thinning_simulation(per_centre, weights, r, n):
    rec = Recruitment(per_centre, weights, ramp_up_months=r)
    total = per_centre * len(weights)
    assert rec.total_rate() == pytest.approx(total)
    q = np.array([0.1, 0.5, 0.9])
    exact = rec.months_to_enrol(n, q)
    if r == 36.0:
        assert exact[-1] < r                 # the whole 80% interval lies in the ramp-up
    m = 20_000
    sample = simulate_by_thinning(np.random.default_rng(20240611), n, total, r, m)
    # Monte Carlo SE of an empirical q-quantile: sqrt(q (1 - q) / m) / f(x_q)
    se = np.sqrt(q * (1 - q) / m) / density(exact, n, total, r)
    np.testing.assert_array_less(np.abs(np.quantile(sample, q) - exact), 3 * se)
    # and the exact quantiles invert the exact distribution function
    np.testing.assert_allclose(cdf(exact, n, total, r), q, rtol=1e-9)


def test_no_ramp_up_is_gamma():
    rec = Recruitment(0.8, (1, 1, 1, 1, 5))
    q = np.array([0.01, 0.1, 0.5, 0.9, 0.99])
    for n in (1, 7, 60, 500):
        expected = stats.gamma.ppf(q, n, scale=1 / 4.0)
        np.testing.assert_allclose(rec.months_to_enrol(n, q), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("per_centre, weights, r, n", CASES)
def test_draws_follow_the_exact_distribution(per_centre, weights, r, n):
    rec = Recruitment(per_centre, weights, ramp_up_months=r)
    draws = rec.draw_months_to_enrol(np.random.default_rng(7), n, 20_000)
    assert draws.shape == (20_000,)
    total = per_centre * len(weights)
    assert stats.kstest(draws, lambda t: cdf(t, n, total, r)).pvalue > 0.001


def test_inverse_cumulative_inverts_h():
    for r in (0.0, 6.0, 40.0):
        rec = Recruitment(1.5, EXAMPLE_WEIGHTS, ramp_up_months=r)
        t = np.linspace(0, 80, 161)
        np.testing.assert_allclose(rec.inverse_cumulative(cumulative(t, 12.0, r)), t,
                                   rtol=1e-12, atol=1e-12)


def test_centre_probabilities_and_follow_up():
    rec = Recruitment(1.5, EXAMPLE_WEIGHTS, ramp_up_months=6, follow_up_months=10)
    w = np.array(EXAMPLE_WEIGHTS, dtype=float)
    np.testing.assert_allclose(rec.centre_probabilities(), w / w.sum(), rtol=1e-15)
    assert rec.total_rate() == pytest.approx(12.0)        # weights only split the total
    q = [0.1, 0.5, 0.9]
    np.testing.assert_allclose(rec.months_to_last_outcome(400, q),
                               rec.months_to_enrol(400, q) + 10, rtol=1e-15)
    d = duration(rec, 400)
    lo, mid, hi = rec.months_to_enrol(400, q)
    assert (d.enrol_median, d.enrol_interval80) == (mid, (lo, hi))
    assert d.last_outcome_median == pytest.approx(mid + 10)
    assert d.last_outcome_interval80 == pytest.approx((lo + 10, hi + 10))
    assert d.to_dict() == {"n_women": 400,
                           "months_to_enrol": {"median": mid, "interval80": [lo, hi]},
                           "months_to_last_outcome": {"median": mid + 10,
                                                      "interval80": [lo + 10, hi + 10]}}


def probability_in_time(k, per_centre, r, n, target):
    return stats.gamma.cdf(cumulative(target, k * per_centre, r), n)


@pytest.mark.parametrize("n, per_centre, r, target, p", [
    (200, 1.5, 6.0, 24.0, 0.8),              # the worked example
    (200, 1.5, 6.0, 24.0, 0.95),
    (400, 1.5, 6.0, 24.0, 0.8),
    (30, 0.5, 12.0, 8.0, 0.9),               # target inside the ramp-up
    (1, 2.0, 0.0, 1.0, 0.5),
])
def test_centres_needed_is_the_smallest_that_reaches(n, per_centre, r, target, p):
    rec = Recruitment(per_centre, (1.0,), ramp_up_months=r)
    k = centres_needed(rec, n, target, probability=p)
    assert k is not None
    assert probability_in_time(k, per_centre, r, n, target) >= p
    if k > 1:
        assert probability_in_time(k - 1, per_centre, r, n, target) < p
    # brute force over k
    ks = np.arange(1, 1001)
    assert k == ks[np.argmax(probability_in_time(ks, per_centre, r, n, target) >= p)]
    # weights do not matter: k centres at the average rate
    assert centres_needed(Recruitment(per_centre, (3, 1, 0.2), ramp_up_months=r),
                          n, target, probability=p) == k


def test_centres_needed_unreachable():
    rec = Recruitment(1.5, EXAMPLE_WEIGHTS, ramp_up_months=6)
    k = centres_needed(rec, 200, 24)
    assert centres_needed(rec, 200, 24, max_centres=k) == k
    assert centres_needed(rec, 200, 24, max_centres=k - 1) is None
    assert centres_needed(rec, 200, 0) is None
    assert centres_needed(rec, 200, -3) is None
    assert centres_needed(rec, 10_000, 0.01) is None


@pytest.mark.parametrize("kwargs, name", [
    ({"per_centre_month": -1, "weights": (1,)}, "per_centre_month"),
    ({"per_centre_month": 0, "weights": (1,)}, "per_centre_month"),
    ({"per_centre_month": math.nan, "weights": (1,)}, "per_centre_month"),
    ({"per_centre_month": 1, "weights": ()}, "weights"),
    ({"per_centre_month": 1, "weights": (1, -2)}, "weights"),
    ({"per_centre_month": 1, "weights": (1, 0)}, "weights"),
    ({"per_centre_month": 1, "weights": (1,), "ramp_up_months": -1}, "ramp_up_months"),
    ({"per_centre_month": 1, "weights": (1,), "follow_up_months": math.inf}, "follow_up_months"),
])
def test_bad_recruitment_raises(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        Recruitment(**kwargs)


def test_bad_arguments_raise():
    rec = Recruitment(1.5, EXAMPLE_WEIGHTS, ramp_up_months=6)
    for q in (0, 1, -0.1, 1.5, [0.5, 1.0], math.nan, []):
        with pytest.raises(ValueError, match="`q`"):
            rec.months_to_enrol(10, q)
    for n in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="`n_women`"):
            rec.months_to_enrol(n, 0.5)
        with pytest.raises(ValueError, match="`n_women`"):
            centres_needed(rec, n, 24)
    with pytest.raises(ValueError, match="`h`"):
        rec.inverse_cumulative([-1.0])
    with pytest.raises(ValueError, match="`probability`"):
        centres_needed(rec, 200, 24, probability=1.0)
    with pytest.raises(ValueError, match="`max_centres`"):
        centres_needed(rec, 200, 24, max_centres=0)
    with pytest.raises(ValueError, match="`target_months`"):
        centres_needed(rec, 200, math.nan)


# --- capacity: the most women randomised within a time, with a probability ------------------
@pytest.mark.parametrize("per_centre, weights, r, months, q", [
    (7 / 12, (1, 1, 1, 1), 6.0, 36.0, 0.8),       # the severe stratum at four centres
    (1.5, EXAMPLE_WEIGHTS, 6.0, 24.0, 0.9),
    (1.0, (1, 2, 3), 36.0, 12.0, 0.5),             # all within the ramp-up
    (0.8, (1, 1, 1, 1, 5), 0.0, 60.0, 0.95),       # no ramp-up
])
def test_capacity_is_the_largest_n_whose_poisson_tail_reaches_the_probability(
        per_centre, weights, r, months, q):
    """P(T_N <= t) = P(Poisson(H(t)) >= N): scanned independently with scipy's Poisson."""
    from simulator.models.recruitment import capacity, probability_within
    rec = Recruitment(per_centre, weights, ramp_up_months=r)
    h = float(cumulative(months, per_centre * len(weights), r))
    n = np.arange(1, 2000)
    reached = stats.poisson.sf(n - 1, h) >= q           # P(X >= N) = sf(N - 1)
    expected = int(n[reached].max()) if reached.any() else 0
    assert capacity(rec, months, q) == expected
    assert probability_within(rec, expected, months) == pytest.approx(
        stats.poisson.sf(expected - 1, h), rel=1e-9)
    assert probability_within(rec, expected + 1, months) < q
    # and by simulation: the share of trials with the N-th woman by the target month
    sample = simulate_by_thinning(np.random.default_rng(7), expected, per_centre * len(weights),
                                  r, 4000)
    assert abs(np.mean(sample <= months) - probability_within(rec, expected, months)) < 0.03


def test_no_capacity_when_not_even_one_woman_is_likely():
    from simulator.models.recruitment import capacity
    rec = Recruitment(0.01, (1,), ramp_up_months=12.0)
    assert capacity(rec, 3.0, 0.8) == 0
