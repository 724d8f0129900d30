"""Each drift statistic against scipy's own implementation, on fixed data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr

from featurekit.monitoring import stats

RNG = np.random.default_rng(20261125)
# integer data: binning them on their own values loses nothing, so binned statistics
# must equal scipy's on the raw samples
A = RNG.integers(0, 12, 700)
B = np.clip(RNG.integers(0, 12, 450) + RNG.integers(0, 2, 450), 0, 11)
CA, CB = np.bincount(A, minlength=12), np.bincount(B, minlength=12)


def test_ks_equals_scipy_two_sample_statistic_and_limiting_p_value() -> None:
    d, p = stats.ks_test(CA, CB)
    ref = sps.ks_2samp(A, B, method="asymp")
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    en = len(A) * len(B) / (len(A) + len(B))
    assert p == pytest.approx(sps.kstwobign.sf(np.sqrt(en) * ref.statistic), rel=1e-12)
    # the limiting distribution is a little conservative next to scipy's finite-n one
    assert ref.pvalue <= p <= ref.pvalue * 1.25


def test_wasserstein_equals_scipy_on_data_at_the_edges() -> None:
    edges = np.arange(12.0)  # bin k (k >= 1) holds the value k - 1 at its lower edge
    w = stats.wasserstein(edges, np.r_[0, CA], np.r_[0, CB])
    assert w == pytest.approx(sps.wasserstein_distance(A, B), abs=1e-12)
    assert stats.wasserstein(
        edges, np.r_[0, CA], np.r_[0, CB], scale=2.0
    ) == pytest.approx(sps.wasserstein_distance(A, B) / 2)


def test_js_distance_equals_scipy_base_2() -> None:
    expected = jensenshannon(CA / CA.sum(), CB / CB.sum(), base=2)
    assert stats.js_distance(CA, CB) == pytest.approx(expected, abs=1e-12)


def test_psi_is_the_symmetrised_kl_divergence() -> None:
    p, q = CA / CA.sum(), CB / CB.sum()
    expected = float(np.sum(rel_entr(q, p) + rel_entr(p, q)))
    assert stats.psi(CA, CB) == pytest.approx(expected, rel=1e-12)


def test_chi2_equals_scipy_contingency_without_sparse_cells() -> None:
    stat, dof, p = stats.chi2_test(CA, CB)
    ref = sps.chi2_contingency(np.vstack([CA, CB]), correction=False)
    assert stat == pytest.approx(ref.statistic, rel=1e-12)
    assert dof == ref.dof
    assert p == pytest.approx(ref.pvalue, rel=1e-9)


def test_chi2_pools_sparse_cells_before_testing() -> None:
    ref = np.array([500, 300, 150, 3, 2, 1])
    cur = np.array([480, 320, 140, 2, 4, 0])
    stat, dof, p = stats.chi2_test(ref, cur)
    pooled = np.array([[500, 300, 150, 6], [480, 320, 140, 6]])
    expected = sps.chi2_contingency(pooled, correction=False)
    assert (stat, dof) == (pytest.approx(expected.statistic), expected.dof)
    assert p == pytest.approx(expected.pvalue)


def test_two_proportions_equals_the_2x2_chi_square() -> None:
    z, p = stats.two_proportions(12, 1000, 31, 800)
    table = np.array([[12, 988], [31, 769]])
    ref = sps.chi2_contingency(table, correction=False)
    assert z**2 == pytest.approx(ref.statistic, rel=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)


def test_mean_test_statistic_is_welchs() -> None:
    x, y = RNG.normal(0, 1, 400), RNG.normal(0.2, 1.5, 300)
    z, p = stats.mean_test(len(x), x.sum(), (x**2).sum(), len(y), y.sum(), (y**2).sum())
    ref = sps.ttest_ind(y, x, equal_var=False)
    assert z == pytest.approx(ref.statistic, rel=1e-9)
    # a z-test, so only close to Welch's t p-value at these sizes
    assert p == pytest.approx(ref.pvalue, rel=0.05)


def test_benjamini_hochberg_equals_scipy() -> None:
    p = RNG.uniform(0, 0.2, 25)
    np.testing.assert_allclose(
        stats.benjamini_hochberg(p), sps.false_discovery_control(p), rtol=1e-12
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: stats.ks_test([0, 0], [1, 2]),
        lambda: stats.chi2_test([0, 0], [3, 4]),
        lambda: stats.two_proportions(0, 0, 1, 5),
        lambda: stats.mean_test(1, 1.0, 1.0, 10, 5.0, 9.0),
    ],
)
def test_empty_or_tiny_samples_give_p_one(call) -> None:
    assert call()[-1] == 1.0
