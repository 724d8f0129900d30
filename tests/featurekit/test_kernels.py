"""featurekit's exact log1p, expm1 and ndtri: numpy against onnxruntime, and against libm."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from featurekit.onnx.graph import Graph
from featurekit.runtime import Session
from featurekit.transforms import kernels

KERNELS = {
    "log1p": (kernels.log1p, kernels.emit_log1p),
    "expm1": (kernels.expm1, kernels.emit_expm1),
    "ndtri": (kernels.ndtri, kernels.emit_ndtri),
}
_SESSIONS: dict[tuple[str, int, int], Session] = {}


def run_onnx(name: str, x: np.ndarray, threads: int = 1) -> np.ndarray:
    """The kernel's graph on `x` (N, k), in a featurekit session (as serving runs it)."""
    key = (name, x.shape[1], threads)
    if key not in _SESSIONS:
        g = Graph()
        inp = g.add_input("x", "double", ["N", x.shape[1]])
        out = g.op("Identity", [KERNELS[name][1](g, inp)], "out")
        g.add_output(out, "double", ["N", x.shape[1]])
        _SESSIONS[key] = Session(g.model().SerializeToString(), threads=threads)
    return _SESSIONS[key].run({"x": x}, len(x))[0]


def assert_bits_equal(a: np.ndarray, b: np.ndarray) -> None:
    """Equal bit for bit (the sign of zero included); any NaN equals any NaN."""
    assert a.shape == b.shape
    nan = np.isnan(a)
    np.testing.assert_array_equal(nan, np.isnan(b))
    np.testing.assert_array_equal(a[~nan].view(np.int64), b[~nan].view(np.int64))


def ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distance in units in the last place, 0 where both are NaN or equal."""
    ia, ib = (np.asarray(v, np.float64).view(np.int64) for v in (a, b))
    lowest = np.int64(-(2**63))
    ia = np.where(ia < 0, lowest - ia, ia)
    ib = np.where(ib < 0, lowest - ib, ib)
    d = np.abs(ia - ib)
    return np.where((a == b) | (np.isnan(a) & np.isnan(b)), 0, d)


def _sample(name: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if name == "log1p":
        parts = [
            np.exp(rng.uniform(-740, 709, n)),
            rng.uniform(-1, 10, n),
            rng.uniform(-1, 1, n) * np.exp(rng.uniform(-60, 0, n)),
        ]
    elif name == "expm1":
        parts = [
            rng.uniform(-750, 712, n),
            rng.uniform(-0.6, 0.6, n),
            rng.uniform(-1, 1, n) * np.exp(rng.uniform(-60, 0, n)),
        ]
    else:
        parts = [
            rng.uniform(0, 1, n),
            np.exp(rng.uniform(-745, 0, n)),
            1 - np.exp(rng.uniform(-36, 0, n)),
        ]
    return np.concatenate(parts)


EDGES = {
    "log1p": [0.0, -0.0, 5e-324, -5e-324, 1e-300, 2.0**-53, -(2.0**-54), -0.5, -1.0,
              -1 + 2**-52, -2.0, 1.0, 1e308, math.inf, -math.inf, math.nan],
    "expm1": [0.0, -0.0, 5e-324, -5e-324, 0.5, -0.5, 0.5000000000000001, 1e-20,
              709.78, 709.79, 710.0, -745.2, -800.0, math.inf, -math.inf, math.nan],
    "ndtri": [0.0, 1.0, 0.5, 5e-324, 1e-300, kernels.EXPM2, 1 - kernels.EXPM2,
              1e-7 - np.spacing(1), 1 - 2**-53, -0.0, -1e-300, 1 + 2**-52, math.nan],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_matches_onnxruntime_on_a_million_values(name):
    x = _sample(name, 350_000, 5)
    x = np.concatenate([x, EDGES[name] * 4])
    x = x[: len(x) // 4 * 4].reshape(-1, 4)  # several columns, as the transforms use
    # four threads: featurekit's sessions score large batches in chunks, in parallel
    assert_bits_equal(KERNELS[name][0](x), run_onnx(name, x, threads=4))


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_matches_onnxruntime_at_its_edges(name):
    x = np.array(EDGES[name], dtype=np.float64).reshape(-1, 1)
    assert_bits_equal(KERNELS[name][0](x), run_onnx(name, x))


@pytest.mark.parametrize("name", sorted(KERNELS))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_kernel_matches_onnxruntime_on_any_doubles(name, data):
    x = data.draw(
        hnp.arrays(
            np.float64,
            hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
            elements=st.one_of(st.floats(), st.sampled_from(EDGES[name])),
        )
    )
    assert_bits_equal(KERNELS[name][0](x), run_onnx(name, x))


# The C library's log1p and expm1 and scipy's ndtri are the references featurekit
# departs from: these are the measured distances on the samples above.
@pytest.mark.parametrize(
    ("name", "reference", "bound"),
    [
        ("log1p", np.log1p, 2),
        ("expm1", np.expm1, 4),
        ("ndtri", scipy.special.ndtri, 8),
    ],
)
def test_kernel_is_within_a_few_ulp_of_the_c_library(name, reference, bound):
    x = _sample(name, 100_000, 9)
    with np.errstate(all="ignore"):
        expected = reference(x)
    assert ulps(KERNELS[name][0](x), expected).max() <= bound


def test_kernels_keep_signed_zeros_and_their_ends():
    assert math.copysign(1.0, kernels.log1p(np.array([-0.0]))[0]) == -1.0
    assert math.copysign(1.0, kernels.expm1(np.array([-0.0]))[0]) == -1.0
    assert kernels.expm1(np.array([-math.inf, math.inf])).tolist() == [-1.0, math.inf]
    out = kernels.ndtri(np.array([0.0, 1.0, -0.1, 1.1]))
    assert out[:2].tolist() == [-math.inf, math.inf] and np.isnan(out[2:]).all()


def test_where_is_onnxruntimes_where():
    """onnxruntime's Where makes +0.0 of a -0.0 from its first branch, never its second."""
    g = Graph()
    c = g.add_input("c", "bool", ["N", 2])
    a = g.add_input("a", "double", ["N", 2])
    b = g.add_input("b", "double", ["N", 2])
    g.add_output(g.op("Where", [c, a, b], "out"), "double", ["N", 2])
    session = Session(g.model().SerializeToString(), threads=1)
    rng = np.random.default_rng(0)
    cond = rng.random((64, 2)) < 0.5
    left = rng.choice([-0.0, 0.0, 1.0, math.nan], (64, 2))
    right = rng.choice([-0.0, 0.0, -2.0], (64, 2))
    got = session.run({"c": cond, "a": left, "b": right}, 64)[0]
    assert_bits_equal(kernels.where(cond, left, right), got)


