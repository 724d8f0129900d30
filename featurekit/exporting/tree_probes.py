"""Certify a tree model tree by tree: probes beside every split, scored by that tree alone.

Scoring every probe row with the whole forest costs splits x trees; here each unit
(a tree of a forest, a boosting stage, an iteration: what scikit-learn adds as one
term, `featurekit.exporting.tree_units`) is probed alone, at a cost linear in the
number of nodes, in both runtimes:

- **The graph's trees, as exported.** The ``TreeEnsemble`` node is read back from
  the exported bytes (`featurekit.onnx.subensembles`), so what is proven is what
  ships. The unit's trees are cut out as an ensemble of their own, every leaf
  replaced by the code of the branch that reached it, and run by onnxruntime's
  ``TreeEnsemble`` kernel: its output is the route each probe took through the
  graph's nodes, thresholds and missing-value rules. The leaf at the end of that
  route holds the graph's weights: the graph's term.
- **Probes that reach each split.** Walking the graph's tree beside scikit-learn's
  (they must have the same shape and features), each split gets a witness row inside
  the box its ancestors allow, and probes: the largest input that goes left and the
  smallest that goes right, as the trees' input is rounded (float32 for
  scikit-learn's trees, the raw double for a column whose splits moved to raw
  space), plus a missing value where one can come. Two monotone comparisons that
  agree on both sides of one's boundary have the same boundary, so each threshold is
  proven for every input, not only for the probes.
- **scikit-learn's own answers.** Each probe is scored by scikit-learn's unit alone:
  its route (``apply``: the leaf must be the one at the end of the graph's route)
  and its term, which must equal the graph's bit for bit. A split counts as reached
  when every probe made for it reached, in scikit-learn's tree, the side it aimed at.

The whole model (sums, averages, links, labels) is proven on the reference, edge
and golden rows by `featurekit.exporting.whole_model`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from featurekit.errors import ParityError
from featurekit.exporting.tree_units import Structure, Unit
from featurekit.onnx.subensembles import Cutter, Ensemble, route_session

__all__ = ["Inputs", "TreeCheck", "check_trees"]

#: Graph nodes per onnxruntime session of cut-out units: bounds memory and latency.
GROUP_NODES = 150_000


# -- probes --------------------------------------------------------------------------
def _down32(x: np.ndarray) -> np.ndarray:
    """The largest float32 at or below each value (as float64)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        f = x.astype(np.float32)
        f = np.where(f.astype(np.float64) > x, np.nextafter(f, np.float32(-np.inf)), f)
    return np.asarray(f, dtype=np.float64)


def _up32(x: np.ndarray) -> np.ndarray:
    """The smallest float32 above each value (as float64)."""
    f = _down32(x).astype(np.float32)
    with np.errstate(over="ignore"):  # above the largest float32: inf
        return np.nextafter(f, np.float32(np.inf)).astype(np.float64)


