"""Posterior superiority and predictive probability of success (simulator.bayes), checked
against independent references: quadrature over the control arm's quantiles, the closed
form sum for an integer treatment parameter, simulation, and brute-force double loops."""
import math

import numpy as np
import pytest
from scipy import integrate, special

from simulator.stats.bayes import posterior_superiority, predictive_success

PRIORS = [((1, 1), (1, 1)), ((11, 5.5), (3.5, 11)), ((0.5, 0.5), (0.5, 0.5))]


def superiority_by_quadrature(a, b, c, d):
    """P(X > Y), X ~ Beta(a, b), Y ~ Beta(c, d), as the integral over u in (0, 1) of
    P(X > F_Y^-1(u)): a bounded integrand, whatever the Beta densities' singularities."""
    value, error = integrate.quad(lambda u: special.betaincc(a, b, special.betaincinv(c, d, u)),
                                  0, 1, epsabs=1e-13, epsrel=1e-12, limit=500)
    assert error < 1e-11
    return value


def superiority_closed_form(a1, b1, a2, b2):
    """P(X > Y), X ~ Beta(a1, b1) with a1 a whole number, Y ~ Beta(a2, b2): the finite sum
    over i < a1 of B(a2 + i, b1 + b2) / ((b1 + i) B(1 + i, b1) B(a2, b2)) (all terms > 0)."""
    return math.fsum(math.exp(special.betaln(a2 + i, b1 + b2) - math.log(b1 + i)
                              - special.betaln(1 + i, b1) - special.betaln(a2, b2))
                     for i in range(round(a1)))


def beta_binomial_pmf(y, m, a, b):
    """BetaBinomial(m, a, b) at y, written out with math.comb and math.lgamma."""
    log_beta = lambda p, q: math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q)  # noqa: E731
    return math.comb(m, y) * math.exp(log_beta(a + y, b + m - y) - log_beta(a, b))


@pytest.mark.parametrize("n_t, n_c", [(10, 10), (37, 23), (300, 300), (0, 4), (1, 0)])
@pytest.mark.parametrize("prior_t, prior_c", PRIORS)
def test_superiority_matches_quadrature_at_corners_and_sampled_cells(n_t, n_c, prior_t, prior_c):
    table = posterior_superiority(n_t, n_c, prior_t, prior_c)
    assert table.shape == (n_t + 1, n_c + 1)
    rng = np.random.default_rng(n_t * 1000 + n_c)
    cells = {(i, j) for i in {0, 1, n_t - 1, n_t} for j in {0, 1, n_c - 1, n_c}
             if 0 <= i <= n_t and 0 <= j <= n_c}
    cells |= set(zip(rng.integers(0, n_t + 1, 12).tolist(), rng.integers(0, n_c + 1, 12).tolist()))
    (a_t, b_t), (a_c, b_c) = prior_t, prior_c
    errors = [abs(table[i, j] - superiority_by_quadrature(a_t + i, b_t + n_t - i,
                                                          a_c + j, b_c + n_c - j))
              for i, j in sorted(cells)]
    assert max(errors) < 1e-9


@pytest.mark.parametrize("n, prior_t, prior_c", [(40, (1, 2.5), (3.5, 0.7)),
                                                 (120, (2, 1), (1, 1)), (25, (1, 1), (11, 5.5))])
@pytest.mark.slow
def test_superiority_matches_closed_form_sum_for_whole_treatment_parameter_everywhere(
        n, prior_t, prior_c):
    table = posterior_superiority(n, n, prior_t, prior_c)
    (a_t, b_t), (a_c, b_c) = prior_t, prior_c
    reference = np.array([[superiority_closed_form(a_t + i, b_t + n - i, a_c + j, b_c + n - j)
                           for j in range(n + 1)] for i in range(n + 1)])
    np.testing.assert_allclose(table, reference, rtol=0, atol=1e-12)


def test_superiority_agrees_with_simulated_posteriors_and_means_treatment_better():
    rng = np.random.default_rng(2024)
    table = posterior_superiority(30, 20, (11, 5.5), (3.5, 11))
    draws = 400_000
    for x_t, x_c in [(5, 15), (12, 9), (25, 3)]:
        p_t = rng.beta(11 + x_t, 5.5 + 30 - x_t, draws)
        p_c = rng.beta(3.5 + x_c, 11 + 20 - x_c, draws)
        simulated = np.mean(p_t > p_c)
        se = math.sqrt(max(simulated * (1 - simulated), 1e-6) / draws)
        assert abs(table[x_t, x_c] - simulated) < 5 * se + 1e-6


