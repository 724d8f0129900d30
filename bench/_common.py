"""What every bench shares: timing, ratios, budgets, formatting, and the JSON record.

A bench script runs as ``python bench/NAME.py``, so Python puts ``bench/`` first on
``sys.path`` and ``import _common`` finds this module; featurekit and serving are
installed (editable) in the venv. Nothing here imports featurekit: the benches that
need its version pass it in.

Timing: `measure` times variants interleaved, `ratio` and `paired` turn two series of
samples into the median of their per-repeat ratios. Budgets: `budget` makes one line
(a figure, its target, PASS or MISS) and `print_budgets` prints them. The record:
`add_json_option` gives a bench its ``--json [PATH]`` option, `Run` remembers when and
where the bench started and writes the one JSON layout ``bench/report.py`` reads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


# -- timing --------------------------------------------------------------------------
def _block(fn: Callable[[], Any], number: int) -> float:
    """Nanoseconds per call over `number` back-to-back calls, GC paused (as timeit)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        for _ in range(number):
            fn()
        t1 = time.perf_counter_ns()
    finally:
        if was_enabled:
            gc.enable()
    return (t1 - t0) / number


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, p10 and p90; NaN throughout when any value is NaN (nothing measured)."""
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0 or np.isnan(a).any():
        return {"median": math.nan, "p10": math.nan, "p90": math.nan}
    return {
        "median": float(np.median(a)),
        "p10": float(np.percentile(a, 10)),
        "p90": float(np.percentile(a, 90)),
    }


def measure(
    variants: dict[str, Callable[[], Any]],
    *,
    repeats: int,
    block_s: float,
    warmup_s: float,
) -> dict[str, dict[str, Any]]:
    """Time every variant `repeats` times, interleaved so drift hits them all alike.

    The set-up objects (models, frames, feeds) are moved out of the collector's reach
    with `gc.freeze`, and collection is paused inside each timed block, as in timeit.
    """
    gc.collect()
    gc.freeze()
    numbers: dict[str, int] = {}
    for name, fn in variants.items():
        t0 = time.perf_counter_ns()
        fn()  # first call: lazy imports, pools, caches
        per_call = time.perf_counter_ns() - t0
        if warmup_s > 0:
            deadline = time.perf_counter() + warmup_s
            calls, t0 = 0, time.perf_counter_ns()
            while time.perf_counter() < deadline or calls == 0:
                fn()
                calls += 1
            per_call = (time.perf_counter_ns() - t0) / calls
        numbers[name] = max(1, math.ceil(block_s * 1e9 / per_call))
    samples: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate the order
        for name in order:
            samples[name].append(_block(variants[name], numbers[name]))
    gc.unfreeze()
    return {
        name: {
            "ns_per_call": spread(s),
            "samples_ns": s,
            "calls_per_repeat": numbers[name],
        }
        for name, s in samples.items()
    }


def paired(num: Sequence[float], den: Sequence[float]) -> dict[str, float]:
    """num/den per repeat (the two ran close in time): median and p10-p90.

    Pairing the samples of one repeat cancels most of the drift of a shared machine;
    the ratio of the two medians is kept too, for reference.
    """
    a, b = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(b > 0, a / np.where(b > 0, b, 1.0), math.nan)
        of_medians = (
            float(np.median(a) / np.median(b)) if np.median(b) > 0 else math.nan
        )
    s = spread(list(r))
    return {
        "value": s["median"],
        "p10": s["p10"],
        "p90": s["p90"],
        "ratio_of_medians": of_medians,
    }


def ratio(results: dict[str, Any], num: str, den: str) -> dict[str, float] | None:
    """`paired` of two variants of one `measure` call; None if either is missing."""
    if num not in results or den not in results:
        return None
    return paired(results[num]["samples_ns"], results[den]["samples_ns"])


def round_samples(*results: dict[str, Any]) -> None:
    """Round `measure`'s raw samples to 0.1 ns, so the JSON stays readable."""
    for res in results:
        for v in res.values():
            v["samples_ns"] = [round(x, 1) for x in v["samples_ns"]]


# -- data --------------------------------------------------------------------------
def json_record(frame: pd.DataFrame, i: int) -> dict[str, Any]:
    """Row `i` as a request body would arrive: plain Python scalars, None for missing."""
    rec: dict[str, Any] = {}
    for col, v in frame.iloc[i].items():
        if isinstance(v, np.generic):
            v = v.item()
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            v = None
        rec[str(col)] = v
    return rec


