"""Exact kernels of the numeric transforms: ``log1p``, ``expm1`` and ``ndtri``, twice.

Each kernel has a numpy side (what training computes) and an ONNX side (``emit_*``)
built from the same IEEE operations in the same order: ``+ - * /``, ``sqrt``,
comparisons, and featurekit's own ``log`` and ``exp`` (`featurekit.expr.evaluator`,
`featurekit.expr.emitter`), which are exact in both runtimes on any CPU. numpy's
``log1p``/``expm1`` and scipy's ``ndtri`` call the C library, whose last bit depends on
the CPU and the library, so the graph could not repeat them.

Against the C library these kernels are within a few ulp (measured in
``tests/featurekit/test_kernels.py``): ``log1p`` is Goldberg's ``log(u) * (x / (u -
1))`` with ``u = 1 + x``; ``expm1`` is Cephes' rational function on ``[-0.5, 0.5]`` and
``exp(x) - 1`` outside it; ``ndtri``, the inverse of the standard normal CDF, is
Cephes' ``ndtri`` (scipy's), with featurekit's ``log``. Every function takes arrays of
any shape; every emitter takes a double tensor of any shape.
"""

from __future__ import annotations

import numpy as np

from featurekit.expr.emitter import emit_exp, emit_log
from featurekit.expr.evaluator import EXP_P, EXP_Q, exp, log
from featurekit.onnx.graph import Graph

__all__ = [
    "emit_expm1",
    "emit_log1p",
    "emit_ndtri",
    "expm1",
    "log1p",
    "ndtri",
    "where",
]

#: exp(-2): ndtri switches from its central rational function to the tails here
EXPM2 = 0.13533528323661269189
S2PI = 2.50662827463100050242  # sqrt(2 pi)
#: Cephes ndtri: the central region, y - 0.5 in [-3/8, 3/8] (P0 / Q0, Q0 monic)
NDTRI_P0 = (
    -5.99633501014107895267e1,
    9.80010754185999661536e1,
    -5.66762857469070293439e1,
    1.39312609387279679503e1,
    -1.23916583867381258016e0,
)
NDTRI_Q0 = (
    1.95448858338141759834e0,
    4.67627912898881538453e0,
    8.63602421390890590575e1,
    -2.25462687854119370527e2,
    2.00260212380060660359e2,
    -8.20372256168333339912e1,
    1.59056225126211695515e1,
    -1.18331621121330003142e0,
)
#: the tails, z = sqrt(-2 log y) in [2, 8) (P1 / Q1) and [8, 64) (P2 / Q2)
NDTRI_P1 = (
    4.05544892305962419923e0,
    3.15251094599893866154e1,
    5.71628192246421288162e1,
    4.40805073893200834700e1,
    1.46849561928858024014e1,
    2.18663306850790267539e0,
    -1.40256079171354495875e-1,
    -3.50424626827848203418e-2,
    -8.57456785154685413611e-4,
)
NDTRI_Q1 = (
    1.57799883256466749731e1,
    4.53907635128879210584e1,
    4.13172038254672030440e1,
    1.50425385692907503408e1,
    2.50464946208309415979e0,
    -1.42182922854787788574e-1,
    -3.80806407691578277194e-2,
    -9.33259480895457427372e-4,
)
NDTRI_P2 = (
    3.23774891776946035970e0,
    6.91522889068984211695e0,
    3.93881025292474443415e0,
    1.33303460815807542389e0,
    2.01485389549179081538e-1,
    1.23716634817820021358e-2,
    3.01581553508235416007e-4,
    2.65806974686737550832e-6,
    6.23974539184983293730e-9,
)
NDTRI_Q2 = (
    6.02427039364742014255e0,
    3.67983563856160859403e0,
    1.37702099489081330271e0,
    2.16236993594496635890e-1,
    1.34204006088543189037e-2,
    3.28014464682127739104e-4,
    2.89247864745380683936e-6,
    6.79019408009981274425e-9,
)


