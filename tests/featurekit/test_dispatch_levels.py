"""The bit-exactness tests again, with numpy dispatching to other SIMD levels.

numpy picks a SIMD implementation of many ufuncs at import, from what the CPU offers,
and ``NPY_DISABLE_CPU_FEATURES`` takes dispatch targets away. ``np.power``, ``np.exp``
and ``np.log`` round differently at different levels (on AVX-512, ``np.power(x, 0.5)``
on an array equals ``sqrt(x)`` while the C library's pow differs in the last bit), so
a feature computed with them would be exact on one machine and not on the next.
featurekit computes every feature from exactly rounded operations instead
(``docs/exactness.md``); these tests show it on this one machine, at three levels:

- ``avx512``: everything the CPU has (AVX-512 where it exists);
- ``avx2``: no AVX-512 target (numpy 2.4 names them X86_V4, AVX512_ICL, AVX512_SPR;
  earlier versions AVX512F, AVX512CD, AVX512_SKX, ...);
- ``baseline``: no dispatch target at all, only the baseline numpy was built for
  (X86_V2, SSE4.2, for numpy 2.4 on x86-64).

Each level runs, in a subprocess, the numpy-against-onnxruntime tests of test_expr.py
(every operator, log, exp and ``**`` on a million rows and at their edges, with 1
and 4 onnxruntime intra-op threads and in featurekit's chunked sessions) and the
pipeline-level power and log1p regressions of test_catalogue_properties.py. The
subprocess first prints the dispatch targets it has enabled, which the test checks,
and a digest of the features it computes, which must equal this process's.

The target names come from numpy itself (``__cpu_dispatch__``), so the same code
serves numpy's older names. On a CPU without AVX-512 the ``avx512`` level is the
``avx2`` level, and on a CPU without AVX2 both are the baseline: the tests still run,
and check the same bits, only at fewer distinct levels.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import featurekit.expr.evaluator as ev
import featurekit.expr.tree as fx

try:  # numpy 2
    from numpy._core import _multiarray_umath as _umath
except ImportError:  # pragma: no cover - numpy 1
    from numpy.core import _multiarray_umath as _umath

ROOT = Path(__file__).resolve().parents[2]
DISPATCH = [t for t in _umath.__cpu_dispatch__ if _umath.__cpu_features__.get(t)]


def _is_avx512(target: str) -> bool:
    return target.startswith("AVX512") or target == "X86_V4"


#: What each level disables: only targets this CPU has (numpy refuses other names).
LEVELS = {
    "avx512": [],
    "avx2": [t for t in DISPATCH if _is_avx512(t)],
    "baseline": list(DISPATCH),
}

#: The tests that compare numpy with onnxruntime bit for bit, or with exact values:
#: all of test_expr.py (its few others take no time), and three pipelines.
SELECTION = [
    "tests/featurekit/test_expr.py",
    "tests/featurekit/test_catalogue_properties.py::test_a_power_by_a_literal_is_bit_exact_in_any_batch",
    "tests/featurekit/test_catalogue_properties.py::test_the_log1p_transform_is_bit_exact",
    "tests/featurekit/test_catalogue_properties.py::test_powers_of_bounded_columns_before_a_forest_export_and_serve_exactly",
]

#: Run in the subprocess: report the dispatch, digest the features, then the tests.
CHILD = """
import json, sys
sys.path.insert(0, "tests/featurekit")
from test_dispatch_levels import dispatch_now, features_digest
print("DISPATCH=" + json.dumps(dispatch_now()), flush=True)
print("DIGEST=" + features_digest(), flush=True)
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def dispatch_now() -> list[str]:
    """The dispatch targets enabled in this process."""
    return sorted(t for t in _umath.__cpu_dispatch__ if _umath.__cpu_features__.get(t))


def features_digest() -> str:
    """sha256 of features that use every kernel, over values across the double range."""
    rng = np.random.default_rng(2024)
    n = 200_000
    # not np.exp(uniform): numpy's own exp is one of the ufuncs whose bits depend on
    # the level (it differs from baseline in ~4 % of these values on AVX-512)
    x = np.ldexp(rng.uniform(0.5, 1, n), rng.integers(-1073, 1025, n))
    x *= rng.choice([-1.0, 1.0], n)
    x[::97] = rng.integers(-50, 50, len(x[::97]))
    y = rng.uniform(-6, 6, n)
    data = {"a": x, "b": y}
    a, b = fx.col("a"), fx.col("b")
    exprs = [
        a**b,
        a**0.5,
        a**-1,
        a**1.7,
        a**3,
        a**-4,
        2**b,
        a.log(),
        a.log1p(),
        b.exp(),
        (a.abs() + 1).log() * b,
    ]
    digest = hashlib.sha256()
    for expr in exprs:
        digest.update(ev.evaluate(expr, data).tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("level", list(LEVELS))
def test_features_are_bit_exact_at_every_numpy_dispatch_level(level: str) -> None:
    disabled = LEVELS[level]
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(disabled)}
    env.pop("PYTEST_ADDOPTS", None)
    # -W error overrides pyproject's filters: pandera's pyspark import warning (with
    # featurekit[spark] installed) is ignored here as it is there
    spark = "ignore:PySpark does not yet fully support pandas:FutureWarning"
    args = [
        "-q",
        "-x",
        "-p",
        "no:cacheprovider",
        "-W",
        "error",
        "-W",
        spark,
        *SELECTION,
    ]
    run = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = run.stdout
    assert run.returncode == 0, out[-4000:] + run.stderr[-2000:]
    lines = dict(
        line.split("=", 1)
        for line in out.splitlines()
        if line.startswith(("DISPATCH=", "DIGEST="))
    )
    enabled = json.loads(lines["DISPATCH"])
    assert enabled == sorted(t for t in DISPATCH if t not in disabled), (level, enabled)
    if level == "baseline":
        assert enabled == []
    if level == "avx2":
        assert not any(_is_avx512(t) for t in enabled)
    assert lines["DIGEST"] == features_digest(), level
    summary = out.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in .*", summary), summary
    assert int(summary.split()[0]) >= 300, summary
