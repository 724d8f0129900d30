"""Print the parity matrix as a markdown table: every family x dataset of the test suite.

Run: python bench/parity_matrix.py. It reuses the datasets and models of
tests/featurekit/test_parity.py, exports each case, and reports the certificate
(rows scored, max |Δ|) plus an independent check: Predictor against the sklearn
pipeline on held-out rows with missing values and unseen categories, and on
adversarial rows at every split and at extreme magnitudes.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# `python bench/parity_matrix.py` puts bench/ first on the path, where bench/http.py
# would shadow the standard library's http (which sklearn.datasets imports)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT / "tests" / "featurekit"))

import test_parity as tp  # noqa: E402

import featurekit as fk  # noqa: E402
from serving import Predictor  # noqa: E402


def _diff(
    pred: Predictor, pipe: object, frame: object, std_y: float | None
) -> tuple[float, int]:
    if std_y is not None:
        sk = np.asarray(pipe.predict(frame), dtype=np.float64)  # type: ignore[attr-defined]
        return float(np.max(np.abs(sk - pred.predict(frame))) / std_y), 0
    flips = int(
        np.sum(
            np.asarray(pipe.predict(frame), dtype=object)
            != pred.predict(frame).astype(object)
        )
    )  # type: ignore[attr-defined]
    dp = np.max(np.abs(pipe.predict_proba(frame) - pred.predict_proba(frame)))  # type: ignore[attr-defined]
    return float(dp), flips


def main() -> None:
    rows = []
    for param in tp.CASES:
        family, data = param.values
        t0 = time.perf_counter()
        ds, pipe = tp._fit(family, data)
        with tempfile.TemporaryDirectory() as tmp:
            art = fk.export(pipe, Path(tmp) / "a", reference=ds.train)
            pred = Predictor.load(Path(tmp) / "a")
            std_y = ds.std_y if ds.task == "regression" else None
            d_hold, f_hold = _diff(pred, pipe, ds.holdout, std_y)
            adv = tp._adversarial_rows(ds, pipe)
            d_adv, f_adv = _diff(pred, pipe, adv, std_y)
        cert = art.certificate
        rows.append(
            (
                family,
                data,
                ds.task,
                cert["rows"],
                cert["max_abs_diff"],
                len(ds.holdout) + len(adv),
                max(d_hold, d_adv),
                f_hold + f_adv,
                time.perf_counter() - t0,
            )
        )
        print(f"{family:>22} {data:<18} done", file=sys.stderr)
    print(
        "| model | dataset | task | certificate rows | certificate max abs diff | "
        "independent rows | independent max abs diff | flipped labels |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for fam, data, task, n, d, n2, d2, flips, _ in rows:
        print(
            f"| {fam} | {data} | {task} | {n:,} | {d:.1e} | {n2:,} | {d2:.1e} | {flips} |"
        )
    print(
        f"\nworst certificate diff {max(r[4] for r in rows):.2e}; worst independent diff "
        f"{max(r[6] for r in rows):.2e}; flipped labels {sum(r[7] for r in rows)}; "
        "classifier diffs are |Δp|, regressor diffs |Δ| / std(y)"
    )


if __name__ == "__main__":
    main()
