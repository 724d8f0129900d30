"""Verdicts: a profile and window counts in, one row per feature and signal out.

Each feature's signals (distribution, missing rate, unseen rate) are combined into
one p-value by Simes' test; Benjamini–Hochberg then runs across the features and the
multivariate signal. The dataset itself is tested first, by Bonferroni over its units
(each input, the model's outputs together, the multivariate row): under no drift its
family-wise false-alarm rate stays at alpha whatever the dependence between rows
(outputs are functions of the inputs). A signal fires when the dataset's test passes,
its feature survives BH at alpha, its own p-value is at most alpha, and its effect
exceeds the threshold calibrated at the window's size. Distributions are tested exactly at any size: a permutation test of
the binned data (Anderson–Darling for numbers; chi-square for categories below 1,000
values, where the asymptotic test fails, with rare categories pooled).
"""

from __future__ import annotations

import math
from typing import Any

from featurekit.monitoring import exact, joint, stats
from featurekit.monitoring.counts import Counts, _Bins
from featurekit.monitoring.sizes import scaled, threshold_at

__all__ = ["dataset_p", "deciding", "detectable_shift", "evaluate", "simes"]

#: Power the smallest detectable shift is stated at.
POWER = 0.8
#: Categorical tables with more cells than this use the asymptotic chi-square.
EXACT_CELLS = 200
#: Categorical windows below this many present values get the permutation test; from
#: here on the asymptotic chi-square (rare categories pooled) holds, at a fraction of
#: the cost. Numbers always get the permutation Anderson-Darling test.
EXACT_ROWS = 1000


# -- deciding ----------------------------------------------------------------------------
def evaluate(profile: dict[str, Any], counts: Counts) -> list[dict[str, Any]]:
    """Per-feature statistics and verdicts of `counts` against `profile`.

    Each feature's testable signals (the distribution; the missing rate and the unseen
    rate when any row of either side has one) are combined by Simes' test, and
    Benjamini–Hochberg runs across features (and the multivariate signal, the last
    row, when the profile has one). A signal fires when the dataset's test passes
    (`dataset_p`, each row's ``p_dataset``), its feature survives BH, its own p-value
    is at most alpha and its effect exceeds the threshold calibrated at the window's
    size. A row's ``p_feature`` is the larger of its BH value and ``p_dataset``; a
    signal's ``*_p_adjusted`` the larger of that and its own p-value.
    """
    s = _settings(profile)
    s["tests"] = len(profile["features"]) + ("joint" in profile)
    rows: list[dict[str, Any]] = []
    for name, f in profile["features"].items():
        rows.append(_feature_row(name, f, counts.bins[name], s))
    if "joint" in profile:
        rows.append(_joint_row(profile["joint"], counts, s))
    tested = [k for k, r in enumerate(rows) if r["_tests"]]
    combined = [simes([p for _, p in rows[k]["_tests"]]) for k in tested]
    gate = dataset_p(combined, [rows[k]["kind"] == "output" for k in tested])
    for k, q in zip(tested, stats.benjamini_hochberg(combined), strict=True):
        row = rows[k]
        row["p_feature"] = max(float(q), gate)
        row["p_dataset"] = gate
        for signal, p in row["_tests"]:
            adjusted = max(row["p_feature"], p)
            row[
                "p_adjusted" if signal == "distribution" else f"{signal}_p_adjusted"
            ] = adjusted
            if adjusted <= s["alpha"] and row["_effects"][signal]:
                row["signals"].append(signal)
    for row in rows:
        row.pop("_effects")
        row.pop("_tests")
        if row["verdict"] != "insufficient data":
            row["verdict"] = "drift" if row["signals"] else "ok"
    return rows


def dataset_p(combined: list[float], output: list[bool]) -> float:
    """The dataset's p-value under "no row drifted": Bonferroni over its units.

    The units are each input's row and the multivariate row, one each, and the
    model's output rows together (Simes' combination of them: one hypothesis, "the
    answers moved", whose label and score rows carry nearly the same evidence).
    Bonferroni holds its level under any dependence between units, which
    Benjamini–Hochberg's does not promise: the outputs and the multivariate row are
    functions of the inputs.

    Examples
    --------
    >>> dataset_p([0.004, 0.5, 0.01, 0.02], [False, False, True, True])
    0.012
    >>> dataset_p([], [])
    1.0
    """
    units = [p for p, o in zip(combined, output, strict=True) if not o]
    outputs = [p for p, o in zip(combined, output, strict=True) if o]
    if outputs:
        units.append(simes(outputs))
    if not units:
        return 1.0
    return min(1.0, min(units) * len(units))


def simes(p_values: list[float]) -> float:
    """Simes' combination of p-values: the smallest ``p_(i) * k / i``.

    Examples
    --------
    >>> simes([0.01, 0.04]), simes([0.2])
    (0.02, 0.2)
    """
    ranked = sorted(p_values)
    k = len(ranked)
    return min(1.0, min(p * k / (i + 1) for i, p in enumerate(ranked)))


