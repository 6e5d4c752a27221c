"""Batched logistic regression and the CMH test agree with statsmodels, trial by
trial; separated or degenerate trials are flagged and never reject."""
import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.tools import sm_exceptions

from simulator.stats.adjusted import _cmh_score, cmh_pvalues, fit_logistic, logistic_pvalues

ARM = 1  # column of the treatment arm in every design below


def simulate(rng, trials, n, log_or=0.8, centre=True):
    """Designs (trials, n, 4): intercept, arm (balanced, randomised), stratum
    dummy (P = 0.4), age ~ N(38, 4) in years (centred at 38 or not); live birth
    with control rate 0.3 in stratum 0 (0.22 in stratum 1), odds ratio exp(log_or)."""
    arm = rng.permuted(np.tile(np.repeat([0.0, 1.0], n // 2), (trials, 1)), axis=1)
    stratum = (rng.random((trials, n)) < 0.4).astype(float)
    age = rng.normal(38.0, 4.0, (trials, n))
    eta = np.log(0.3 / 0.7) + log_or * arm - 0.4 * stratum - 0.05 * (age - 38.0)
    y = rng.random((trials, n)) < 1.0 / (1.0 + np.exp(-eta))
    X = np.stack([np.ones((trials, n)), arm, stratum, age - 38.0 if centre else age], axis=2)
    return X, y


def sm_fit(X, y):
    return sm.Logit(np.asarray(y, float), X).fit(disp=0, method="newton", tol=1e-12, maxiter=100)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(20240601)
    X1, y1 = simulate(rng, 100, 400, centre=True)
    X2, y2 = simulate(rng, 100, 400, centre=False)   # uncentred age: ill-conditioned X'X
    return np.concatenate([X1, X2]), np.concatenate([y1, y2])


@pytest.fixture(scope="module")
def reference(data):
    X, y = data
    full = [sm_fit(X[i], y[i]) for i in range(len(X))]
    reduced = [sm_fit(np.delete(X[i], ARM, axis=1), y[i]) for i in range(len(X))]
    return full, reduced


def test_fit_matches_statsmodels(data, reference):
    X, y = data
    full, reduced = reference
    fit = fit_logistic(X, y)
    assert fit.estimable.all()
    assert fit.iterations <= 8
    np.testing.assert_allclose(fit.coef, [r.params for r in full], rtol=1e-6)
    np.testing.assert_allclose(fit.se, [r.bse for r in full], rtol=1e-6)
    np.testing.assert_allclose(fit.loglik, [r.llf for r in full], rtol=1e-10)
    # statsmodels' Wald p-values of every coefficient, from our coef / se.  No
    # atol: the smallest p here is ~2e-10 and 2 * norm.sf(|z|) has relative error
    # ~z**2 * (relative error of z), far below 1e-6.
    sm_p = np.array([r.pvalues for r in full])
    assert sm_p.min() > 1e-300        # an atol would only be needed for underflow
    np.testing.assert_allclose(2 * stats.norm.sf(np.abs(fit.coef / fit.se)), sm_p, rtol=1e-6)


def test_pvalues_match_statsmodels(data, reference):
    X, y = data
    full, reduced = reference
    coef = np.array([r.params[ARM] for r in full])
    z = coef / np.array([r.bse[ARM] for r in full])
    lr = 2 * (np.array([r.llf for r in full]) - np.array([r.llf for r in reduced]))
    expected = {
        ("wald", "two"): np.array([r.pvalues[ARM] for r in full]),
        ("wald", "one"): stats.norm.sf(z),
        ("likelihood_ratio", "two"): stats.chi2.sf(lr, 1),
        ("likelihood_ratio", "one"): stats.norm.sf(np.sign(coef) * np.sqrt(lr)),
    }
    for (test, sided), ref in expected.items():
        pv, estimable, _ = logistic_pvalues(X, y, None, ARM, sided, test)
        assert estimable.all()
        np.testing.assert_allclose(pv, ref, rtol=1e-6, err_msg=f"{test} {sided}")
    # the data have a real effect: one-sided p-values are mostly the smaller half
    assert np.mean(expected[("wald", "one")] < 0.5) > 0.9


def test_absent_rows_are_dropped(data):
    X, y = data
    X, y = X[:40].copy(), y[:40].copy()
    rng = np.random.default_rng(7)
    weight = (rng.random(y.shape) > 0.15).astype(int)
    X[weight == 0] = np.nan                      # what an absent row holds must not matter
    y = y.astype(float)
    y[weight == 0] = np.nan
    fit = fit_logistic(X, y, weight)
    pv, _, _ = logistic_pvalues(X, y, weight, ARM, "two", "likelihood_ratio")
    assert fit.estimable.all()
    for i in range(len(X)):
        keep = weight[i] == 1
        r = sm_fit(X[i, keep], y[i, keep])
        r0 = sm_fit(np.delete(X[i, keep], ARM, axis=1), y[i, keep])
        np.testing.assert_allclose(fit.coef[i], r.params, rtol=1e-6)
        np.testing.assert_allclose(fit.se[i], r.bse, rtol=1e-6)
        np.testing.assert_allclose(fit.loglik[i], r.llf, rtol=1e-10)
        np.testing.assert_allclose(pv[i], stats.chi2.sf(2 * (r.llf - r0.llf), 1), rtol=1e-6)
    ones = fit_logistic(data[0][:40], data[1][:40], np.ones(y.shape))
    np.testing.assert_array_equal(ones.coef, fit_logistic(data[0][:40], data[1][:40]).coef)
    with pytest.raises(ValueError):
        fit_logistic(X, y, weight * 0.5)


def stratified(rng, trials):
    """Random stratified trials: 2 or 3 strata, 2 to 60 women per arm per stratum."""
    k = rng.choice([2, 3])
    n_t = rng.integers(2, 61, (trials, k))
    n_c = rng.integers(2, 61, (trials, k))
    p_c = rng.uniform(0.1, 0.7, (trials, k))
    odds = p_c / (1 - p_c) * np.exp(rng.normal(0.3, 0.5, (trials, 1)))
    return rng.binomial(n_t, odds / (1 + odds)), n_t, rng.binomial(n_c, p_c), n_c


def test_cmh_matches_statsmodels():
    rng = np.random.default_rng(11)
    for _ in range(8):                         # 8 batches of 25 = 200 data sets
        x_t, n_t, x_c, n_c = stratified(rng, 25)
        diff, var = _cmh_score(x_t, n_t, x_c, n_c)
        two, est_two = cmh_pvalues(x_t, n_t, x_c, n_c, "two")
        one, est_one = cmh_pvalues(x_t, n_t, x_c, n_c, "one")
        assert est_two.all() and est_one.all()
        for i in range(len(x_t)):
            tables = np.array([[x_t[i], n_t[i] - x_t[i]], [x_c[i], n_c[i] - x_c[i]]])
            ref = StratifiedTable(tables).test_null_odds(correction=False)
            np.testing.assert_allclose(diff[i] ** 2 / var[i], ref.statistic, rtol=1e-9)
            # statsmodels computes 1 - cdf: absolute rounding ~1e-16, so tiny
            # p-values are compared with the exact tail of its statistic instead
            np.testing.assert_allclose(two[i], ref.pvalue, rtol=1e-9, atol=1e-14)
            np.testing.assert_allclose(two[i], stats.chi2.sf(ref.statistic, 1), rtol=1e-9)
            signed = np.sign(np.sum(x_t[i] - n_t[i] * (x_t[i] + x_c[i]) / (n_t[i] + n_c[i])))
            np.testing.assert_allclose(one[i], stats.norm.sf(signed * np.sqrt(ref.statistic)),
                                       rtol=1e-9)


def test_cmh_degenerate_strata():
    # stratum 2 (1 woman), 3 (no events), 4 (all events), 5 (empty arm) add nothing
    x_t, n_t = np.array([[7, 1, 0, 5, 3]]), np.array([[20, 1, 8, 5, 6]])
    x_c, n_c = np.array([[3, 0, 0, 6, 0]]), np.array([[20, 0, 9, 6, 0]])
    expected = StratifiedTable(np.array([[[7], [13]], [[3], [17]]])).test_null_odds()
    pv, est = cmh_pvalues(x_t, n_t, x_c, n_c, "two")
    assert est.all()
    np.testing.assert_allclose(pv, expected.pvalue, rtol=1e-9)
    # nothing informative at all: not estimable, p = 1 (never a rejection)
    pv, est = cmh_pvalues(x_t[:, 1:], n_t[:, 1:], x_c[:, 1:], n_c[:, 1:], "one")
    assert not est.any() and (pv == 1.0).all()


def separation_batch():
    """Trial 0: perfect separation by arm; 1: quasi-complete separation (no live
    birth in stratum 1); 2: stratum 1 has no women (all-zero column); 3, 4: normal."""
    rng = np.random.default_rng(3)
    X, y = simulate(rng, 5, 120)
    X = X.copy()
    y = y.copy()
    y[0] = X[0, :, ARM] == 1
    y[1, X[1, :, 2] == 1] = False
    X[2, :, 2] = 0.0
    return X, y


def statsmodels_complaint(X, y):
    """The exception raised by statsmodels, or the set of warning classes it
    emitted plus "not converged" / "nan bse" when that happened."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = sm_fit(X, y)
        except Exception as exc:              # PerfectSeparationError, LinAlgError
            return type(exc)
    complaint = {w.category for w in caught}
    if not result.mle_retvals["converged"]:
        complaint.add("not converged")
    if not np.isfinite(result.bse).all():
        complaint.add("nan bse")
    return complaint


def test_separation_and_degenerate_columns_are_not_estimable():
    X, y = separation_batch()
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # no RuntimeWarning may escape
        fit = fit_logistic(X, y)
        pvalues = {(t, s): logistic_pvalues(X, y, None, ARM, s, t)
                   for t in ("wald", "likelihood_ratio") for s in ("two", "one")}
    np.testing.assert_array_equal(fit.estimable, [False, False, False, True, True])
    assert np.isnan(fit.se[:3]).all()
    for pv, est, _ in pvalues.values():
        np.testing.assert_array_equal(est, fit.estimable)
        assert (pv[:3] == 1.0).all() and (pv[3:] < 1.0).all()
    # the normal trials get exactly what they get when fitted alone
    alone = fit_logistic(X[3:], y[3:])
    np.testing.assert_allclose(fit.coef[3:], alone.coef, rtol=1e-12)
    np.testing.assert_allclose(fit.se[3:], alone.se, rtol=1e-12)
    for (t, s), (pv, _, _) in pvalues.items():
        np.testing.assert_allclose(pv[3:], logistic_pvalues(X[3:], y[3:], None, ARM, s, t)[0],
                                   rtol=1e-12)

    # statsmodels fails on the same trials: perfect separation is detected
    # (an error in old versions, a warning since 0.14) ...
    perfect = tuple(getattr(sm_exceptions, name) for name in
                    ("PerfectSeparationError", "PerfectSeparationWarning")
                    if hasattr(sm_exceptions, name))
    complaint = statsmodels_complaint(X[0], y[0])
    assert (complaint in perfect if isinstance(complaint, type)
            else any(issubclass(c, perfect) for c in complaint if isinstance(c, type)))
    # ... quasi-complete separation is not "perfect" to it, but it cannot converge
    complaint = statsmodels_complaint(X[1], y[1])
    assert isinstance(complaint, type) or "not converged" in complaint
    # ... and the all-zero column makes its Hessian singular
    complaint = statsmodels_complaint(X[2], y[2])
    assert complaint is np.linalg.LinAlgError or "nan bse" in complaint
    for i in (3, 4):
        assert statsmodels_complaint(X[i], y[i]) == set()


def test_column_empty_among_analysed_rows_is_not_estimable():
    X, y = separation_batch()
    weight = np.ones(y.shape, dtype=int)
    weight[3, X[3, :, 2] == 1] = 0               # trial 3 loses every woman of stratum 1
    weight[4, :] = 0                             # trial 4 has nobody at all
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_logistic(X[3:], y[3:], weight[3:])
        pv, est, _ = logistic_pvalues(X[3:], y[3:], weight[3:], ARM, "two")
    assert not fit.estimable.any() and not est.any() and (pv == 1.0).all()


def test_rank_check_by_determinant_equals_the_eigenvalue_rule():
    """The scaled information passes the RCOND_MIN rule (smallest over largest
    eigenvalue) for the same trials whether or not the determinant settles
    it first: well-conditioned, ill-conditioned (uncentred age), nearly and
    exactly collinear, empty and non-finite informations."""
    from simulator.stats.adjusted import RCOND_MIN, _scaled
    rng = np.random.default_rng(5)
    X, _ = simulate(rng, 60, 40, centre=False)
    X = np.concatenate([X, X, X, X])
    X[60:120, :, 2] = X[60:120, :, 1] + 1e-7 * rng.standard_normal((60, 40))   # near
    X[120:180, :, 2] = X[120:180, :, 1]                                          # exact
    X[180:240:2, :, 2] = 0.0                                                     # empty
    w = rng.random((240, 40)) * 0.25
    H = np.einsum("bni,bn,bnj->bij", X, w, X)
    H[200] = np.nan
    H[201, 0, 0] = np.inf
    with np.errstate(all="ignore"):         # as inside fit_logistic
        Hs, d, good = _scaled(H.copy())
    diag = np.diagonal(H, axis1=1, axis2=2)
    with np.errstate(invalid="ignore"):
        scaled = H / np.sqrt(diag[:, :, None] * diag[:, None, :])
        usable = np.all(diag > 0, axis=1) & np.all(np.isfinite(scaled), axis=(1, 2))
    ev = np.linalg.eigvalsh(np.where(usable[:, None, None], scaled, np.eye(4)))
    expected = usable & (ev[:, 0] > RCOND_MIN * ev[:, -1])
    np.testing.assert_array_equal(good, expected)
    assert good[:60].all() and not good[120:180].any() and not good[200:202].any()
    np.testing.assert_array_equal(Hs[~good], np.broadcast_to(np.eye(4), Hs[~good].shape))


def test_largest_eta_compares_with_its_limit_as_the_masked_maximum():
    """Compared with its limit, the largest |eta| among analysed rows is what
    the masked maximum gives, with extreme or nan values in analysed and in
    empty rows."""
    from simulator.stats.adjusted import _largest_eta
    rng = np.random.default_rng(8)
    eta = rng.normal(0, 8, (400, 30))
    m = rng.integers(0, 3, (400, 30)).astype(float)
    eta[::7, 3] = 45.0                      # beyond, analysed or not
    eta[::11, 5] = -np.inf
    eta[::13, 8] = np.nan
    m[:, 0] = 0.0
    eta[::5, 0] = 1e3                       # beyond, in an empty row only
    with np.errstate(invalid="ignore"):
        masked = np.max(np.where(m > 0, np.abs(eta), 0.0), axis=1)
        for limit in (20.0, 30.0):
            got = _largest_eta(eta, m, limit)
            np.testing.assert_array_equal(got > limit, masked > limit)
            np.testing.assert_array_equal(got <= limit, masked <= limit)


@pytest.mark.slow
def test_null_calibration():
    rng = np.random.default_rng(99)
    trials, alpha = 4000, 0.05
    X, y = simulate(rng, trials, 400, log_or=0.0)
    se = np.sqrt(alpha * (1 - alpha) / trials)
    for test in ("wald", "likelihood_ratio"):
        pv, est, _ = logistic_pvalues(X, y, None, ARM, "two", test)
        assert est.all()
        rate = np.mean(pv <= alpha)
        assert alpha - 4 * se <= rate <= alpha + 3 * se, (test, rate)