@pytest.mark.parametrize("n", [0, 1, 25, 300])
@pytest.mark.parametrize("prior", [(1, 1), (0.5, 0.5), (11, 5.5), (0.2, 3)])
def test_equal_arms_and_priors_give_complementary_probabilities(n, prior):
    table = posterior_superiority(n, n, prior, prior)
    np.testing.assert_allclose(table + table.T, 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n_t, n_c", [(37, 23), (400, 300)])
@pytest.mark.parametrize("prior_t, prior_c", PRIORS)
def test_superiority_increases_with_treatment_and_decreases_with_control_events(
        n_t, n_c, prior_t, prior_c):
    table = posterior_superiority(n_t, n_c, prior_t, prior_c)
    assert np.all(np.diff(table, axis=0) >= 0)
    assert np.all(np.diff(table, axis=1) <= 0)
    assert table.min() >= 0 and table.max() <= 1
    assert table[n_t, 0] > 0.999 and table[0, n_c] < 0.001


@pytest.mark.parametrize("prior_t, prior_c", PRIORS)
def test_predictive_success_matches_brute_force_double_loop(prior_t, prior_c):
    n_t, n_c, n_t_k, n_c_k = 12, 10, 5, 6
    rng = np.random.default_rng(7)
    for success in (posterior_superiority(n_t, n_c, prior_t, prior_c) > 0.9,
                    rng.integers(0, 2, (n_t + 1, n_c + 1)).astype(float)):
        table = predictive_success(n_t_k, n_c_k, success, prior_t, prior_c)
        assert table.shape == (n_t_k + 1, n_c_k + 1)
        (a_t, b_t), (a_c, b_c) = prior_t, prior_c
        for x_t in range(n_t_k + 1):
            for x_c in range(n_c_k + 1):
                reference = math.fsum(
                    beta_binomial_pmf(y_t, n_t - n_t_k, a_t + x_t, b_t + n_t_k - x_t)
                    * beta_binomial_pmf(y_c, n_c - n_c_k, a_c + x_c, b_c + n_c_k - x_c)
                    * success[x_t + y_t, x_c + y_c]
                    for y_t in range(n_t - n_t_k + 1) for y_c in range(n_c - n_c_k + 1))
                assert abs(table[x_t, x_c] - reference) < 1e-12


def test_predictive_success_at_the_final_look_is_the_success_table():
    success = posterior_superiority(40, 35, (1, 1), (1, 1)) > 0.975
    table = predictive_success(40, 35, success, (1, 1), (1, 1))
    np.testing.assert_array_equal(table, success.astype(float))


def test_predictive_success_averaged_over_interim_outcomes_is_prior_probability_of_success():
    # law of total probability: sum over interim x of P(x) P(success | x) = P(success)
    n_t, n_c, n_t_k, n_c_k = 60, 50, 20, 35
    prior_t, prior_c = (2.5, 4), (2, 4.5)
    success = posterior_superiority(n_t, n_c, prior_t, prior_c) > 0.95
    table = predictive_success(n_t_k, n_c_k, success, prior_t, prior_c)

    def marginal(n, prior):
        return np.array([beta_binomial_pmf(x, n, *prior) for x in range(n + 1)])

    interim = marginal(n_t_k, prior_t) @ table @ marginal(n_c_k, prior_c)
    final = marginal(n_t, prior_t) @ success @ marginal(n_c, prior_c)
    assert 0.05 < final < 0.95
    assert abs(interim - final) < 1e-12


@pytest.mark.parametrize("call, message", [
    (lambda: posterior_superiority(10, 10, (0, 1), (1, 1)), "`prior_t` must be two numbers > 0"),
    (lambda: posterior_superiority(10, 10, (1, 1), (1,)), "`prior_c` must be two numbers > 0"),
    (lambda: posterior_superiority(10, 10, (1, 1), (1, float("nan"))), "`prior_c`"),
    (lambda: posterior_superiority(-1, 10, (1, 1), (1, 1)), "`n_t` must be an integer >= 0"),
    (lambda: posterior_superiority(10, 2.5, (1, 1), (1, 1)), "`n_c` must be an integer >= 0"),
    (lambda: predictive_success(11, 3, np.ones((11, 11)), (1, 1), (1, 1)), "`n_t_k`"),
    (lambda: predictive_success(3, 3, np.ones(11), (1, 1), (1, 1)), "`success`"),
    (lambda: predictive_success(3, 3, np.ones((11, 11)), (1, 1), (-1, 1)), "`prior_c`"),
])
def test_invalid_arguments_are_rejected_naming_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()
