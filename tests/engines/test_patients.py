"""The patient-level model against independent references: exact 2x2 power
where the model reduces to a 2x2 table, quadrature for the calibrated
intercepts, null simulations for the type I error, statsmodels for the grouped
logistic fit; and its randomisation, reproducibility and validation."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import integrate, special, stats

from simulator import ScenarioError, load_scenario, run
from simulator.stats.adjusted import fit_logistic
from simulator.stats.analysis import pvalue_grid
from simulator.engines.assurance import exact_assurance
from simulator.engines.design import Design
from simulator.engines.exact import exact_power
from simulator.engines.patient_analysis import _logistic_data
from simulator.engines.patients import ANALYSES, simulate, simulate_counts

ALPHA = 0.05


def scenario(**extra):
    """A patient-level scenario (``model: patient`` when anything is added)."""
    raw = {"name": "p", "arms": {"control": {"rate": 0.30}, "treatment": {"rate": 0.50}},
           "simulation": {"n_sims": 4000, "seed": 7}}
    if extra:
        raw["model"] = "patient"
    for key, value in extra.items():
        node = raw
        *parents, last = key.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = {} if value is None else value
    return load_scenario(raw)


def counts(sc, n_t, n_c, n_sims, rates="planning", jobs=1, seed=3):
    a = sc.analysis
    return simulate_counts(sc.patient, [(n_t, n_c)], n_sims, seed, a.test, a.sided, a.alpha,
                           rates, ANALYSES, jobs)


STRATA = {"moderate": {"share": 0.62, "control": 0.39, "treatment": 0.60},
          "severe": {"share": 0.38, "control": 0.20, "treatment": 0.69}}
AGE = {"distribution": "truncated_normal", "mean": 37, "sd": 4, "lower": 25, "upper": 45,
       "log_odds_per_unit": -0.08}


# ------------------------------------------------------------------ the 2x2 limit
@pytest.mark.parametrize("test,sided", [("fisher", "two"), ("z_pooled", "one")])
@pytest.mark.slow
def test_patient_path_reduces_to_exact_2x2_power(test, sided):
    """Two centres without heterogeneity: the pooled analysis is the 2x2 test
    of two binomials, whose power is known exactly."""
    sc = scenario(centres__number=2, analysis__test=test, analysis__sided=sided)
    exact = exact_power(Design(test, sided, ALPHA), 0.5, 0.3, [60])[0]
    n_sims = 20_000
    power = counts(sc, 60, 60, n_sims).rate("pooled")[0][0]
    assert abs(power - exact) <= 3 * np.sqrt(exact * (1 - exact) / n_sims), (power, exact)


@pytest.mark.slow
def test_crossover_and_dropout_as_failure_dilute_to_the_itt_rates():
    """Crossover mixes the arms' rates and dropouts analysed as failures scale
    them: the pooled test then has the exact power of the diluted rates."""
    sc = scenario(adherence__treatment_not_receiving=0.1, adherence__control_receiving=0.2,
                  dropout={"share": 0.15, "handling": "as_failure"})
    t = (0.9 * 0.5 + 0.1 * 0.3) * 0.85
    c = (0.8 * 0.3 + 0.2 * 0.5) * 0.85
    assert np.allclose(sc.patient.itt_rates(), [[t, c]])
    exact = exact_power(Design("fisher", "two", ALPHA), t, c, [150])[0]
    n_sims = 20_000
    power = counts(sc, 150, 150, n_sims).rate("pooled")[0][0]
    assert abs(power - exact) <= 3 * np.sqrt(exact * (1 - exact) / n_sims), (power, exact)


@pytest.mark.slow
def test_complete_case_power_is_the_binomial_mixture_over_analysed_sizes():
    """Complete case: each arm's analysed size is Binomial(n, 1 - dropout);
    the pooled test's power is the exact power averaged over those sizes."""
    sc = scenario(dropout={"share": 0.3, "handling": "complete_case"}, centres__number=2)
    n = 40
    sizes = np.arange(1, n + 1)
    weight = stats.binom.pmf(sizes, n, 0.7)

    def exact(n_t, n_c):
        reject = pvalue_grid("fisher", "two", n_t, n_c, (0, n_t), (0, n_c)) <= ALPHA
        return stats.binom.pmf(np.arange(n_t + 1), n_t, 0.5) @ reject @ stats.binom.pmf(
            np.arange(n_c + 1), n_c, 0.3)
    mixture = sum(weight[i] * weight[j] * exact(sizes[i], sizes[j])
                  for i in range(n) for j in range(n) if weight[i] * weight[j] > 1e-14)
    n_sims = 20_000
    power = counts(sc, n, n, n_sims).rate("pooled")[0][0]
    assert abs(power - mixture) <= 3 * np.sqrt(mixture * (1 - mixture) / n_sims)