# -- numpy ------------------------------------------------------------------------


def where(
    condition: np.ndarray, a: np.ndarray | float, b: np.ndarray | float
) -> np.ndarray:
    """``np.where`` as onnxruntime's ``Where`` computes it: bit for bit.

    onnxruntime's ``Where`` turns a -0.0 taken from its first branch into +0.0 (its
    second branch keeps it), whatever the broadcasting; ``a + 0.0`` does exactly that.
    """
    with np.errstate(all="ignore"):
        return np.where(condition, np.asarray(a, dtype=np.float64) + 0.0, b)


def _horner(x: np.ndarray, coefficients: tuple[float, ...], monic: bool) -> np.ndarray:
    """Cephes' ``polevl`` (or ``p1evl`` when `monic`: a leading coefficient of 1)."""
    acc = x + coefficients[0] if monic else coefficients[0] * x + coefficients[1]
    for c in coefficients[1 if monic else 2 :]:
        acc = acc * x + c
    return np.asarray(acc)


def log1p(x: np.ndarray) -> np.ndarray:
    """``log(1 + x)`` within a few ulp, even near 0; NaN at or below -1 and for NaN.

    Examples
    --------
    >>> import numpy as np
    >>> log1p(np.array([0.0, 1e-20, np.e - 1, np.inf])).tolist()
    [0.0, 1e-20, 1.0, inf]
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        u = 1.0 + x
        d = u - 1.0
        # x in the second branch of Where, which keeps log1p(-0.0) = -0.0
        out = where(np.abs(d) > 0.0, log(u) * (x / d), x)
        return where(x == np.inf, x, out)


def expm1(x: np.ndarray) -> np.ndarray:
    """``exp(x) - 1`` within a few ulp, even near 0; inf where it overflows.

    Examples
    --------
    >>> import numpy as np
    >>> expm1(np.array([0.0, 1e-20, -np.inf, np.inf])).tolist()
    [0.0, 1e-20, -1.0, inf]
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        xx = x * x
        r = x * _horner(xx, EXP_P, monic=False)
        r = r / (_horner(xx, EXP_Q, monic=False) - r)
        return where(np.abs(x) > 0.5, exp(x) - 1.0, r + r)


def ndtri(y: np.ndarray) -> np.ndarray:
    """The inverse of the standard normal CDF: -inf at 0, inf at 1, NaN outside.

    Examples
    --------
    >>> import numpy as np
    >>> ndtri(np.array([0.0, 0.5, 0.975, 1.0])).round(6).tolist()
    [-inf, 0.0, 1.959964, inf]
    """
    y0 = np.asarray(y, dtype=np.float64)
    with np.errstate(all="ignore"):
        flip = y0 > 1.0 - EXPM2
        y = where(flip, 1.0 - y0, y0)
        w = y - 0.5
        w2 = w * w
        central = w2 * _horner(w2, NDTRI_P0, monic=False)
        central = central / _horner(w2, NDTRI_Q0, monic=True)
        central = (w + w * central) * S2PI
        t = np.sqrt(-2.0 * log(y))
        x0 = t - log(t) / t
        z = 1.0 / t
        near = z * _horner(z, NDTRI_P1, monic=False) / _horner(z, NDTRI_Q1, monic=True)
        far = z * _horner(z, NDTRI_P2, monic=False) / _horner(z, NDTRI_Q2, monic=True)
        tail = x0 - where(t < 8.0, near, far)
        out = where(y > EXPM2, central, where(flip, tail, -tail))
        out = where(y0 == 0.0, -np.inf, where(y0 == 1.0, np.inf, out))
        return where((y0 >= 0.0) & (y0 <= 1.0), out, np.nan)


# -- ONNX -------------------------------------------------------------------------


def _k(g: Graph, value: float) -> str:
    """A double scalar constant (it broadcasts in onnxruntime's fast path)."""
    return g.const(np.float64(value), "k")