def _sides(t: np.ndarray, single: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The last input that goes left at ``x <= t`` and the first that goes right."""
    with np.errstate(over="ignore"):  # beside the largest number: inf, left out
        left = np.where(single, _down32(t), t)
        right = np.where(single, _up32(t), np.nextafter(t, np.inf))
    return left, right


@dataclass
class _Probes:
    """The probe rows of one graph tree, and what each must show."""

    rows: np.ndarray  # (m, width), graph input
    split: np.ndarray  # per probe: which split of the tree it probes (0, 1, ...)
    aim: np.ndarray  # per probe: the scikit-learn node it must reach below the split
    codes: np.ndarray  # sorted exit codes (2 * node + side) of the graph tree
    exits: np.ndarray  # per code: the scikit-learn node that branch stands for
    splits: int


@dataclass
class _Sides:
    """Where inputs go, computed once for the whole ensemble.

    Per graph node the last input going left and the first going right; per column
    the smallest and the largest input.
    """

    left: np.ndarray
    right: np.ndarray
    floor: np.ndarray
    ceiling: np.ndarray


def _sides_of(ens: Ensemble, inputs: Inputs) -> _Sides:
    single = inputs.single[ens.feature]
    left, right = _sides(ens.split, single)
    with np.errstate(over="ignore"):
        floor = np.where(
            inputs.single, _up32(inputs.low), np.nextafter(inputs.low, np.inf)
        )
    top = np.minimum(inputs.high, np.finfo(np.float64).max)
    ceiling = np.where(
        inputs.single, _down32(np.minimum(top, np.finfo(np.float32).max)), top
    )
    return _Sides(left, right, floor, ceiling)


def _walk(
    ens: Ensemble,
    tree: int,
    s: Structure,
    inputs: Inputs,
    sides: _Sides,
    where: str,
) -> _Probes:
    """Walk graph tree `tree` beside scikit-learn's `s`, level by level; probe it.

    Checks that both have the same shape and features; each split gets a witness
    inside the box its ancestors allow (and the inputs' domain), then its probes. A
    probe outside the domain is left out: no input the model can get lies there.
    The box holds, per column, the smallest and the largest input inside it.
    """
    base, nullable = inputs.base, inputs.nullable
    root = int(ens.roots[tree])
    codes: list[np.ndarray] = []
    exits: list[np.ndarray] = []
    if s.left[0] == -1:  # one leaf: the graph holds one split, both ways to it
        if not (ens.true_leaf[root] and ens.false_leaf[root]):
            _structure_error(
                where, root, 0, "is a split; scikit-learn's tree is a leaf"
            )
        return _Probes(
            base.reshape(1, -1),
            np.array([0]),
            np.array([0]),
            np.array([2 * root, 2 * root + 1]),
            np.array([0, 0]),
            0,
        )
    rows, split, aim = [], [], []
    g = np.array([root], dtype=np.int64)
    sk = np.array([0], dtype=np.int64)
    lo = sides.floor.reshape(1, -1).copy()
    hi = sides.ceiling.reshape(1, -1).copy()
    nan_ok = np.ones((1, len(base)), dtype=bool)  # NaN may still come this way
    splits = 0
    while len(g):
        f = ens.feature[g]
        wrong = np.flatnonzero(f != s.feature[sk])
        if len(wrong):
            k = int(wrong[0])
            _structure_error(
                where,
                int(g[k]),
                int(sk[k]),
                f"reads feature {int(f[k])}, scikit-learn's reads "
                f"{int(s.feature[sk[k]])}",
            )
        local = splits + np.arange(len(g))
        splits += len(g)
        at = np.arange(len(g))
        # an empty box: no number reaches the node, but a missing value may (a
        # split at +inf sends every number left and only NaN right); otherwise a
        # node no input reaches still needs a valid row
        witness = np.minimum(np.maximum(base, lo), hi)
        witness = np.where((lo > hi) & nan_ok & nullable, np.nan, witness)
        # the last input going left and the first going right, inside the box (a
        # split at +inf: the box's largest number goes left, no number right)
        left = np.minimum(sides.left[g], hi[at, f])
        for value, child in ((left, s.left[sk]), (sides.right[g], s.right[sk])):
            keep = (value >= sides.floor[f]) & (value <= sides.ceiling[f])
            probe = witness[keep]
            probe[np.arange(len(probe)), f[keep]] = value[keep]
            rows.append(probe)
            split.append(local[keep])
            aim.append(child[keep])
        miss = nullable[f] & nan_ok[at, f]  # where a missing value can come
        if miss.any():
            probe = witness[miss]
            probe[np.arange(len(probe)), f[miss]] = np.nan
            rows.append(probe)
            split.append(local[miss])
            aim.append(
                np.where(s.missing_left[sk[miss]], s.left[sk[miss]], s.right[sk[miss]])
            )
        next_g, next_sk, next_lo, next_hi, next_nan = [], [], [], [], []
        for side, ids, is_leaf, child in (
            (0, ens.true_id[g], ens.true_leaf[g], s.left[sk]),
            (1, ens.false_id[g], ens.false_leaf[g], s.right[sk]),
        ):
            wrong = np.flatnonzero(is_leaf != (s.left[child] == -1))
            if len(wrong):
                k = int(wrong[0])
                kinds = ("a split", "a leaf")
                _structure_error(
                    where,
                    int(g[k]),
                    int(sk[k]),
                    f"has {kinds[int(is_leaf[k])]} on its {('true', 'false')[side]} "
                    f"side, scikit-learn's {kinds[int(not is_leaf[k])]}",
                )
            codes.append(2 * g[is_leaf] + side)
            exits.append(child[is_leaf])
            go = ~is_leaf
            box_lo, box_hi, box_nan = lo[go], hi[go], nan_ok[go]  # copies
            idx, fg, gg = np.arange(int(go.sum())), f[go], g[go]
            if side == 0:  # true branch: x <= t
                box_hi[idx, fg] = np.minimum(box_hi[idx, fg], sides.left[gg])
            else:
                box_lo[idx, fg] = np.maximum(box_lo[idx, fg], sides.right[gg])
            box_nan[idx, fg] &= s.missing_left[sk[go]] == (side == 0)
            next_g.append(ids[go])
            next_sk.append(child[go])
            next_lo.append(box_lo)
            next_hi.append(box_hi)
            next_nan.append(box_nan)
        g, sk = np.concatenate(next_g), np.concatenate(next_sk)
        lo, hi = np.concatenate(next_lo), np.concatenate(next_hi)
        nan_ok = np.concatenate(next_nan)
    code, exit_ = np.concatenate(codes), np.concatenate(exits)
    order = np.argsort(code)
    return _Probes(
        np.concatenate(rows),
        np.concatenate(split),
        np.concatenate(aim),
        code[order],
        exit_[order],
        splits,
    )


def _structure_error(where: str, node: int, sk_node: int, what: str) -> None:
    raise ParityError(
        f"{where}: the graph's node {node} (scikit-learn's node {sk_node}) {what}. "
        "The exported tree does not have scikit-learn's shape; this is a featurekit "
        "bug, please report it with the model.",
        worst=[{"tree": where, "split": sk_node, "graph_node": node}],
        step=f"model ({where}, split {sk_node})",
    )


# -- the graph's side ----------------------------------------------------------------
# -- the check -----------------------------------------------------------------------
@dataclass
class TreeCheck:
    """What `check_trees` proved: graph trees, units, splits, covered splits, rows."""

    trees: int = 0
    units: int = 0
    splits: int = 0
    covered: int = 0
    rows: int = 0


@dataclass
class Inputs:
    """The tree inputs, as the graph's trees and scikit-learn's trees read them."""

    base: np.ndarray  # the base row's tree input: witnesses start there
    single: np.ndarray  # per column: rounded to float32 before the trees
    nullable: np.ndarray  # per column: can be NaN
    low: np.ndarray  # per column: every input is above this ...
    high: np.ndarray  # ... and at most this
    names: list[str]  # per column: the feature's name, for messages
    to_sklearn: Callable[[np.ndarray], np.ndarray]  # graph input -> scikit-learn's


def check_trees(
    ens: Ensemble,
    units: list[Unit | None],
    counts: list[int],
    inputs: Inputs,
    model_name: str,
    on_splits: Callable[[int], None] = lambda n: None,
) -> TreeCheck:
    """Probe every split of every unit; raise `ParityError` at the first difference.

    Parameters
    ----------
    ens : Ensemble
        The graph's TreeEnsemble, read back from the exported bytes.
    units, counts : list
        scikit-learn's units (None for a constant) and their graph trees' counts.
    inputs : Inputs
        How the trees read their input.
    model_name : str
        For messages, e.g. ``"RandomForestClassifier"``.
    on_splits : callable
        Called with the number of splits proven, after each group of units.
    """
    first = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    if first[-1] != len(ens.roots) or len(units) != len(counts):
        raise ParityError(  # pragma: no cover - the converter and this module agree
            f"{model_name}: the graph holds {len(ens.roots)} trees in "
            f"{len(counts)} units, scikit-learn's model {len(units)} units; this is a "
            "featurekit bug, please report it.",
            step="model",
        )
    todo = [
        (u, list(range(int(first[i]), int(first[i + 1]))))
        for i, u in enumerate(units)
        if u is not None
    ]
    cutter = Cutter(ens)
    sides = _sides_of(ens, inputs)
    done = TreeCheck(units=len(todo))
    for group in _groups(ens, todo):
        walked = [
            [
                _walk(ens, t, s, inputs, sides, f"{model_name} {unit.name}")
                for t, s in zip(trees, unit.structures, strict=True)
            ]
            for unit, trees in group
        ]
        session = route_session(cutter, [trees for _, trees in group], len(inputs.base))
        feeds = {
            f"x{i}": np.concatenate([p.rows for p in w]) for i, w in enumerate(walked)
        }
        got = session.run(feeds, 0)  # one route output per unit
        splits = 0
        for i, ((unit, trees), w) in enumerate(zip(group, walked, strict=True)):
            x = feeds[f"x{i}"]
            covered = _compare(ens, unit, trees, w, x, got[i], inputs, model_name)
            done.trees += len(trees)
            done.splits += sum(p.splits for p in w)
            done.covered += covered
            done.rows += len(x)
            splits += sum(p.splits for p in w)
        on_splits(splits)
    return done


def _groups(
    ens: Ensemble, todo: list[tuple[Unit, list[int]]]
) -> Iterator[list[tuple[Unit, list[int]]]]:
    """Units in runs of about `GROUP_NODES` graph nodes."""
    group: list[tuple[Unit, list[int]]] = []
    nodes = 0
    ends = np.concatenate([ens.roots[1:], [len(ens.feature)]])
    for unit, trees in todo:
        group.append((unit, trees))
        nodes += int(np.abs(ends[trees] - ens.roots[trees]).sum()) or 1
        if nodes >= GROUP_NODES:
            yield group
            group, nodes = [], 0
    if group:
        yield group


def _compare(
    ens: Ensemble,
    unit: Unit,
    trees: list[int],
    walked: list[_Probes],
    x: np.ndarray,
    routes: np.ndarray,
    inputs: Inputs,
    model_name: str,
) -> int:
    """Refuse unless the graph routes and scores every probe as scikit-learn does.

    Returns the number of splits all of whose probes reached the side they aimed at
    in scikit-learn's tree.
    """
    where = f"{model_name} {unit.name}"
    x_sk = inputs.to_sklearn(x)
    covered, start = 0, 0
    for j, (p, s) in enumerate(zip(walked, unit.structures, strict=True)):
        leaf = s.route(x_sk)
        code = routes[:, j].astype(np.int64)
        at = np.minimum(np.searchsorted(p.codes, code), len(p.codes) - 1)
        sk_node = np.where(p.codes[at] == code, p.exits[at], -1)
        # the graph's trees have scikit-learn's shape (checked while walking): the
        # branch the graph took ends in a leaf, which must be scikit-learn's
        wrong = np.flatnonzero(sk_node != leaf)
        if len(wrong):
            i = int(wrong[0])
            _refuse_route(ens, trees[j], s, x[i], x_sk[i], inputs, where, int(leaf[i]))
        if p.splits:
            begin, size = s.subtrees()
            mine = leaf[start : start + len(p.rows)]
            reached = (begin[p.aim] <= begin[mine]) & (
                begin[mine] < begin[p.aim] + size[p.aim]
            )
            missed = np.bincount(p.split[~reached], minlength=p.splits)
            probed = np.bincount(p.split, minlength=p.splits)
            covered += int(((missed == 0) & (probed > 0)).sum())
        start += len(p.rows)
    # the graph's terms: the weights of the leaf each of its trees reached
    values = np.zeros((len(x), ens.n_targets))
    every = np.arange(len(x))
    for j in range(len(walked)):
        code = routes[:, j].astype(np.int64)
        node, side = code // 2, code % 2
        leaf = np.where(side == 0, ens.true_id[node], ens.false_id[node])
        values[every, ens.leaf_target[leaf]] += ens.leaf_weight[leaf]
    with np.errstate(all="ignore"):
        terms = np.asarray(unit.terms(x_sk), dtype=np.float64).reshape(len(x), -1)
    same = (terms == values) | (np.isnan(terms) & np.isnan(values))
    if not same.all():
        i = int(np.argmin(same.all(axis=1)))
        raise ParityError(
            f"{where}: the graph's leaves give {values[i].tolist()!r} where "
            f"scikit-learn's tree gives {terms[i].tolist()!r}, on a row both route "
            f"to the same leaf ({_row(x[i], inputs)}). A leaf value differs; this is "
            "a featurekit bug, please report it with the model.",
            worst=[
                {
                    "tree": where,
                    "sklearn": terms[i].tolist(),
                    "onnx": values[i].tolist(),
                }
            ],
            step=f"model ({where}, leaf values)",
        )
    return covered


def _row(x: np.ndarray, inputs: Inputs) -> str:
    shown = [f"{n}={float(v)!r}" for n, v in zip(inputs.names, x, strict=True)][:6]
    return ", ".join(shown) + (", ..." if len(x) > 6 else "")


def _refuse_route(
    ens: Ensemble,
    tree: int,
    s: Structure,
    x: np.ndarray,
    x_sk: np.ndarray,
    inputs: Inputs,
    where: str,
    sk_leaf: int,
) -> None:
    """Raise ParityError at the first split where the graph and scikit-learn part."""
    g, k = int(ens.roots[tree]), 0
    while s.left[k] != -1:
        f = int(ens.feature[g])
        v, t = float(x[f]), float(ens.split[g])
        graph_left = bool(ens.missing[g]) if v != v else v <= t
        v_sk, t_sk = float(x_sk[f]), float(s.threshold[k])
        sk_left = bool(s.missing_left[k]) if v_sk != v_sk else v_sk <= t_sk
        if graph_left != sk_left:
            side = {True: "left", False: "right"}
            raise ParityError(
                f"{where}: split {k} ({inputs.names[f]} <= {t_sk!r} in scikit-learn, "
                f"<= {t!r} in the graph's node {g}) sends the probe "
                f"{inputs.names[f]}={v!r} {side[graph_left]} in the graph and "
                f"{side[sk_left]} in scikit-learn (which reads {v_sk!r}): the "
                "exported threshold is wrong.",
                worst=[
                    {
                        "tree": where,
                        "split": k,
                        "graph_node": g,
                        "feature": inputs.names[f],
                        "value": v,
                        "sklearn_threshold": t_sk,
                        "onnx_threshold": t,
                    }
                ],
                step=f"model ({where}, split {k})",
            )
        leaf_side = ens.true_leaf[g] if graph_left else ens.false_leaf[g]
        nxt = int(ens.true_id[g] if graph_left else ens.false_id[g])
        k = int(s.left[k] if sk_left else s.right[k])
        if leaf_side:
            break
        g = nxt
    raise ParityError(
        f"{where}: onnxruntime routes the probe ({_row(x, inputs)}) otherwise than "
        f"scikit-learn's tree (leaf {sk_leaf}), although every split agrees on it; "
        "this is an onnxruntime or featurekit bug, please report it.",
        worst=[{"tree": where, "split": None}],
        step=f"model ({where})",
    )
