"""Prove the features at every raw value beside a split, column by column, bit for bit.

Every split value (`featurekit.exporting.probes`, deduplicated) runs through the
column's own transforms, cut out of the graph's, and through the column's fitted
scikit-learn chain; the two must agree in every bit, or a split at that value could go
the other way. The values are admissible by construction, so they are fed as the
typed column serving's reader makes of them (float64, or int64 for an int column).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from featurekit.contract.columns import Columns
from featurekit.errors import ExportError, ParityError

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
    features: bytes,
    info: dict[str, Any],
    base_row: dict[str, Any],
    values: dict[str, np.ndarray],
) -> int:
    """Refuse unless each split value's own features are scikit-learn's, bit for bit.

    Each raw column's values run through the graph's transforms of that column alone
    (cut out of `features`, the graph of the transforms) and through the column's
    fitted scikit-learn chain; a column whose splits moved to raw space is compared
    before the moved steps.
    """
    from sklearn.pipeline import Pipeline

    ct = pipeline.named_steps["features"]
    pushed: dict[int, Any] = info.get("pushed_steps", {})
    owners: dict[str, tuple[Any, slice, int]] = {}
    blocks: list[str] = []
    for name, trans, cols in ct.transformers_:
        if trans == "drop" or len(cols) == 0:
            continue
        if len(cols) == 1:
            owners[cols[0]] = (trans, ct.output_indices_[name], len(blocks))
        blocks.append(name)
    graphs = _column_graphs(features, info["feature_blocks"], len(blocks))
    base = columns.coerce([base_row])[0]  # typed as the graph's inputs
    n = 0
    for col, v in values.items():
        trans, block, k = owners[col]
        chains = []
        for j in range(block.start, block.stop):
            if j in pushed and isinstance(trans, Pipeline):
                head = trans.steps[: len(trans.steps) - len(pushed[j].steps)]
                chains.append(Pipeline(head) if head else None)
            else:
                chains.append(trans)
        session, output, others = _column_session(graphs, col, k)
        for start in range(0, len(v), CHUNK):
            chunk = v[start : start + CHUNK]
            feeds = {col: chunk.reshape(-1, 1)}
            for other in others:  # the base row's value, in case a block reads more
                feeds[other] = np.repeat(base[other], len(chunk), axis=0)
            feeds = _as_inputs(session, feeds)
            got = session.run(feeds, len(chunk), [output])[0].reshape(len(chunk), -1)
            raw = chunk.astype(np.float64)
            want = np.stack(
                [
                    raw if chain is None else _block(chain, col, raw, i)
                    for i, chain in enumerate(chains)
                ],
                axis=1,
            )
            same = (want.view(np.uint64) == got.view(np.uint64)) | (
                np.isnan(want) & np.isnan(got)
            )
            if not same.all():
                i, j = (int(a[0]) for a in np.nonzero(~same))
                raise ParityError(
                    f"The features of {col!r} differ from scikit-learn's at the split "
                    f"value {col}={chunk[i].item()!r}: scikit-learn computes "
                    f"{float(want[i, j])!r}, the graph {float(got[i, j])!r}. A split at "
                    "that value would go the other way.",
                    worst=[
                        {
                            "row": f"split value {col}={chunk[i].item()!r}",
                            "sklearn": float(want[i, j]),
                            "onnx": float(got[i, j]),
                            "feature_step": col,
                        }
                    ],
                    step=f"features ({col})",
                )
            n += len(chunk)
    return n


def _column_graphs(features: bytes, exact: str, n_blocks: int) -> tuple[Any, list[str]]:
    """The transforms' graph, and the tensor of each block of the float64 features."""
    import onnx

    model = onnx.load_from_string(features)
    producer = next(n for n in model.graph.node if exact in n.output)
    # the features are one Concat of the blocks, in the ColumnTransformer's order (or
    # the Identity of the only block)
    parts = list(producer.input) if producer.op_type == "Concat" else [exact]
    if len(parts) != n_blocks:  # pragma: no cover - compile emits one part per block
        raise ExportError(
            f"The features graph holds {len(parts)} blocks where the "
            f"ColumnTransformer has {n_blocks}; this is a featurekit bug, please "
            "report it."
        )
    return model, parts


_NUMPY_TYPES = {"tensor(double)": np.float64, "tensor(int64)": np.int64}


def _as_inputs(session: Any, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`feeds` in the types the session's graph declares.

    An int column's split values arrive as floats, and a double input may get the base
    row's int64.
    """
    declared = {i.name: i.type for i in session.inference_session.get_inputs()}
    out = {}
    for name, value in feeds.items():
        want = _NUMPY_TYPES.get(declared.get(name, ""))
        out[name] = value if want is None else value.astype(want, copy=False)
    return out


def _column_session(
    graphs: tuple[Any, list[str]], col: str, k: int
) -> tuple[Any, str, list[str]]:
    """A session computing block `k` of the features from raw column `col`.

    Cut out of the transforms' graph: the nodes the block needs and nothing else, so
    a million split values cost what one column's transforms cost. Returns the
    session, its output and the graph inputs it reads besides `col` (normally none).
    """
    import onnx

    from featurekit.runtime import Session

    model, parts = graphs
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    inputs = {i.name: i for i in graph.input}
    initializers = {t.name: t for t in graph.initializer}
    needed, stack, read = set(), [parts[k]], []
    while stack:
        name = stack.pop()
        node = producer.get(name)
        if node is None:
            if name in inputs and name not in read:
                read.append(name)
            continue
        if id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(i for i in node.input if i)
    nodes = [n for n in graph.node if id(n) in needed]  # graph order: topological
    used = {i for n in nodes for i in n.input}
    sub = onnx.helper.make_graph(
        nodes,
        f"featurekit_{col}",
        [inputs[name] for name in read],
        [
            onnx.helper.make_tensor_value_info(
                parts[k], onnx.TensorProto.DOUBLE, ["N", None]
            )
        ],
        [t for name, t in initializers.items() if name in used],
    )
    cut = onnx.helper.make_model(sub, opset_imports=list(model.opset_import))
    cut.ir_version = model.ir_version
    return Session(cut.SerializeToString()), parts[k], [n for n in read if n != col]


def _block(chain: Any, col: str, raw: np.ndarray, k: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        out = np.asarray(chain.transform(pd.DataFrame({col: raw})), dtype=np.float64)
    return out.reshape(len(raw), -1)[:, k]
