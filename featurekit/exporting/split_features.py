"""Prove the features at every raw value beside a split, column by column, bit for bit.

Every split value (`featurekit.exporting.probes`, deduplicated) runs through the
graph's transforms alone, the other columns at the base row, and through the
column's fitted scikit-learn chain; the two must agree in every bit, or a split at
that value could go the other way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from featurekit.contract.columns import Columns
from featurekit.errors import ParityError

__all__ = ["apply_chain", "check_split_features"]

#: Rows per call: bounds memory when a forest has millions of split values.
CHUNK = 65536


def apply_chain(steps: Any, x: np.ndarray) -> np.ndarray:
    """A fitted column chain on one column of values, as the ColumnTransformer runs it."""
    X: Any = x.reshape(-1, 1)
    names = getattr(steps, "feature_names_in_", None)
    if names is not None:  # fitted on a DataFrame inside the ColumnTransformer
        X = pd.DataFrame(X, columns=list(names))
    with np.errstate(all="ignore"):
        return np.asarray(steps.transform(X), dtype=np.float64).reshape(len(x), -1)[
            :, 0
        ]


def check_split_features(
    pipeline: Any,
    columns: Columns,
    features: Any,
    info: dict[str, Any],
    base: dict[str, Any],
    values: dict[str, np.ndarray],
) -> int:
    """Refuse unless each split value's own features are scikit-learn's, bit for bit.

    Each raw column's values run through the graph's transforms alone (the other
    columns hold the base row) and through the column's fitted scikit-learn chain; a
    column whose splits moved to raw space is compared before the moved steps.
    """
    from sklearn.pipeline import Pipeline

    ct = pipeline.named_steps["features"]
    pushed: dict[int, Any] = info.get("pushed_steps", {})
    owners = {}
    for name, trans, cols in ct.transformers_:
        if trans != "drop" and len(cols) == 1:
            owners[cols[0]] = (trans, ct.output_indices_[name])
    n = 0
    for col, v in values.items():
        trans, block = owners[col]
        chains = []
        for j in range(block.start, block.stop):
            if j in pushed and isinstance(trans, Pipeline):
                head = trans.steps[: len(trans.steps) - len(pushed[j].steps)]
                chains.append(Pipeline(head) if head else None)
            else:
                chains.append(trans)
        for start in range(0, len(v), CHUNK):
            chunk = v[start : start + CHUNK]
            frame = pd.DataFrame(
                {c: base[c] for c in columns.features.columns},
                index=pd.RangeIndex(len(chunk)),
            )
            frame[col] = chunk
            feeds, rows = columns.coerce(frame)
            got = features.run(feeds, rows, [info["features_exact"]])[0][:, block]
            raw = chunk.astype(np.float64)
            want = np.stack(
                [
                    raw if chain is None else _block(chain, col, raw, k)
                    for k, chain in enumerate(chains)
                ],
                axis=1,
            )
            same = (want.view(np.uint64) == got.view(np.uint64)) | (
                np.isnan(want) & np.isnan(got)
            )
            if not same.all():
                i, k = (int(a[0]) for a in np.nonzero(~same))
                raise ParityError(
                    f"The features of {col!r} differ from scikit-learn's at the split "
                    f"value {col}={chunk[i].item()!r}: scikit-learn computes "
                    f"{float(want[i, k])!r}, the graph {float(got[i, k])!r}. A split at "
                    "that value would go the other way.",
                    worst=[
                        {
                            "row": f"split value {col}={chunk[i].item()!r}",
                            "sklearn": float(want[i, k]),
                            "onnx": float(got[i, k]),
                            "feature_step": col,
                        }
                    ],
                    step=f"features ({col})",
                )
            n += len(chunk)
    return n


def _block(chain: Any, col: str, raw: np.ndarray, k: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        out = np.asarray(chain.transform(pd.DataFrame({col: raw})), dtype=np.float64)
    return out.reshape(len(raw), -1)[:, k]
