"""The multivariate row's null: drawn at a few sizes, never more rows than the window.

A server's drift windows vary in size (a batch is never split across two windows), and
the null of the joint test is a bootstrap at a window size (about 15 ms at 1,000 rows).
Drawn per distinct size, windows of 1,000 to 1,063 rows would each cost one.
"""

from __future__ import annotations

import numpy as np

import featurekit.monitoring.joint as joint
from featurekit.monitoring.joint import null_size

SIZES = [20, 50, 100, 200, 500, 1000]


def test_a_window_is_tested_against_a_null_of_at_most_its_rows() -> None:
    for n in range(1, 20_000):
        m = null_size(n, SIZES)
        assert m <= n
        assert m >= n / 2 ** (1 / 16) - 1, (n, m)  # within one grid step
    for s in SIZES:  # the calibrated sizes themselves, exactly
        assert null_size(s, SIZES) == s


def test_windows_of_varying_size_share_a_few_nulls() -> None:
    rng = np.random.default_rng(0)
    errors = rng.chisquare(3, 2000)
    profile_joint = {
        "errors": errors.tolist(),
        "mean": float(errors.mean()),
        "std": float(errors.std()),
        "holdout_rows": 5000,
    }
    settings = {"sizes": SIZES, "bootstrap": 500}
    joint._NULLS.clear()
    drawn = {
        joint._null_at(profile_joint, n, settings).tobytes() for n in range(1000, 1064)
    }
    assert len(joint._NULLS) == len(drawn) == 2  # 1,000 rows, and 1,024