def _emit_horner(g: Graph, x: str, coefficients: tuple[float, ...], monic: bool) -> str:
    if monic:
        acc = g.op("Add", [x, _k(g, coefficients[0])])
    else:
        acc = g.op(
            "Add", [g.op("Mul", [_k(g, coefficients[0]), x]), _k(g, coefficients[1])]
        )
    for c in coefficients[1 if monic else 2 :]:
        acc = g.op("Add", [g.op("Mul", [acc, x]), _k(g, c)])
    return acc


def emit_log1p(g: Graph, x: str) -> str:
    """`log1p`, node for node."""
    one = _k(g, 1.0)
    u = g.op("Add", [one, x])
    d = g.op("Sub", [u, one])
    out = g.op("Mul", [emit_log(g, u), g.op("Div", [x, d])])
    # not Not(Equal): onnxruntime fuses Not into Where by swapping the branches
    nonzero = g.op("Greater", [g.op("Abs", [d]), _k(g, 0.0)])
    out = g.op("Where", [nonzero, out, x])
    return g.op("Where", [g.op("Equal", [x, _k(g, np.inf)]), x, out], "log1p")


def emit_expm1(g: Graph, x: str) -> str:
    """`expm1`, node for node."""
    xx = g.op("Mul", [x, x])
    r = g.op("Mul", [x, _emit_horner(g, xx, EXP_P, monic=False)])
    r = g.op("Div", [r, g.op("Sub", [_emit_horner(g, xx, EXP_Q, monic=False), r])])
    big = g.op("Greater", [g.op("Abs", [x]), _k(g, 0.5)])
    outer = g.op("Sub", [emit_exp(g, x), _k(g, 1.0)])
    return g.op("Where", [big, outer, g.op("Add", [r, r])], "expm1")


def emit_ndtri(g: Graph, y0: str) -> str:
    """`ndtri`, node for node."""
    flip = g.op("Greater", [y0, _k(g, 1.0 - EXPM2)])
    y = g.op("Where", [flip, g.op("Sub", [_k(g, 1.0), y0]), y0])
    w = g.op("Sub", [y, _k(g, 0.5)])
    w2 = g.op("Mul", [w, w])
    central = g.op("Mul", [w2, _emit_horner(g, w2, NDTRI_P0, monic=False)])
    central = g.op("Div", [central, _emit_horner(g, w2, NDTRI_Q0, monic=True)])
    central = g.op("Add", [w, g.op("Mul", [w, central])])
    central = g.op("Mul", [central, _k(g, S2PI)])
    t = g.op("Sqrt", [g.op("Mul", [_k(g, -2.0), emit_log(g, y)])])
    x0 = g.op("Sub", [t, g.op("Div", [emit_log(g, t), t])])
    z = g.op("Div", [_k(g, 1.0), t])
    tails = []
    for p, q in ((NDTRI_P1, NDTRI_Q1), (NDTRI_P2, NDTRI_Q2)):
        num = g.op("Mul", [z, _emit_horner(g, z, p, monic=False)])
        tails.append(g.op("Div", [num, _emit_horner(g, z, q, monic=True)]))
    near = g.op("Less", [t, _k(g, 8.0)])
    tail = g.op("Sub", [x0, g.op("Where", [near, *tails])])
    signed = g.op("Where", [flip, tail, g.op("Neg", [tail])])
    out = g.op("Where", [g.op("Greater", [y, _k(g, EXPM2)]), central, signed])
    out = g.op(
        "Where",
        [
            g.op("Equal", [y0, _k(g, 0.0)]),
            _k(g, -np.inf),
            g.op("Where", [g.op("Equal", [y0, _k(g, 1.0)]), _k(g, np.inf), out]),
        ],
    )
    inside = g.op(
        "And",
        [
            g.op("GreaterOrEqual", [y0, _k(g, 0.0)]),
            g.op("LessOrEqual", [y0, _k(g, 1.0)]),
        ],
    )
    return g.op("Where", [inside, out, _k(g, np.nan)], "ndtri")