@pytest.mark.parametrize("within", [(-40.0, 709.0), (-700.0, 0.0), (-700.0, 709.0)])
def test_exp_within_bounds_is_the_full_kernel_of_the_clipped_value(within) -> None:
    """emit_exp(within=...): exp(clip(x)) bit for bit, batch of one or many alike."""
    from featurekit.expr.emitter import emit_exp
    from featurekit.expr.evaluator import exp

    rng = np.random.default_rng(7)
    x = np.concatenate(
        [
            rng.uniform(-760, 720, 20_000),
            rng.uniform(-1, 1, 2_000),
            [np.nan, np.inf, -np.inf, -0.0, 0.0, -40.0, -40.0001, 709.0, 709.5, -700.0],
            np.nextafter(np.array(within), [-np.inf, np.inf]),
        ]
    ).reshape(-1, 1)
    g = Graph()
    inp = g.add_input("x", "double", ["N", 1])
    g.add_output(
        g.op("Identity", [emit_exp(g, inp, within=within)], "out"), "double", ["N", 1]
    )
    session = Session(g.model().SerializeToString(), threads=1)
    want = exp(np.clip(x, *within))
    assert_bits_equal(session.run({"x": x}, len(x))[0], want)
    one = np.concatenate(
        [session.run({"x": x[i : i + 1]}, 1)[0] for i in range(0, len(x), 97)]
    )
    assert_bits_equal(one, want[::97])
    full = Graph()  # the four nodes the bounds save
    inp = full.add_input("x", "double", ["N", 1])
    emit_exp(full, inp)
    assert len(full.nodes) - len(g.nodes) == 4 - 1  # (g has the output's Identity)


def test_exp_within_refuses_bounds_that_could_leave_the_normal_range() -> None:
    from featurekit.expr.emitter import emit_exp

    g = Graph()
    with pytest.raises(ValueError, match="bounds must lie in"):
        emit_exp(g, g.add_input("x", "double", ["N", 1]), within=(-745.0, 0.0))