@pytest.mark.slow
def test_assurance_reduces_to_exact_assurance():
    sc = scenario(centres__number=2, arms={"control": {"rate": {"beta": [30, 70]}},
                                           "treatment": {"rate": {"beta": [25, 25]}}})
    exact = exact_assurance(Design("fisher", "two", ALPHA), sc.rate_model, [50]).assurance[0]
    n_sims = 20_000
    assurance = counts(sc, 50, 50, n_sims, rates="prior").rate("pooled", "favourable")[0][0]
    assert abs(assurance - exact) <= 3 * np.sqrt(exact * (1 - exact) / n_sims)


# --------------------------------------------------------------- calibration
@pytest.mark.slow
def test_intercepts_give_the_stated_population_average_rates():
    """E[expit(a + f(age) + u)] = p, checked by scipy's dblquad over the
    truncated-normal age and the normal centre effect."""
    sc = scenario(population={"strata": STRATA, "covariates": {"age": AGE}},
                  centres={"number": 8, "sd_log_odds": 0.5}, arms=None)
    model = sc.patient
    age = stats.truncnorm((25 - 37) / 4, (45 - 37) / 4, loc=37, scale=4)
    for p in (0.2, 0.39, 0.6, 0.69, 0.97):
        a = float(model.intercept(p))
        value, _ = integrate.dblquad(
            lambda u, x: special.expit(a - 0.08 * (x - 37) + u) * age.pdf(x)
            * stats.norm.pdf(u, scale=0.5), 25, 45, -8, 8, epsabs=1e-12)
        assert value == pytest.approx(p, abs=2e-6)


def test_simulated_rates_per_stratum_and_arm_match_the_scenario():
    sc = scenario(population={"strata": STRATA, "covariates": {"age": AGE}},
                  centres={"number": 8, "sd_log_odds": 0.3}, arms=None)
    trials = simulate(sc.patient, 1000, 1000, 5, 0, 256)
    for s, stratum in enumerate(STRATA.values()):
        for arm, key in ((True, "treatment"), (False, "control")):
            sel = (trials.stratum == s) & (trials.treated == arm)
            p = stratum[key]
            # centre effects are shared within a trial: SE from trial-level means
            per_trial = (trials.live_birth & sel).sum(1) / sel.sum(1)
            se = per_trial.std() / np.sqrt(len(per_trial))
            assert abs(per_trial.mean() - p) <= 3 * se + 1e-3, (s, key)


# ------------------------------------------------------------ type I error
@pytest.mark.parametrize("randomisation,clustered", [("stratified_block", False),
                                                     ("simple", True)])
@pytest.mark.slow
def test_every_analysis_keeps_alpha_under_the_null(randomisation, clustered):
    """Equal rates in every stratum (different between strata), with centre
    random intercepts: each analysis rejects at most alpha + 3 MC SE."""
    strata = {"a": {"share": 0.6, "control": 0.4, "treatment": 0.4},
              "b": {"share": 0.4, "control": 0.15, "treatment": 0.15}}
    sc = scenario(arms=None, population={"strata": strata, "covariates": {"age": AGE}},
                  randomisation={"method": randomisation},
                  centres={"number": 6, "sd_log_odds": 0.5 if clustered else 0.0},
                  analysis={"test": "z_pooled", "primary": "logistic"})
    n_sims = 20_000
    result = counts(sc, 100, 100, n_sims)
    null = counts(sc, 100, 100, n_sims, rates="null")
    bound = ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / n_sims)
    for name in ANALYSES:
        rate = result.rate(name)[0][0]
        assert rate <= bound, (name, rate)
        assert rate > ALPHA / 2, (name, rate)      # not a test that cannot reject
        # the null simulation the outputs report is the same null
        assert null.rate(name)[0][0] <= bound


