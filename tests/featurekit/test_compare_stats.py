"""The comparison's statistics against independent references, and seeded error rates.

McNemar against statsmodels, DeLong against the O(n²) Mann–Whitney form written out
here, the bootstrap interval against scipy's, Holm against statsmodels. The seeded
simulations are small versions of ``bench/compare_power.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import bootstrap as scipy_bootstrap
from scipy.stats import norm
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from featurekit.comparing.metrics import metric_named
from featurekit.comparing.paired import paired
from featurekit.comparing.stats import delong, holm, mcnemar


@pytest.mark.parametrize(("b", "c"), [(0, 0), (3, 9), (40, 41), (120, 80), (1, 0)])
def test_mcnemar_p_value_matches_statsmodels_exact(b, c):
    a_right = np.array([True] * b + [False] * c + [True] * 50 + [False] * 7)
    z_right = np.array([False] * b + [True] * c + [True] * 50 + [False] * 7)
    got = mcnemar(a_right, z_right)
    ref = sm_mcnemar([[50, b], [c, 7]], exact=True)
    assert (got["b"], got["c"]) == (b, c)
    assert got["statistic"] == pytest.approx(ref.statistic)
    assert got["p_value"] == pytest.approx(ref.pvalue, rel=1e-12)


def test_mcnemar_one_sided_p_values_are_binomial_tails():
    got = mcnemar(np.array([1] * 3 + [0] * 9, bool), np.array([0] * 3 + [1] * 9, bool))
    # P(C >= 9 | 12 discordant, p = 1/2) = (C(12,9)+C(12,10)+C(12,11)+C(12,12)) / 2**12
    assert got["p_greater"] == pytest.approx((220 + 66 + 12 + 1) / 4096)
    assert got["p_less"] == pytest.approx(1 - (66 + 12 + 1) / 4096)


@pytest.mark.parametrize(("b", "c"), [(3, 9), (9, 3), (5, 5), (0, 4), (800, 870)])
def test_mcnemar_mid_p_is_the_exact_tail_less_half_the_observed_count(b, c):
    """Lancaster's mid-p, from integer binomial coefficients (no scipy)."""
    from fractions import Fraction
    from math import comb

    got = mcnemar(np.array([1] * b + [0] * c, bool), np.array([0] * b + [1] * c, bool))
    n = b + c
    point = Fraction(comb(n, c), 2**n)
    upper = Fraction(sum(comb(n, k) for k in range(c, n + 1)), 2**n)
    lower = Fraction(sum(comb(n, k) for k in range(c + 1)), 2**n)
    assert got["p_greater_mid"] == pytest.approx(float(upper - point / 2), rel=1e-9)
    assert got["p_less_mid"] == pytest.approx(float(lower - point / 2), rel=1e-9)
    assert got["p_greater_mid"] < got["p_greater"]


def test_the_decision_reads_the_mid_p():
    """801 vs 869 discordant rows: exact one-sided p 0.0505 (keep), mid-p 0.0481."""
    y = np.zeros(1670 + 3330, dtype=np.int64)
    champ = np.zeros_like(y)  # predicted labels: 0 is right, 1 is wrong
    chall = np.zeros_like(y)
    champ[:869] = 1  # the challenger alone is right on 869 rows
    chall[869:1670] = 1  # the champion alone on 801
    got = paired(metric_named("accuracy"), y, {"label": champ}, {"label": chall})
    assert got["test"] == "McNemar mid-p"
    assert got["p_better_exact"] > 0.05 > got["p_better"]