# -- budgets -------------------------------------------------------------------------
def budget(
    name: str,
    figure: dict[str, float] | float | None,
    unit: str,
    *,
    at_most: float | None = None,
    at_least: float | None = None,
) -> dict[str, Any]:
    """One budget line: a figure (a float, or a `paired`/`spread` dict), its target.

    `unit` is ``"x"`` for a ratio, ``""`` for a plain number (a difference, a count),
    else a unit of time (``"ns"``, ``"µs"``, ``"ms"``, ``"s"``). Exactly one of `at_most` and `at_least` is the bound. A figure that was
    not measured (None or NaN) is a MISS.
    """
    if (at_most is None) == (at_least is None):
        raise ValueError("budget() takes exactly one of at_most and at_least")
    bound = at_most if at_most is not None else at_least
    assert bound is not None
    sign = "<=" if at_most is not None else ">="
    target = (
        f"{sign} {bound:g}{unit}" if unit in ("x", "") else f"{sign} {bound:g} {unit}"
    )
    if isinstance(figure, dict):
        value = figure.get("value", figure.get("median"))
        p10, p90 = figure.get("p10"), figure.get("p90")
    else:
        value, p10, p90 = figure, None, None
    measured = value is not None and not math.isnan(value)
    ok = measured and (value <= bound if at_most is not None else value >= bound)  # type: ignore[operator]
    return {
        "name": name,
        "value": value if measured else None,
        "unit": unit,
        "p10": p10,
        "p90": p90,
        "target": target,
        "pass": bool(ok),
    }


def verdict(ok: bool | None) -> str:
    return {True: "PASS", False: "MISS"}.get(ok, "n/a")  # type: ignore[arg-type]


def print_budgets(
    budgets: list[dict[str, Any]],
    context: dict[str, dict[str, float] | None] | None = None,
    width: int = 58,
) -> None:
    """The budget lines (value, p10-p90, target, verdict), then ratios for context."""
    print(
        f"  {'budget':<{width + 2}}{'value':>10}  {'p10-p90':<18}{'target':<11}verdict"
    )
    for b in budgets:
        if b["value"] is None:
            value, between = "-", "(not measured)"
        else:
            value = fmt(b["value"], b["unit"])
            between = (
                ""
                if b["p10"] is None
                else f"{fmt(b['p10'], b['unit'])}-{fmt(b['p90'], b['unit'])}"
            )
        print(
            f"    {b['name']:<{width}}{value:>10}  {between:<18}{b['target']:<11}"
            f"{verdict(b['pass'])}"
        )
    for name, r in (context or {}).items():
        if r is not None:
            between = f"{fmt(r['p10'], 'x')}-{fmt(r['p90'], 'x')}"
            print(
                f"    {name:<{width}}{fmt(r['value'], 'x'):>10}  {between:<18}(context)"
            )


# -- formatting ----------------------------------------------------------------------
def fmt_ns(ns: float) -> str:
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def fmt_x(x: float) -> str:
    if math.isnan(x):
        return "n/a"
    if x >= 100:
        return f"{x:.0f}x"
    if x >= 10:
        return f"{x:.1f}x"
    return f"{x:.2f}x"


def fmt_rate(rows_per_s: float) -> str:
    if rows_per_s >= 1e6:
        return f"{rows_per_s / 1e6:.2f} M rows/s"
    return f"{rows_per_s / 1e3:.0f} k rows/s"


def fmt_ms(ms: float) -> str:
    if math.isnan(ms):
        return "n/a"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def fmt(value: float | None, unit: str) -> str:
    """A figure in its unit: a ratio as ``1.39x``, a time as ``0.79 ms``."""
    if value is None or math.isnan(value):
        return "n/a"
    if unit == "x":
        return fmt_x(value)
    if unit == "":
        return str(int(value)) if float(value).is_integer() else f"{value:.1e}"
    if unit == "ms":
        return fmt_ms(value)
    if unit == "ns":
        return fmt_ns(value)
    return f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}"