def _settings(profile: dict[str, Any]) -> dict[str, Any]:
    """The decision settings; profiles from before per-size calibration too."""
    s = dict(profile["settings"])
    if "sizes" not in s:  # an older profile: one calibrated size, 100 rows at least
        s["min_rows"] = min(int(s["min_rows"]), 20)
    return s


def _threshold(
    f: dict[str, Any], key: str, n: int, ref: int, s: dict[str, Any]
) -> float:
    """Feature `f`'s `key` threshold at `n` rows (calibrated per size, or scaled)."""
    if f"{key}s" in f and "sizes" in s:
        return threshold_at(f[f"{key}s"], s["sizes"], n)
    return scaled(f[key], n, ref, s["window"])


def detectable_shift(
    kind: str, n: int, reference: int, tests: int, alpha: float, threshold: float | None
) -> float:
    """The smallest shift a window of `n` rows detects with 80 % power.

    For numbers, a mean shift in reference standard deviations; for categories, the
    change of the commonest category's share, in points (at a share of 50 %, the
    hardest case). The test's level is alpha over the `tests` signals that BH
    weighs (its strictest cut-off), and the effect gate adds its own floor for
    numbers (a pure shift of d sigma moves the Wasserstein distance by d).

    Examples
    --------
    >>> round(detectable_shift("numeric", 50, 10_000, 1, 0.05, None), 2)
    0.4
    """
    from scipy.special import ndtri

    if n <= 0 or reference <= 0:
        return math.inf
    z = float(ndtri(1 - alpha / (2 * max(tests, 1))) + ndtri(POWER))
    spread = math.sqrt(1 / n + 1 / reference)
    if kind == "numeric":
        return max(z * spread, threshold or 0.0)
    return min(1.0, z * 0.5 * spread)


def _joint_row(j: dict[str, Any], counts: Counts, s: dict[str, Any]) -> dict[str, Any]:
    sums = counts.joint
    row: dict[str, Any] = {
        "feature": joint.JOINT,
        "kind": "multivariate",
        "rows": sums.rows,
        "verdict": "ok",
        "signals": [],
        "missing_reference": None,  # missing values sit at the mean: no rate here
        "missing_current": None,
        "unseen_rate": None,
        "p_value": 1.0,
        "p_adjusted": 1.0,
        "_tests": [],
        "_effects": {},
    }
    if sums.rows < s["min_rows"]:
        row.update(
            verdict="insufficient data", statistic=None, effect=None, threshold=None
        )
        return row
    effect, thr, p = joint.joint_test(j, sums, s)
    row.update(
        statistic="reconstruction error rise",
        test="PCA reconstruction error (bootstrap)",
        effect=effect,
        threshold=thr,
        p_value=p,
        error_reference=j["mean"],
        error_current=sums.total / sums.rows,
        components=j["kept"],
        variance_kept=j["variance_kept"],
    )
    row["_tests"].append(("distribution", p))
    row["_effects"]["distribution"] = effect > thr
    return row