def _reference_delong(y: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> tuple:
    """DeLong (1988) written out: the Mann–Whitney kernel over every pair, O(n²)."""
    pos, neg = y == 1, y == 0

    def components(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, w = s[pos][:, None], s[neg][None, :]
        psi = (x > w) + 0.5 * (x == w)
        return psi.mean(axis=1), psi.mean(axis=0)

    (v10a, v01a), (v10b, v01b) = components(s1), components(s2)
    m, n = pos.sum(), neg.sum()
    s10 = np.cov(np.vstack([v10a, v10b]))
    s01 = np.cov(np.vstack([v01a, v01b]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (
        s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]
    ) / n
    diff = v10b.mean() - v10a.mean()
    z = diff / np.sqrt(var)
    return v10a.mean(), v10b.mean(), np.sqrt(var), z, 2 * norm.sf(abs(z))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_matches_the_pairwise_reference_and_sklearn_auc(seed):
    rng = np.random.default_rng(seed)
    n = 300
    y = (rng.random(n) < 0.35).astype(int)
    s1 = np.round(y * 0.8 + rng.normal(size=n), 1)  # rounded: ties on purpose
    s2 = np.round(y * 1.1 + rng.normal(size=n), 1)
    got = delong(y == 1, s1, s2)
    auc1, auc2, se, z, p = _reference_delong(y, s1, s2)
    assert got["champion"] == pytest.approx(roc_auc_score(y, s1), abs=1e-12)
    assert got["challenger"] == pytest.approx(roc_auc_score(y, s2), abs=1e-12)
    assert (got["champion"], got["challenger"]) == pytest.approx((auc1, auc2))
    assert got["se"] == pytest.approx(se, rel=1e-9)
    assert got["statistic"] == pytest.approx(z, rel=1e-9)
    assert got["p_value"] == pytest.approx(p, rel=1e-9)


def test_delong_without_both_classes_names_the_counts():
    with pytest.raises(ValueError, match="3 positive and 0 negative"):
        delong(np.ones(3, bool), np.arange(3.0), np.arange(3.0))


def test_paired_bootstrap_interval_agrees_with_scipy():
    rng = np.random.default_rng(5)
    n = 800
    y = (rng.random(n) < 0.4).astype(int)
    p1 = np.clip(0.4 + 0.3 * (y - 0.4) + rng.normal(0, 0.15, n), 0.01, 0.99)
    p2 = np.clip(p1 + 0.05 * (2 * y - 1) + rng.normal(0, 0.05, n), 0.01, 0.99)
    a = {"probabilities": np.column_stack([1 - p1, p1])}
    b = {"probabilities": np.column_stack([1 - p2, p2])}
    got = paired(metric_named("log_loss"), y, a, b, replicates=4000, seed=1)
    assert got["champion"] == pytest.approx(log_loss(y, p1))
    assert got["challenger"] == pytest.approx(log_loss(y, p2))

    def improvement(labels, u, v, axis=-1):  # champion's loss minus the challenger's
        def loss(p):
            return -np.mean(np.log(np.where(labels == 1, p, 1 - p)), axis=axis)

        return loss(u) - loss(v)

    ref = scipy_bootstrap(
        (y, p1, p2),  # paired: the labels and both models' rows resampled together
        improvement,
        paired=True,
        vectorized=True,
        n_resamples=4000,
        confidence_level=0.90,  # the decision's one-sided 5 % bound
        method="percentile",
        rng=np.random.default_rng(2),
    )
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert got["ci_low"] == pytest.approx(ref.confidence_interval.low, abs=0.05 * width)
    assert got["ci_high"] == pytest.approx(
        ref.confidence_interval.high, abs=0.05 * width
    )
    assert got["se"] == pytest.approx(ref.standard_error, rel=0.08)


def test_brier_matches_sklearn():
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([0.1, 0.7, 0.4, 0.3, 0.9])
    out = {"probabilities": np.column_stack([1 - p, p])}
    assert metric_named("brier").value(y, out) == pytest.approx(brier_score_loss(y, p))


def test_holm_matches_statsmodels():
    p = np.random.default_rng(0).uniform(0, 0.2, 12)
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])


# -- seeded error rates (bench/compare_power.py runs the full-size simulation) ---------
def _correct_pairs(rng, n, acc_a, acc_b, discordance):
    """Paired hit vectors with the given accuracies and share of discordant rows."""
    d = acc_b - acc_a
    b = (discordance - d) / 2  # only the champion right
    c = (discordance + d) / 2  # only the challenger right
    both = acc_a - b
    cells = rng.choice(4, size=n, p=[both, b, c, 1 - both - b - c])
    return np.isin(cells, (0, 1)), np.isin(cells, (0, 2))


def _promoted(rng, n, acc_a, acc_b, discordance):
    right_a, right_b = _correct_pairs(rng, n, acc_a, acc_b, discordance)
    y = np.zeros(n, dtype=np.int64)
    a, b = {"label": 1 - right_a}, {"label": 1 - right_b}
    got = paired(metric_named("accuracy"), y, a, b, replicates=20)
    return got["p_better"] <= 0.05


def _promotion_rate(n, acc_b, discordance):
    """The decision's exact promotion rate, champion at 0.80: no simulation noise.

    For every number m of discordant rows (Binomial(n, discordance)), the smallest
    challenger count the comparison promotes at is found by asking `paired` itself;
    scipy's binomial law of that count then gives the rate.
    """
    from scipy.stats import binom

    c_share = (discordance + acc_b - 0.80) / 2 / discordance
    y = np.zeros(n, dtype=np.int64)
    total = 0.0
    for m in range(n + 1):
        w = binom.pmf(m, n, discordance)
        if w < 1e-12:
            continue
        lo, hi = 0, m + 1  # the promoting counts are a top range: bisect for it

        def promotes(c, m=m):
            champ, chall = np.zeros(n, np.int64), np.zeros(n, np.int64)
            champ[:c], chall[c:m] = 1, 1  # 1 is wrong: c rows only the challenger
            got = paired(
                metric_named("accuracy"),
                y,
                {"label": champ},
                {"label": chall},
                replicates=2,
            )
            return got["p_better"] <= 0.05

        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if promotes(mid) else (mid + 1, hi)
        total += w * float(binom.sf(lo - 1, m, c_share))
    return total


@pytest.mark.parametrize("discordance", [0.1, 0.2, 0.32])
def test_equal_models_are_promoted_at_most_five_percent_of_the_time(discordance):
    assert _promotion_rate(2000, 0.80, discordance) <= 0.05


def test_equal_models_simulated_agree():
    rng = np.random.default_rng(14)
    runs = [_promoted(rng, 2000, 0.8, 0.8, 0.2) for _ in range(1500)]
    # the decision's size is 5.0 % here (computed above); 1500 runs have a Monte
    # Carlo standard error of 0.56 points: a size of 7 % would fail this
    assert np.mean(runs) <= 0.05 + 2 * 0.0056


def test_independent_errors_two_point_gain_power_is_80_percent():
    """Two 80 % models with independent errors (32 % discordant), the hardest case."""
    assert _promotion_rate(5000, 0.82, 0.32) >= 0.80


def test_a_two_point_gain_is_found_at_5000_rows_at_least_80_percent_of_the_time():
    rng = np.random.default_rng(15)
    # a fifth of the rows discordant (two models of one family retrained)
    runs = [_promoted(rng, 5000, 0.80, 0.82, 0.2) for _ in range(150)]
    assert np.mean(runs) >= 0.8