def print_timings(
    title: str, results: dict[str, Any], labels: dict[str, str], rows: int | None
) -> None:
    head = f"  {title:<52}{'median':>11}{'p10':>11}{'p90':>11}"
    print(head + (f"{'throughput':>18}" if rows else ""))
    for key, label in labels.items():
        if key not in results:
            continue
        s = results[key]["ns_per_call"]
        line = f"    {label:<50}{fmt_ns(s['median']):>11}{fmt_ns(s['p10']):>11}{fmt_ns(s['p90']):>11}"
        if rows:
            line += f"{fmt_rate(rows / (s['median'] / 1e9)):>18}"
        print(line)


# -- where and what ran --------------------------------------------------------------
def git_state() -> str:
    """The commit, and whether featurekit/ or serving/ differ from it (what is timed)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "featurekit", "serving"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" + uncommitted changes in featurekit/serving" if dirty else "")


def code_digest() -> str:
    """A digest of the timed code (featurekit/, serving/), to tell runs apart."""
    h = hashlib.sha256()
    for path in sorted(
        [*ROOT.glob("featurekit/**/*.py"), *ROOT.glob("serving/**/*.py")]
    ):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def versions(*dists: str) -> dict[str, str]:
    """Installed versions of these distributions ("not installed" where absent)."""
    out = {}
    for d in dists:
        try:
            out[d] = version(d)
        except PackageNotFoundError:
            out[d] = "not installed"
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    """The machine: CPU, cores, memory, OS and Python."""
    return {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


# -- the JSON record -----------------------------------------------------------------
def add_json_option(parser: argparse.ArgumentParser, bench: str) -> None:
    """``--json [PATH]``: write every number to PATH (default bench/results/BENCH.json)."""
    default = RESULTS / f"{bench}.json"
    parser.add_argument(
        "--json",
        nargs="?",
        const=default,
        type=Path,
        metavar="PATH",
        help=f"write every number as JSON to PATH (default {default.relative_to(ROOT)})",
    )


def _command(argv: Sequence[str]) -> str:
    """How this process was started, paths inside the repository made relative."""

    def rel(arg: str, *, always: bool = False) -> str:
        if not (always or Path(arg).is_absolute()):
            return arg
        try:  # abspath, not resolve: .venv/bin/python is a symlink out of the repo
            return str(Path(os.path.abspath(arg)).relative_to(ROOT))
        except ValueError:
            return arg

    exe = rel(sys.executable)
    exe = "python" if Path(exe).is_absolute() else exe
    return " ".join([exe, rel(argv[0], always=True), *map(rel, argv[1:])])


class Run:
    """One run of a bench: when and where it started; `write` records it as JSON.

    Every bench writes the same layout, which ``bench/report.py`` reads::

        {"bench": NAME, "command": "...", "date": "...Z", "seconds": ...,
         "machine": {...}, "load_average": {"start": [1, 5, 15 min], "end": [...]},
         "code": {"git": "...", "digest": "..."}, "versions": {...},
         "config": {...}, "budgets": [budget lines], "results": {...}}
    """

    def __init__(self, bench: str) -> None:
        self.bench = bench
        self.command = _command(sys.argv)
        self.date = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.started = time.perf_counter()
        self.load_start = os.getloadavg()
        self.code = {"git": git_state(), "digest": code_digest()}

    def write(
        self,
        path: Path,
        *,
        config: dict[str, Any],
        budgets: list[dict[str, Any]],
        results: dict[str, Any],
        versions: dict[str, Any],
    ) -> None:
        payload = {
            "bench": self.bench,
            "command": self.command,
            "date": self.date.isoformat().replace("+00:00", "Z"),
            "seconds": round(time.perf_counter() - self.started, 1),
            "machine": machine(),
            "load_average": {"start": self.load_start, "end": os.getloadavg()},
            "code": self.code,
            "versions": versions,
            "config": config,
            "budgets": budgets,
            "results": results,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps(payload) + "\n")
        print(f"wrote {_rel(path)}")


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def dumps(value: Any, level: int = 0) -> str:
    """JSON, indented, with every list of plain values on one line (samples, flags)."""
    pad, end = "  " * (level + 1), "  " * level
    if isinstance(value, dict) and value:
        items = [
            f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {dumps(v, level + 1)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(value, list | tuple) and any(
        isinstance(v, dict | list | tuple) for v in value
    ):
        items = [pad + dumps(v, level + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + end + "]"
    return json.dumps(value, default=_plain, ensure_ascii=False)


def _plain(value: Any) -> Any:
    """numpy scalars and arrays, and paths, as JSON holds them."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return float(value)