def _feature_row(
    name: str, f: dict[str, Any], b: _Bins, s: dict[str, Any]
) -> dict[str, Any]:
    ref_rows = f["rows"]
    present = b.rows - b.missing
    row: dict[str, Any] = {
        "feature": name,
        "kind": "output" if f["output"] else f["kind"],
        "rows": b.rows,
        "verdict": "ok",
        "signals": [],
        "missing_reference": f["missing"] / ref_rows if ref_rows else 0.0,
        "missing_current": b.missing / b.rows if b.rows else 0.0,
        "unseen_rate": None,
        "p_value": 1.0,
        "p_adjusted": 1.0,
        "_tests": [],
        "_effects": {},
    }
    if b.rows < s["min_rows"]:
        row.update(
            verdict="insufficient data", statistic=None, effect=None, threshold=None
        )
        return row
    # missing rate: a signal to test when either side has a missing value (with none
    # on both, the test has one possible outcome and carries no evidence)
    _z_m, p_m = stats.two_proportions(f["missing"], ref_rows, b.missing, b.rows)
    m_thr = _threshold(f, "missing_threshold", b.rows, ref_rows, s)
    diff = abs(row["missing_current"] - row["missing_reference"])
    row.update(missing_p=p_m, missing_threshold=m_thr)
    if f["missing"] + b.missing:
        row["_tests"].append(("missing", p_m))
    row["_effects"]["missing"] = diff > m_thr
    ref_present = ref_rows - f["missing"]
    if f["kind"] == "numeric":
        ref_counts, cur_counts = f["counts"], list(b.counts)
        w = stats.wasserstein(f["edges"], ref_counts, cur_counts, f["scale"])
        d, p_ks = stats.ks_test(ref_counts, cur_counts)
        _, p_mean = stats.mean_test(
            f["valid"], f["sum"], f["sumsq"], b.valid, b.total, b.sumsq
        )
        # at every size: stronger than KS on shifts (and than the mean on skewed
        # data), and the two-stage draws keep a window without drift cheap
        ad, p = exact.permutation_test(ref_counts, cur_counts, exact.anderson_darling)
        row.update(test="Anderson-Darling (permutation)", anderson_darling=ad)
        thr = _threshold(f, "threshold", present, ref_present, s)
        row.update(
            statistic="wasserstein",
            effect=w,
            threshold=thr,
            p_value=p,
            wasserstein=w,
            ks=d,
            ks_p=p_ks,
            mean_p=p_mean,
            psi=stats.psi(ref_counts, cur_counts),
            js=stats.js_distance(ref_counts, cur_counts),
            mean_reference=f["mean"],
            mean_current=b.total / b.valid if b.valid else None,
        )
    else:
        ref_counts = [*f["counts"], f.get("pooled", 0)]
        cur_counts = [*b.counts, 0]
        js = stats.js_distance(ref_counts, cur_counts)
        if "thresholds" in f:  # calibrated per size on the table with rare cells pooled
            js = stats.js_distance(*stats.pool_rare(ref_counts, cur_counts, present))
        chi2, dof, p = stats.chi2_test(ref_counts, cur_counts)
        test = "chi-square"
        if present < EXACT_ROWS and len(ref_counts) <= EXACT_CELLS:
            # expected counts too small for the asymptotic law: random splits of the
            # table with its rare categories pooled (the pooling depends on the
            # reference and the window's size only, so the test stays exact)
            _, p = exact.permutation_test(
                *stats.pool_rare(ref_counts, cur_counts, present), exact.chi_square
            )
            test = "chi-square (permutation)"
        thr = _threshold(f, "threshold", present, ref_present, s)
        unseen = b.unseen / present if present else 0.0
        expected = f.get("unseen_expected", f.get("pooled", 0))
        _z_u, p_u = stats.two_proportions(expected, ref_present, b.unseen, present)
        row.update(
            statistic="jensen_shannon",
            test=test,
            effect=js,
            threshold=thr,
            p_value=p,
            js=js,
            psi=stats.psi(ref_counts, cur_counts),
            chi2=chi2,
            chi2_dof=dof,
            unseen_rate=unseen,
            unseen_p=p_u,
            unseen_threshold=f["unseen_threshold"],
        )
        if expected + b.unseen:
            row["_tests"].append(("unseen", p_u))
        baseline = expected / ref_present if ref_present else 0.0
        row["_effects"]["unseen"] = unseen - baseline > f["unseen_threshold"]
        if "confidence_mean" in f or (f["output"] and b.rows):
            row["confidence_current"] = b.total / b.rows if b.rows else None
    # the window has enough rows; its present values need as many for the tests
    if present >= s["min_rows"]:
        row["_tests"].insert(0, ("distribution", row["p_value"]))
        row["_effects"]["distribution"] = row["effect"] > thr
        row["detectable_shift"] = detectable_shift(
            f["kind"], present, ref_present, s["tests"], s["alpha"], thr
        )
        row["detectable_unit"] = (
            "mean shift (reference sd)"
            if f["kind"] == "numeric"
            else "change of a category's share"
        )
    else:  # too few present values to test the distribution: say so, show no numbers
        row.update(effect=None, p_value=None, p_adjusted=None, distribution="untested")
    return row


def deciding(feature: dict[str, Any]) -> dict[str, Any]:
    """The numbers of the signal that decided a feature's row of `evaluate`.

    The distribution test's, unless only the missing or the unseen rate fired: then
    that rate's statistic, effect, threshold and p-values. Reports, the CLI and
    ``DriftReport.table`` all show these, so a row reads one way everywhere.

    Examples
    --------
    >>> row = {"signals": ["missing"], "statistic": "wasserstein", "effect": 0.05,
    ...        "threshold": 0.18, "p_value": 1.0, "p_adjusted": 1.0,
    ...        "missing_reference": 0.0, "missing_current": 0.128,
    ...        "missing_threshold": 0.029, "missing_p": 1e-9, "missing_p_adjusted": 1e-8}
    >>> d = deciding(row)
    >>> d["statistic"], round(d["effect"], 3), d["threshold"], d["p_adjusted"]
    ('missing rate', 0.128, 0.029, 1e-08)
    """
    signals = feature.get("signals") or []
    lead = next((s for s in signals if s != "distribution"), None)
    if lead is None or "distribution" in signals:
        return {
            "statistic": feature.get("statistic"),
            "effect": feature.get("effect"),
            "threshold": feature.get("threshold"),
            "p_value": feature.get("p_value"),
            "p_adjusted": feature.get("p_adjusted"),
        }
    if lead == "missing":
        ref, cur = feature.get("missing_reference"), feature.get("missing_current")
        effect = None if ref is None or cur is None else abs(cur - ref)
    else:
        effect = feature.get("unseen_rate")
    return {
        "statistic": f"{lead} rate",
        "effect": effect,
        "threshold": feature.get(f"{lead}_threshold"),
        "p_value": feature.get(f"{lead}_p"),
        "p_adjusted": feature.get(f"{lead}_p_adjusted"),
    }
