"""Counts snapshots of offline data: output bins count only the rows that were scored."""

from __future__ import annotations

import numpy as np
import pytest

from featurekit.monitoring.counts import Counts
from featurekit.monitoring.profile import OUTPUT_SCORE, build_profile


def offline_counts() -> Counts:
    """Five rows counted, three scored (two refused by the contract)."""
    profile = build_profile(
        {"x": np.arange(100.0)}, {}, {"prediction": np.linspace(0, 1, 100)}
    )
    counts = Counts.empty(profile)
    counts.observe({"x": np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])})
    counts._outputs({"prediction": np.array([0.1, 0.5, 0.9])}, 3)
    return counts


def test_a_snapshot_with_refused_rows_round_trips():
    counts = offline_counts()
    data = counts.to_dict()
    assert data["rows"] == 5 and data["bins"][OUTPUT_SCORE]["rows"] == 3
    again = Counts.from_dict(counts.profile, data)
    assert again.to_dict() == data


def test_an_output_counting_more_rows_than_the_inputs_is_refused():
    counts = offline_counts()
    data = counts.to_dict()
    data["rows"] = 2
    for name in ("x",):
        data["bins"][name]["rows"] = 2
        data["bins"][name]["counts"] = [0] * len(data["bins"][name]["counts"])
        data["bins"][name]["counts"][1] = 2
        data["bins"][name]["valid"] = 2
    with pytest.raises(ValueError, match=f"rows for '{OUTPUT_SCORE}' differ"):
        Counts.from_dict(counts.profile, data)