# ---------------------------------------------------------------- logistic data
def test_grouped_logistic_fit_equals_statsmodels_on_the_women():
    sc = scenario(arms=None, population={"strata": STRATA, "covariates": {
        "age": dict(AGE, resolution=1),
        "embryo": {"distribution": "categorical", "levels": ["good", "fair", "poor"],
                   "probabilities": [0.5, 0.3, 0.2], "log_odds": [0, -0.3, -0.6]}}},
        dropout={"share": 0.1, "handling": "complete_case"}, analysis={"primary": "logistic"})
    model = sc.patient
    trials = simulate(model, 300, 300, 9, 0, 20)
    X, y, m = _logistic_data(model, trials, trials.observed)
    assert X.shape[0] == 2 * 2 * 21 * 3         # grouped: arm x stratum x age x embryo
    grouped = fit_logistic(X, y, m)
    assert grouped.estimable.all()
    for i in range(20):
        keep = trials.observed[i]
        stratum = trials.stratum[i, keep]
        age, embryo = (c.value(v[i, keep]) for c, v in zip(model.covariates, trials.covariates))
        rows = np.column_stack([np.ones(keep.sum()), trials.treated[i, keep], stratum == 1,
                                age - 37, embryo == 1, embryo == 2]).astype(float)
        ref = sm.Logit(trials.live_birth[i, keep].astype(float), rows).fit(
            disp=0, method="newton", tol=1e-12, maxiter=100)
        np.testing.assert_allclose(grouped.coef[i], ref.params, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(grouped.se[i], ref.bse, rtol=1e-6)
        np.testing.assert_allclose(grouped.loglik[i], ref.llf, rtol=1e-10)


def test_grouped_fit_at_fewer_women_than_twice_the_cells_equals_the_fit_on_the_women():
    """The bundled multicentre design (arm x stratum x 21 ages = 84 cells) at
    150 women: the grouped fit gives the per-woman fit's p-values to 1e-12
    (relative), its estimates to 1e-12 (log-odds), and statsmodels' to 1e-6."""
    from simulator.stats.adjusted import logistic_pvalues
    model = load_scenario("multicentre").patient
    trials = simulate(model, 75, 75, 5, 0, 200)
    X, y, m = _logistic_data(model, trials, None)
    assert X.shape == (84, 4)                   # grouped
    rows = np.stack([np.ones((200, 150)), trials.treated, trials.stratum == 1,
                     model.covariates[0].value(trials.covariates[0]) - 37], axis=-1)
    grouped = logistic_pvalues(X, y, m, 1, "two")
    women = logistic_pvalues(rows.astype(float), trials.live_birth, None, 1, "two")
    assert grouped[1].all() and women[1].all()
    np.testing.assert_allclose(grouped[0], women[0], rtol=1e-12)
    np.testing.assert_allclose(grouped[2], women[2], rtol=0, atol=1e-12)
    for i in range(10):
        ref = sm.Logit(trials.live_birth[i].astype(float), rows[i].astype(float)).fit(
            disp=0, method="newton", tol=1e-12, maxiter=100)
        np.testing.assert_allclose(grouped[0][i], ref.pvalues[1], rtol=1e-6)


# ------------------------------------------------------------- randomisation
def test_randomisation_schemes():
    base = dict(arms=None, population={"strata": STRATA}, centres={"number": 4})
    fixed = simulate(scenario(**base).patient, 45, 45, 1, 0, 200)
    assert (fixed.treated.sum(1) == 45).all()
    block = simulate(scenario(**base, randomisation={"method": "block", "block_sizes": [4]}
                              ).patient, 50, 50, 1, 0, 200)
    # 100 women in blocks of 4: exactly balanced
    assert (block.treated.sum(1) == 50).all()
    strat = scenario(**base, randomisation={"method": "stratified_block", "block_sizes": [4, 6]})
    trials = simulate(strat.patient, 100, 100, 1, 0, 200)
    # centres are not kept in Trials; the imbalance in each stratum is at most
    # half the largest block in each of its 4 centres
    for s in range(2):
        sel = trials.stratum == s
        imbalance = np.abs((trials.treated & sel).sum(1) - (~trials.treated & sel).sum(1))
        assert imbalance.max() <= 4 * 3
    simple = simulate(scenario(**base, randomisation={"method": "simple"}).patient,
                      100, 100, 1, 0, 256)
    treated = simple.treated.sum(1)
    assert abs(treated.mean() - 100) <= 3 * np.sqrt(50 / 256)
    assert treated.std() > 5


def test_unequal_allocation_blocks_hold_the_ratio():
    sc = scenario(allocation=2, randomisation={"method": "block"})
    assert sc.patient.block_sizes == (3, 6)
    trials = simulate(sc.patient, 120, 60, 1, 0, 100)
    # the last block may be incomplete: off by at most its share (4 of 6)
    assert np.abs(trials.treated.sum(1) - 120).max() <= 4
    assert (trials.treated.sum(1) != 120).any()
    threes = scenario(allocation=2, randomisation={"method": "block", "block_sizes": [3]})
    assert (simulate(threes.patient, 120, 60, 1, 0, 100).treated.sum(1) == 120).all()


def _assign_reference(model, n_t, stratum, centre, rng):
    """The randomisation as first written (a stable sort down the women axis),
    the reference for the faster one (same streams, same women treated)."""
    keys = rng["assignment"].random(stratum.shape)
    if model.randomisation == "simple":
        return keys < model.allocation_share
    n, t = stratum.shape
    if model.randomisation == "stratified_block":
        groups = len(model.centre_weights) * len(model.strata)
        group = stratum * len(model.centre_weights) + centre
    else:
        groups, group = 1, np.zeros_like(stratum)
    size = np.bincount((np.arange(t) * groups + group).ravel(),
                       minlength=t * groups).reshape(t, groups)
    if model.randomisation == "fixed":
        quota = np.full((t, 1), n_t)
    else:
        sizes = np.asarray(model.block_sizes)
        per_block = np.round(sizes * model.allocation_share).astype(np.int64)
        remaining, quota = size.copy(), np.zeros_like(size)
        blocks = rng["blocks"]
        while (remaining > 0).any():
            pick = blocks.integers(len(sizes), size=size.shape)
            block, treated = sizes[pick], per_block[pick]
            full = block <= remaining
            quota += np.where(full, treated, 0)
            last = ~full & (remaining > 0)
            if last.any():
                quota[last] += blocks.hypergeometric(treated[last], (block - treated)[last],
                                                     remaining[last])
            remaining = np.where(full, remaining - block, 0)
    order = np.argsort(group + keys, axis=0, kind="stable")
    sorted_group = np.take_along_axis(group, order, axis=0)
    start = np.cumsum(size, axis=1) - size
    trial = np.arange(t)
    rank = np.arange(n)[:, None] - start[trial, sorted_group]
    treated = np.empty((n, t), dtype=bool)
    np.put_along_axis(treated, order, rank < quota[trial, sorted_group], axis=0)
    return treated


@pytest.mark.parametrize("method,allocation,block_sizes", [
    ("stratified_block", 1, [4, 6]), ("stratified_block", 2, [3, 6]), ("block", 1, [4]),
    ("block", 1, [2, 4, 8]), ("fixed", 1, None), ("simple", 1, None)])
def test_randomisation_equals_the_reference(method, allocation, block_sizes):
    """Same women treated as the reference, woman by woman, at several sizes
    (including groups of one woman and groups larger than many blocks)."""
    from simulator.engines.patients import _assign, _streams
    from simulator.models.population import category
    rand = {"method": method} | ({"block_sizes": block_sizes} if block_sizes else {})
    model = scenario(arms=None, population={"strata": STRATA}, allocation=allocation,
                     centres={"number": 8, "relative_rates": [2, 2, 1.5, 1, 1, 1, 0.75, 0.5]},
                     randomisation=rand).patient
    weights = np.asarray(model.centre_weights)
    for n_t, n_c, block in [(2, 1, 0), (30, 15, 1), (75, 75, 2), (400, 200, 3)]:
        if allocation == 1:
            n_c = n_t
        shape = (n_t + n_c, 64)
        rng = _streams(11, block, 0)
        stratum = category(np.cumsum(model.shares)[:-1], rng["stratum"].random(shape))
        centre = category(np.cumsum(weights / weights.sum())[:-1], rng["centre"].random(shape))
        fresh = _streams(11, block, 0)
        fast = _assign(model, n_t, stratum, centre, fresh["assignment"].random(shape),
                       fresh["blocks"])
        slow = _assign_reference(model, n_t, stratum, centre, _streams(11, block, 0))
        assert fast.shape == slow.shape
        assert np.array_equal(fast, slow), (n_t, n_c)


def test_ties_keep_the_order_of_the_women():
    """Equal sort keys (random keys almost never tie) are ranked by position,
    as a stable sort does."""
    from simulator.engines.patients import _stable_argsort
    keys = np.random.default_rng(2).integers(0, 5, size=(50, 40)).astype(float)
    order, tied = _stable_argsort(keys)
    assert tied
    np.testing.assert_array_equal(order, np.argsort(keys, axis=1, kind="stable"))
    keys = np.random.default_rng(2).random((50, 40))
    order, tied = _stable_argsort(keys)
    assert not tied
    np.testing.assert_array_equal(order, np.argsort(keys, axis=1, kind="stable"))


def test_randomisation_with_equal_keys_equals_the_reference():
    """Keys that tie (and keys rounded up to the next group's value) take the
    path that reads each place's group; the same women as the reference."""
    from simulator.engines.patients import _assign, _streams
    model = scenario(arms=None, population={"strata": STRATA}, centres={"number": 4},
                     randomisation={"method": "stratified_block", "block_sizes": [4, 6]}
                     ).patient
    rng = _streams(3, 0, 0)
    shape = (90, 64)
    stratum = (rng["stratum"].random(shape) < 0.4).astype(np.intp)
    centre = rng["centre"].integers(0, 4, shape)
    one = rng["assignment"].random(shape)
    one[0] = 1 - 2 ** -53               # group + key rounds up to the next group's value
    for keys in (np.round(rng["assignment"].random(shape) * 4) / 4,     # ties
                 np.where(rng["assignment"].random(shape) < 0.1, 1 - 2 ** -53,
                          rng["assignment"].random(shape)),             # rounded up, tied
                 one):                                                  # rounded up alone
        fast = _assign(model, 45, stratum, centre, keys, _streams(3, 1, 0)["blocks"])
        slow = _assign_reference(model, 45, stratum, centre,
                                 {"assignment": _Keys(keys), "blocks": _streams(3, 1, 0)["blocks"]})
        assert np.array_equal(fast, slow)


class _Keys:
    """Stands for the assignment stream: gives fixed keys."""

    def __init__(self, keys):
        self.keys = keys

    def random(self, shape):
        assert shape == self.keys.shape
        return self.keys


# -------------------------------------------------------- reproducibility, CRN
@pytest.mark.slow
def test_counts_are_identical_for_any_number_of_jobs():
    from simulator.engines.patients import _batches
    assert len(_batches(1200, 3000)) >= 4             # several tasks to spread
    sc = scenario(population={"strata": STRATA}, arms=None, centres={"number": 3,
                                                                     "sd_log_odds": 0.3})
    one = counts(sc, 600, 600, 3000, jobs=1)
    two = counts(sc, 600, 600, 3000, jobs=2)
    assert np.array_equal(one.counts, two.counts) and np.array_equal(one.outcomes, two.outcomes)


def test_trials_are_nested_across_sizes():
    """Woman i of trial t has the same stratum, covariates and outcome uniform
    at every size (common random numbers): with equal rates in both arms her
    outcome does not depend on her arm, so it is the same at both sizes."""
    strata = {"a": {"share": 0.6, "control": 0.4, "treatment": 0.4},
              "b": {"share": 0.4, "control": 0.2, "treatment": 0.2}}
    sc = scenario(population={"strata": strata, "covariates": {"age": AGE}}, arms=None,
                  centres={"number": 4, "sd_log_odds": 0.3})
    small = simulate(sc.patient, 30, 30, 4, 2, 50)
    large = simulate(sc.patient, 80, 80, 4, 2, 50)
    assert np.array_equal(small.stratum, large.stratum[:, :60])
    assert np.array_equal(small.covariates[0], large.covariates[0][:, :60])
    assert np.array_equal(small.live_birth, large.live_birth[:, :60])


def test_sizes_simulated_together_count_as_each_alone():
    """A run of sizes drawn once for the largest (nested trials) gives each
    size the counts it gets evaluated alone, in every analysis."""
    from simulator.engines.patients import RUN_SIZES, _runs
    sc = scenario(population={"strata": STRATA, "covariates": {"age": dict(AGE, resolution=1)}},
                  arms=None, centres={"number": 3, "sd_log_odds": 0.3},
                  randomisation={"method": "stratified_block", "block_sizes": [4, 6]},
                  outcomes={"miscarriage": {"control": 0.3, "treatment": 0.2}},
                  adherence={"treatment_not_receiving": 0.1, "control_receiving": 0.05},
                  dropout={"share": 0.1, "handling": "as_failure"},
                  analysis={"primary": "logistic", "adjust": ["stratum", "age"]})
    sizes = [(40, 40), (31, 31), (35, 35), (30, 30), (44, 44), (60, 30), (90, 90)]
    runs = _runs(sizes)
    assert sorted(i for run in runs for i in run) == list(range(len(sizes)))
    assert max(map(len, runs)) <= RUN_SIZES and any(len(run) > 1 for run in runs)
    a = sc.analysis
    together = simulate_counts(sc.patient, sizes, 600, 3, a.test, a.sided, a.alpha)
    for i, size in enumerate(sizes):
        alone = simulate_counts(sc.patient, [size], 600, 3, a.test, a.sided, a.alpha)
        assert np.array_equal(together.counts[i], alone.counts[0]), size
        assert np.array_equal(together.outcomes[i], alone.outcomes[0]), size
    prior = simulate_counts(sc.patient, sizes[:3], 300, 3, a.test, a.sided, a.alpha, "prior")
    for i, size in enumerate(sizes[:3]):
        alone = simulate_counts(sc.patient, [size], 300, 3, a.test, a.sided, a.alpha, "prior")
        assert np.array_equal(prior.counts[i], alone.counts[0]), size


def test_large_trials_use_smaller_blocks_within_the_memory_bound():
    from simulator.engines.patients import BATCH_WOMEN, _batches, block_trials
    assert block_trials(400) == 256
    for n in (5000, 20_000, 200_000, 3_000_000):
        assert block_trials(n) * n <= max(BATCH_WOMEN, n)
        assert sum(m for batch in _batches(n, 1000) for _, m in batch) == 1000
    # batches as few as the bound allows, of equal numbers of blocks (within one)
    for n, n_sims in [(150, 10_000), (400, 10_000), (5000, 1000), (60, 257), (4096, 256)]:
        batches = _batches(n, n_sims)
        blocks = [k for batch in batches for k, _ in batch]
        assert blocks == list(range(len(blocks)))
        per_batch = max(1, BATCH_WOMEN // (n * block_trials(n)))
        assert len(batches) == -(-len(blocks) // per_batch)
        assert max(map(len, batches)) - min(map(len, batches)) <= 1
        assert all(n * sum(m for _, m in batch) <= max(BATCH_WOMEN, n * block_trials(n))
                   for batch in batches)
    assert [len(batch) for batch in _batches(150, 10_000)] == [20, 20]


@pytest.mark.parametrize("primary", ["cmh", "logistic"])
def test_assurance_counts_only_rejections_in_favour_of_treatment(primary):
    """Treatment clearly worse: the analyses reject, but not in its favour."""
    worse = {"a": {"share": 0.6, "control": 0.6, "treatment": 0.3},
             "b": {"share": 0.4, "control": 0.5, "treatment": 0.2}}
    sc = scenario(arms=None, population={"strata": worse}, analysis={"primary": primary})
    result = counts(sc, 150, 150, 2000)
    assert result.rate(primary)[0][0] > 0.9
    assert result.rate(primary, "favourable")[0][0] == 0
    better = scenario(arms=None, population={"strata": {
        k: dict(v, control=v["treatment"], treatment=v["control"]) for k, v in worse.items()}},
        analysis={"primary": primary})
    result = counts(better, 150, 150, 2000)
    assert np.array_equal(result.rate(primary)[0], result.rate(primary, "favourable")[0])


def test_a_covariate_shifted_in_location_gives_the_same_decisions():
    """Age as year of birth (mean 1987) or as age (mean 37): same women, same
    fits of the arm, same decisions; the estimability rule does not depend on
    where a covariate's values lie."""
    def run_with(mean):
        age = dict(AGE, mean=mean, lower=mean - 12, upper=mean + 8, resolution=1)
        return counts(scenario(arms=None, population={"strata": STRATA, "covariates": {
            "age": age}}, analysis={"primary": "logistic"}), 150, 150, 1000)
    shifted, plain = run_with(1987), run_with(37)
    assert np.array_equal(shifted.counts, plain.counts)
    assert shifted.counts[0, 2, 2] == 0                  # no logistic fit flagged


@pytest.mark.slow
def test_run_reports_every_analysis_and_recruitment():
    sc = load_scenario("multicentre", {"simulation.n_sims": 600, "sample_size.n_control": 80})
    result = run(sc)
    patient = result.patient
    assert [a.name for a in patient.analyses] == list(ANALYSES)
    assert patient.primary == "logistic"
    assert result.evaluated.power == patient.analysis("logistic").power
    assert result.type_one_error == patient.analysis("logistic").type_one_error
    from simulator.models.recruitment import centres_needed, duration
    rec = sc.patient.recruitment
    assert patient.duration == duration(rec, 160)
    assert patient.centres_needed == centres_needed(rec, 160, 24.0, 0.8)
    # secondary outcomes: live births + miscarriages + transfer failures = women
    for arm in ("treatment", "control"):
        o = patient.outcomes[arm]
        assert o["live_birth"] + o["miscarriage"] + o["transfer_failure"] == pytest.approx(1)
    # miscarriage is a quarter of the women without a live birth
    o = patient.outcomes["control"]
    n = 600 * o["women_with_outcome_per_trial"]
    q = 0.25 * (1 - o["live_birth"])
    assert abs(o["miscarriage"] - q) <= 3 * np.sqrt(q * (1 - q) / n) + 1e-3
    d = result.to_dict()
    assert d["patient_level"]["recruitment"]["centres_needed"] == patient.centres_needed
    assert d["sample_size"] is None and d["evaluated"]["n_per_arm"]["control"] == 80


# ------------------------------------------------------------------- validation
@pytest.mark.parametrize("extra,field,message", [
    ({"population": {"strata": {"a": {"share": 0.5, "control": 0.2, "treatment": 0.3}}}},
     "population.strata", "shares must sum to 1; they sum to 0.5"),
    ({"population": {"strata": {"a": {"share": 1, "control": 0.2, "treatmnt": 0.3}}}},
     "population.strata.a.treatmnt", "did you mean `treatment`?"),
    ({"population": {"strata": {"a": {"share": 1, "control": 1.2, "treatment": 0.3}}}},
     "population.strata.a.control", "must be a probability in [0, 1]"),
    ({"population": {"covariates": {"age": {"distribution": "normal", "mean": 37}}}},
     "population.covariates.age.sd", "must be a positive number"),
    ({"randomisation": {"method": "block", "block_sizes": [5]}},
     "randomisation.block_sizes", "must hold the allocation 1:1 exactly"),
    ({"centres": {"number": 3, "relative_rates": [1, 2]}},
     "centres.relative_rates", "must give one rate per centre (3); got 2"),
    ({"recruitment": {"target_months": 12}}, "recruitment.target_months",
     "needs `recruitment.per_centre_month`"),
    ({"analysis": {"primary": "logistic", "adjust": ["bmi"]}}, "analysis.adjust",
     "names 'bmi', which is not in the model"),
    ({"centres": {"number": 2}, "simulation": {"method": "exact"}}, "simulation.method",
     "patient-level model"),
    ({"dropout": {"share": 0.1, "handling": "itt"}}, "dropout.handling",
     "must be one of complete_case, as_failure"),
    ({"adherence": {"treatment_not_receiving": 0.6, "control_receiving": 0.5}}, "adherence",
     "must add up to less than 1"),
    ({"randomisation": {"method": "block"}, "allocation": 0.37}, "allocation",
     "fits no block of 50 women or fewer"),
    ({"population": {"covariates": {"age": dict(AGE, resolution=1.0e-9)}}},
     "population.covariates.age.resolution", "at most 10,000 recorded values"),
    ({"population": {"covariates": {"age": dict(AGE, lower=38, upper=38.5, resolution=4)}}},
     "population.covariates.age.resolution", "at least two recorded values"),
    ({"population": {"covariates": {"e": {"distribution": "categorical", "levels": ["a", "b"],
                                          "probabilities": [1, 0], "log_odds": [0, 1]}}}},
     "population.covariates.e.probabilities", "positive probabilities"),
    ({"population": {"covariates": {"age": dict(AGE, log_odds_per_unit=-1)}}},
     "population.covariates.age.log_odds_per_unit", "at most 3"),
    ({"population": {"covariates": {f"e{i}": {
        "distribution": "categorical", "levels": ["a", "b"], "probabilities": [0.02, 0.98],
        "log_odds": [0, 5]} for i in range(6)}},
      "arms": {"control": {"rate": 0.02}, "treatment": {"rate": 0.03}}},
     "population.covariates", "unreachable"),
])
def test_patient_level_errors_name_the_field(extra, field, message):
    raw = {"name": "p", "model": "patient",
           "arms": {"control": {"rate": 0.3}, "treatment": {"rate": 0.5}}}
    raw.update(extra)
    with pytest.raises(ScenarioError) as err:
        load_scenario(raw)
    assert err.value.field == field and message in str(err.value), str(err.value)


def test_no_woman_with_an_outcome_is_reported_not_a_crash():
    sc = load_scenario({"name": "p", "model": "patient", "arms": {"control": {"rate": 0.3},
        "treatment": {"rate": 0.5}}, "dropout": 0.995, "centres": {"number": 2},
        "sample_size": {"n_control": 1}, "simulation": {"n_sims": 100}})
    result = run(sc)
    assert result.patient.outcomes["control"]["live_birth"] in (None, 0.0, 1.0)


def test_strata_replace_the_arms_rates():
    with pytest.raises(ScenarioError) as err:
        load_scenario({"name": "p", "model": "patient", "population": {"strata": STRATA},
                       "arms": {"control": {"rate": 0.3}, "treatment": {"rate": 0.5}}})
    assert err.value.field == "arms.control.rate"
    sc = load_scenario({"name": "p", "model": "patient", "population": {"strata": STRATA},
                        "arms": {}})
    assert sc.control.rate == pytest.approx(0.62 * 0.39 + 0.38 * 0.20)
    assert sc.treatment.rate == pytest.approx(0.62 * 0.60 + 0.38 * 0.69)


def test_a_scenario_without_patient_level_keys_stays_on_the_exact_path():
    sc = scenario()
    assert sc.patient is None
    assert load_scenario("severe").patient is None
    assert load_scenario("multicentre").patient is not None


@pytest.mark.parametrize("key, value", [
    ("analysis.primary", "logistic"), ("analysis.logistic_test", "likelihood_ratio"),
    ("centres.number", 3), ("population.covariates", {"age": AGE}),
    ("adherence.control_receiving", 0.1), ("randomisation.method", "block"),
    ("dropout", {"share": 0.1, "handling": "as_failure"})])
def test_the_patient_level_model_is_never_switched_on_silently(key, value):
    """A patient-level key on a 2x2 scenario used to switch the run to the
    patient-level simulation without a word (severe: 24 per arm exact, 25 by
    simulation with `analysis.primary: logistic`); now it needs `model:
    patient`, and the error names the key."""
    with pytest.raises(ScenarioError) as err:
        load_scenario("severe", {key: value})
    assert err.value.field in (key, "dropout.handling") and "model: patient" in str(err.value)
    sc = load_scenario("severe", {key: value, "model": "patient"})
    assert sc.patient is not None
