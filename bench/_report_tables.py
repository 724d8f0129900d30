"""The figures tables of docs/benchmarks.md, one function per bench, from its JSON record.

Each function takes a record (``bench/_common.py``'s `Run` layout) and returns markdown
blocks; ``bench/report.py`` puts them under the bench's budgets. `TABLES` maps a bench
name to its function.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable
from typing import Any

from _common import fmt_ms, fmt_ns, fmt_rate, fmt_x

Record = dict[str, Any]


def cell(value: Any) -> str:
    """A markdown table cell: pipes escaped (once), newlines folded."""
    return re.sub(r"(?<!\\)\|", r"\\|", str(value)).replace("\n", " ")


def table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(cell(h) for h in head) + " |"]
    lines.append("|" + "---|" * len(head))
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _median(res: dict[str, Any], key: str) -> float | None:
    return res[key]["ns_per_call"]["median"] if key in res else None


def _time(res: dict[str, Any], key: str) -> str:
    ns = _median(res, key)
    return "–" if ns is None else fmt_ns(ns)


def _rate(res: dict[str, Any], key: str, rows: int) -> str:
    ns = _median(res, key)
    return "–" if ns is None else fmt_rate(rows / (ns / 1e9))


def _ratio(r: dict[str, float] | None) -> str:
    if r is None or r.get("value") is None or math.isnan(r["value"]):
        return "–"
    return f"{fmt_x(r['value'])} ({fmt_x(r['p10'])}–{fmt_x(r['p90'])})"


def _by_case(
    cases: dict[str, Record], rows: list[tuple[str, Callable[[Record], str]]]
) -> list[list[str]]:
    return [[label, *(get(c) for c in cases.values())] for label, get in rows]


# -- predict -------------------------------------------------------------------------
def predict(record: Record) -> list[str]:
    models = record["results"]["models"]
    n = record["config"]["rows"]
    k = f"{n // 1000}k rows"
    rows: list[tuple[str, Callable[[Record], str]]] = [
        (
            "1 row: Predictor.predict_proba(dict)",
            lambda m: _time(m["single_row"], "predictor"),
        ),
        (
            "1 row: bare session.run, prebuilt feeds",
            lambda m: _time(m["single_row"], "bare"),
        ),
        (
            "1 row: scikit-learn predict_proba",
            lambda m: _time(m["single_row"], "sklearn"),
        ),
        (
            "1 row: scikit-learn + pandera",
            lambda m: _time(m["single_row"], "sklearn_pandera"),
        ),
        (
            "1 row: Predictor − bare",
            lambda m: f"{m['single_row_overhead_us']:.1f} µs",
        ),
        (f"{k}: Predictor", lambda m: _rate(m["batch"], "predictor", n)),
        (f"{k}: bare session.run, 1 thread", lambda m: _rate(m["batch"], "bare", n)),
        (
            f"{k}: fresh onnxruntime session, default threads",
            lambda m: _rate(m["batch"], "bare_default", n),
        ),
        (f"{k}: scikit-learn", lambda m: _rate(m["batch"], "sklearn", n)),
    ]
    first = next(iter(models.values()))
    rows += [
        (f"{name} (context)", lambda m, name=name: _ratio(m["context"].get(name)))
        for name in first["context"]
    ]
    head = [
        "figure (medians; throughput in rows/s)",
        *(m["model"] for m in models.values()),
    ]
    return [table(head, _by_case(models, rows))]


# -- anchors -------------------------------------------------------------------------
def _named(lines: list[Record], suffix: str) -> Record | None:
    return next((b for b in lines if b["name"].endswith(suffix)), None)


def _anchor_rows(key: str, m: Record) -> list[list[str]]:
    single, batch, n = m["single_row"], m["batch"], m["batch_rows"]
    budgets = m["budgets"] + m.get("http", {}).get("budgets", [])
    context, k = m.get("context", {}), f"{n // 1000}k rows"
    name = m["model"].split("(")[0]
    rows = [
        [
            f"{name}: 1 row, `Predictor.predict_proba`, contract and monitoring on",
            _time(single, "featurekit"),
            f"wrapper {_time(single, 'wrapper')}",
            _ratio(_named(budgets, "1 row: featurekit / wrapper time")),
        ],
        [
            f"{name}: 1 row, the graphs alone (context)",
            _time(single, "featurekit_graph") + _nodes(m, "featurekit"),
            f"wrapper's {_time(single, 'wrapper_graph')}" + _nodes(m, "wrapper"),
            _ratio(
                context.get(f"{key}: 1 row, the graphs alone: featurekit / wrapper")
            ),
        ],
        [
            f"{name}: 1 row, the graphs alone, caches cold (context)",
            _time(single, "featurekit_graph_cold"),
            f"wrapper's {_time(single, 'wrapper_graph_cold')}",
            _ratio(
                context.get(
                    f"{key}: 1 row, the graphs alone, caches cold: featurekit / wrapper"
                )
            ),
        ],
        [
            f"{name}: {k}",
            _rate(batch, "featurekit", n),
            f"wrapper {_rate(batch, 'wrapper', n)}",
            _ratio(_named(budgets, "rows: featurekit / wrapper throughput")),
        ],
        [
            f"{name}: {k}, monitoring off (context)",
            _rate(batch, "featurekit_no_monitor", n),
            f"wrapper {_rate(batch, 'wrapper', n)}",
            _ratio(context.get(f"{key}: {k}, monitoring off / wrapper throughput")),
        ],
    ]
    cells = m.get("http", {}).get("cells", {})
    for c in (1, 8):
        ours, bare = cells.get(f"featurekit c={c}"), cells.get(f"bare c={c}")
        if ours is None or bare is None:
            continue
        rps = _ratio(_named(budgets, f"c={c}: featurekit / bare throughput"))
        p50 = _ratio(_named(budgets, f"c={c}: featurekit / bare p50"))
        rows.append(
            [
                f"{name}: HTTP, one worker, c={c}: `featurekit serve` /predict",
                f"{ours['rps']['median']:,.0f} req/s, p50 "
                f"{fmt_ms(ours['p50_ms']['median'])}" + _p99(ours),
                f"bare server {bare['rps']['median']:,.0f} req/s, p50 "
                f"{fmt_ms(bare['p50_ms']['median'])}" + _p99(bare),
                f"throughput {rps}; p50 {p50}",
            ]
        )
    http = m.get("http", {})
    for c in (1, 8):
        off, bare = cells.get(f"featurekit_no_monitor c={c}"), cells.get(f"bare c={c}")
        if off is None or bare is None:
            continue
        context = http.get("context", {}).get(
            f"{key}: HTTP c={c}: featurekit, monitoring off / bare"
        )
        rows.append(
            [
                f"{name}: HTTP, c={c}, drift monitoring off (context)",
                f"{off['rps']['median']:,.0f} req/s" + _p99(off, ", "),
                f"bare server {bare['rps']['median']:,.0f} req/s" + _p99(bare, ", "),
                f"throughput {_ratio(context)}",
            ]
        )
    for c in (1, 8):
        ours, bare = cells.get(f"featurekit c={c}"), cells.get(f"bare c={c}")
        off = cells.get(f"featurekit_no_monitor c={c}")
        if ours is None or off is None or bare is None or "server_cpu_us" not in ours:
            continue
        rows.append(
            [
                f"{name}: HTTP, c={c}: server CPU per answer (context)",
                f"{ours['server_cpu_us']['median']:,.0f} µs (monitoring off "
                f"{off['server_cpu_us']['median']:,.0f} µs)",
                f"bare server {bare['server_cpu_us']['median']:,.0f} µs",
                "–",
            ]
        )
    for label, cell in cells.items():
        if not label.startswith("featurekit_workers "):
            continue
        c = label.split("c=")[1]
        one = cells.get(f"featurekit c={c}")
        workers = _named(budgets, "workers / one worker throughput, per worker")
        n = _workers_in(workers)
        cores = "server_cores" in cell and one is not None
        rows.append(
            [
                f"{name}: HTTP, {n} workers, c={c}: throughput per worker",
                f"{cell['rps']['median']:,.0f} req/s in all"
                + (f", {cell['server_cores']['median']:.2f} cores" if cores else ""),
                (f"one worker {one['rps']['median']:,.0f} req/s" if one else "")
                + (f", {one['server_cores']['median']:.2f} cores" if cores else ""),
                _ratio(workers),
            ]
        )
    return rows


def _p99(cell: Record, sep: str = ", ") -> str:
    """ ", p99 X" of an HTTP cell, where the run recorded it."""
    p99 = cell.get("p99_ms")
    return "" if p99 is None else f"{sep}p99 {fmt_ms(p99['median'])}"


def _nodes(m: Record, side: str) -> str:
    """ ", N nodes" of one side's graph, where the run counted them."""
    n = m.get("graph_nodes", {}).get(side)
    return "" if n is None else f", {n} nodes"


def _workers_in(line: Record | None) -> str:
    """The N of an "N workers" budget line."""
    if line is None:
        return "N"
    return line["name"].split(" workers")[0].rsplit(" ", 1)[-1]


def anchors(record: Record) -> list[str]:
    """Each measure of issue 18: featurekit, the anchor, and their ratio."""
    rows = [
        row
        for key, m in record["results"]["models"].items()
        for row in _anchor_rows(key, m)
    ]
    return [table(["measure", "featurekit", "anchor", "ratio (p10–p90)"], rows)]


# -- contract ------------------------------------------------------------------------
def contract(record: Record) -> list[str]:
    cases = {
        f"{r['model'].split('(')[0]}, {w} cols": r
        for per in record["results"]["models"].values()
        for w, r in per.items()
    }
    n = record["config"]["rows"]
    k = f"{n // 1000}k rows"
    rows: list[tuple[str, Callable[[Record], str]]] = [
        ("1 row: Columns.coerce(dict)", lambda r: _time(r["single_row"], "coerce")),
        (
            "1 row: coerce per column / batch: per cell",
            lambda r: (
                f"{fmt_ns(r['single_row_coerce_ns_per_column'])} / "
                f"{fmt_ns(r['batch_coerce_ns_per_cell'])}"
            ),
        ),
        (
            "1 row: Predictor.predict(dict)",
            lambda r: _time(r["single_row"], "predictor"),
        ),
        (
            "1 row: Predictor, drift monitoring on",
            lambda r: _time(r["single_row"], "predictor_monitored"),
        ),
        (
            "1 row: bare session.run, prebuilt feeds",
            lambda r: _time(r["single_row"], "bare"),
        ),
        (
            "1 row: scikit-learn + pandera",
            lambda r: _time(r["single_row"], "sklearn_pandera"),
        ),
        (f"{k}: Predictor", lambda r: _rate(r["batch"], "predictor", n)),
        (
            f"{k}: Predictor, drift monitoring on",
            lambda r: _rate(r["batch"], "predictor_monitored", n),
        ),
        (f"{k}: bare session.run, 1 thread", lambda r: _rate(r["batch"], "bare", n)),
        (f"{k}: Columns.coerce alone", lambda r: _rate(r["batch"], "coerce", n)),
        (
            f"{k}: Contract.validate (pandera reference)",
            lambda r: _rate(r["batch"], "contract_validate", n),
        ),
    ]
    first = next(iter(cases.values()))
    rows += [
        (f"{name} (context)", lambda r, name=name: _ratio(r["context"].get(name)))
        for name in first["context"]
    ]
    head = ["figure (medians; throughput in rows/s)", *cases]
    return [table(head, _by_case(cases, rows))]


# -- derived -------------------------------------------------------------------------
def derived(record: Record) -> list[str]:
    res = record["results"]
    t, r = res["timings"], res["ratios"]
    n = record["config"]["batch_rows"]
    rows = [
        ["1 row: Predictor.predict(dict)", _time(t, "predictor_1")],
        ["1 row: bare session.run, prebuilt feeds", _time(t, "bare_1")],
        ["1 row: scikit-learn pipe.predict", _time(t, "sklearn_1")],
        ["1 row: scikit-learn / Predictor", _ratio(r["1 row: sklearn / Predictor"])],
        [f"{n:,} rows: Predictor.predict", _time(t, "predictor_big")],
        [f"{n:,} rows: bare session.run", _time(t, "bare_big")],
        [f"{n:,} rows: scikit-learn pipe.predict", _time(t, "sklearn_big")],
        [
            f"{n:,} rows: scikit-learn / Predictor",
            _ratio(r["batch: Predictor / sklearn throughput"]),
        ],
        [f"training: transform of {n:,} rows", _time(t, "transform_big")],
        [
            f"training: the {res['expressions']} expressions alone",
            f"{_time(t, 'expressions_big')} ({res['expression_ns_per_row']:.0f} ns "
            "a row and expression)",
        ],
    ]
    return [table(["figure (medians)", "result"], rows)]


# -- grpc_server ---------------------------------------------------------------------
GRPC_VARIANTS = {
    "grpc_raw": "gRPC ModelInfer, raw_input_contents",
    "grpc_typed": "gRPC ModelInfer, typed contents",
    "http_oip": "HTTP OIP `/v2/models/{name}/infer`, JSON",
    "http_predict": "HTTP `/predict`, one JSON record",
}


def grpc_server(record: Record) -> list[str]:
    res = record["results"]
    rows = [
        [label, _time(res["timings"], key), f"{res['bytes'][key]:,}"]
        for key, label in GRPC_VARIANTS.items()
    ]
    rows += [[name, _ratio(r), ""] for name, r in res["ratios"].items()]
    return [table(["one row, c=1 (medians)", "result", "request bytes"], rows)]


# -- http_server ---------------------------------------------------------------------
HTTP_ENDPOINTS = {
    "predict": "featurekit `/predict`",
    "infer": "featurekit OIP `/v2/models/{name}/infer`",
    "baseline": "FastAPI + pandera + scikit-learn",
}


def http_server(record: Record) -> list[str]:
    conc = record["config"]["concurrency"]
    rows = []
    for m in record["results"]["models"].values():
        for e, per in m["endpoints"].items():
            row = [m["model"] if e == "predict" else "", HTTP_ENDPOINTS.get(e, e)]
            for c in conc:
                s = per[str(c)]
                row.append(
                    f"{fmt_ms(s['p50_ms']['median'])} / {fmt_ms(s['p99_ms']['median'])}"
                    f" / {s['rps']['median']:,.0f}"
                )
            rows.append(row)
        startup = ", ".join(
            f"{'featurekit' if k == 'ours' else k} {v['median']:.2f} s"
            for k, v in m["startup_s"].items()
        )
        rows.append(
            ["", f"startup (median of {record['config']['startups']})", startup]
        )
    head = ["model", "endpoint", *(f"c={c}: p50 / p99 / req/s" for c in conc)]
    width = len(head)
    rows = [r + [""] * (width - len(r)) for r in rows]
    return [table(head, rows)]


# -- monitor -------------------------------------------------------------------------
def monitor(record: Record) -> list[str]:
    res = record["results"]
    rows = []
    for size in ("1", "64"):
        r = res[size]
        lo, hi = r["monitor_observe_p10_p90"]
        rows.append(
            [
                size,
                f"{r['monitor_observe_us_per_row']:.2f} µs ({lo:.2f}–{hi:.2f})",
                f"{r['us_per_row']['off']:.2f} µs",
                f"{r['paired_counting_overhead_us_per_row']:+.2f} µs",
                f"{r['paired_default_overhead_us_per_row']:+.2f} µs",
            ]
        )
    window = record["config"]["window"]
    ms = res["evaluate_ms_per_window"]
    return [
        table(
            [
                "batch size",
                "monitor's hot path, a row (p10–p90)",
                "Predictor without monitoring, a row",
                "paired: + counting",
                f"paired: + windows tested every {window:,} rows",
            ],
            rows,
        ),
        f"Testing one closed window ({res['features_and_outputs']} features and "
        f"outputs) takes {ms:.2f} ms, {ms * 1e3 / window:.2f} µs a row at {window:,} "
        "rows a window, on the monitor's thread.",
    ]


# -- drift ---------------------------------------------------------------------------
def _pct(r: dict[str, Any] | None) -> str:
    if r is None:
        return "–"
    lo, hi = r["ci95"]
    return f"{100 * r['rate']:.1f}% [{100 * lo:.1f}–{100 * hi:.1f}]"


def drift(record: Record) -> list[str]:
    res = record["results"]
    t = res["targets"]
    rows = []
    for c in res["cells"].values():
        fk, ev = c["featurekit"], c.get("evidently")
        for group, r in fk["groups"].items():
            e = ev["groups"][group] if ev else None
            if c["kind"] == "null":
                target, ok = (
                    f"≤ {t['false_alarm_max']:.0%}",
                    r["rate"] <= t["false_alarm_max"],
                )
            elif c["kind"] == "harmless":
                target, ok = (
                    f"≤ {t['harmless_max']:.0%}",
                    r["rate"] <= t["harmless_max"],
                )
            elif c["kind"] == "power":
                target, ok = "≥ Evidently", (r["rate"] >= e["rate"] if e else None)
                floor = t.get("power_01_min", 0.6)  # issue 15: 0.1σ on a normal column
                if c.get("delta") == 0.1 and group == "normal":
                    target = f"≥ Evidently, ≥ {floor:.0%}"
                    ok = ok is not False and r["rate"] >= floor
            elif c["kind"] == "glaring":
                floor = t.get("glaring_min", 0.8)
                target, ok = f"≥ {floor:.0%}", r["rate"] >= floor
            elif c["kind"] == "joint":
                target, ok = "(context)", None
            else:
                target, ok = f"≥ {t['detect_min']:.0%}", r["rate"] >= t["detect_min"]
            rows.append(
                [f"{c['label']}: {group}", _pct(r), _pct(e), target, _verdict(ok)]
            )
        e = ev["dataset"] if ev else None
        if c["kind"] == "joint":
            floor = t.get("joint_min", 0.8)
            ok = fk["dataset"]["rate"] >= floor
            rows.append(
                [
                    f"{c['label']}: dataset",
                    _pct(fk["dataset"]),
                    _pct(e),
                    f"≥ {floor:.0%}",
                    _verdict(ok),
                ]
            )
        elif c["kind"] in ("null", "harmless"):
            limit = t["false_alarm_max" if c["kind"] == "null" else "harmless_max"]
            ok = fk["dataset"]["rate"] <= limit
            rows.append(
                [
                    f"{c['label']}: dataset",
                    _pct(fk["dataset"]),
                    _pct(e),
                    f"≤ {limit:.0%}",
                    _verdict(ok),
                ]
            )
        else:
            rows.append(
                [
                    f"{c['label']}: dataset",
                    _pct(fk["dataset"]),
                    _pct(e),
                    "(context)",
                    "",
                ]
            )
        if fk.get("multivariate") is not None:  # featurekit's (multivariate) row
            label = f"{c['label']}: featurekit's multivariate row"
            rows.append([label, _pct(fk["multivariate"]), "–", "(context)", ""])
        ceiling = c.get("ceiling")  # the exact binomial oracle, same windows
        if ceiling:
            for label, key in (
                (
                    f"ceiling, exact binomial oracle at 5 %/{ceiling['tests']}",
                    "at_family",
                ),
                ("oracle that also knows the column, at 5 %", "at_alpha"),
            ):
                r = ceiling[key]
                rows.append([f"{c['label']}: {label}", _pct(r), "–", "(ceiling)", ""])
    ev_name = f"Evidently {record['versions'].get('evidently') or ''}".strip()
    blocks = [
        table(
            [
                "cell (windows flagged, Wilson 95 % interval)",
                "featurekit",
                ev_name,
                "target",
                "verdict",
            ],
            rows,
        )
    ]
    est = res.get("estimate")
    if est:  # performance estimated without labels (issue 15); Evidently has none
        blocks.append(
            f"Performance estimated without labels: {est['trials']} windows of "
            f"{est['rows']:,} rows per cell, a well-specified logistic model exported "
            f"with its holdout's labels (map: {est['map']}); Evidently's preset has no "
            "such estimate."
        )
        erows = [
            [
                label,
                f"{100 * est[cell]['coverage']:.1f}% ({est[cell]['covered']} of "
                f"{len(est[cell]['windows'])})",
                f"{est[cell]['mean_abs_error']:.3f}",
                f"{est[cell]['mean_width']:.3f}",
                target,
            ]
            for cell, label, target in (
                ("covariate", "covariate shift", "≥ 90 %"),
                (
                    "concept",
                    "concept shift (labels flipped): the blind spot",
                    "(context)",
                ),
            )
        ]
        blocks.append(
            table(
                [
                    "cell",
                    "realised accuracy inside the 95 % interval",
                    "mean |estimate − realised|",
                    "mean interval width",
                    "target",
                ],
                erows,
            )
        )
    timing = res["timing"]
    n = timing["rows"]
    fk_runs = timing["featurekit"]["runs"]
    trows = [
        [
            f"featurekit `fk.drift(outputs=False)`, median of {len(fk_runs['inputs'])}",
            _seconds(fk_runs["inputs"]),
            _mib(fk_runs["inputs"]),
        ]
    ]
    if fk_runs.get("with_outputs"):
        trows.append(
            [
                "featurekit `fk.drift(outputs=True)` (context: scores the rows too)",
                _seconds(fk_runs["with_outputs"]),
                _mib(fk_runs["with_outputs"]),
            ]
        )
    if "evidently" in timing:
        runs = timing["evidently"]["runs"]
        trows.append(
            [
                f"Evidently `Report([DataDriftPreset()]).run`, {len(runs)} run(s)",
                _seconds(runs),
                _mib(runs),
            ]
        )
    if "evidently_tests_only" in timing:
        runs = timing["evidently_tests_only"]["runs"]
        trows.append(
            ["Evidently's per-column tests alone (context)", _seconds(runs), _mib(runs)]
        )
    blocks.append(
        f"Timed: {n:,} rows × {timing['numeric_columns'] + timing['categorical_columns']} "
        f"columns ({timing['numeric_columns']} numeric, {timing['categorical_columns']} "
        f"categorical), no drift, against a {timing['reference_rows']:,}-row reference."
    )
    blocks.append(table(["call", "seconds", "peak memory growth"], trows))
    blocks.append(
        table(
            ["Done when", "verdict"],
            [[v["name"], _verdict(v["pass"])] for v in res["verdicts"]],
        )
    )
    return blocks


def _seconds(runs: list[dict[str, Any]]) -> str:
    values = sorted(r["seconds"] for r in runs)
    return f"{values[len(values) // 2]:.2f} s"


def _mib(runs: list[dict[str, Any]]) -> str:
    values = sorted(r["peak_mib"] for r in runs)
    v = values[len(values) // 2]
    return "< 1 MiB" if v < 1 else f"{v:,.0f} MiB"


def _verdict(ok: bool | None) -> str:
    return {True: "PASS", False: "**MISS**"}.get(ok, "n/a")  # type: ignore[arg-type]


# -- the matrices --------------------------------------------------------------------
def _e(v: float) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:.1e}"


def parity_matrix(record: Record) -> list[str]:
    rows = [
        [
            r["model"],
            r["dataset"],
            r["task"],
            f"{r['certificate_rows']:,}",
            _e(r["certificate_max_abs_diff"]),
            f"{r['independent_rows']:,}",
            _e(r["independent_max_abs_diff"]),
            r["flipped_labels"],
        ]
        for r in record["results"]["rows"]
    ]
    head = [
        "model",
        "dataset",
        "task",
        "certificate rows",
        "certificate max abs diff",
        "independent rows",
        "independent max abs diff",
        "flipped labels",
    ]
    return [table(head, rows)]


def _tm_cell(mine: list[Record], tolerance: float) -> str:
    """One family's verdict on one transform, over both tasks."""

    def within(r: Record) -> bool:
        return (
            r["status"] == "certified"
            and r["independent_max_abs_diff"] <= tolerance
            and r["flipped_labels"] == 0
        )

    def tasks(rows: list[Record]) -> str:
        return ", ".join(dict.fromkeys(r["task"] for r in rows))

    ok = [r for r in mine if within(r)]
    differs = [r for r in mine if r["status"] == "certified" and not within(r)]
    refused = [r for r in mine if r["status"] == "refused"]
    parts = []
    if ok:
        worst = max(
            max(r["certificate_max_abs_diff"], r["independent_max_abs_diff"])
            for r in ok
        )
        parts.append(_e(worst) + ("" if len(ok) == len(mine) else f" ({tasks(ok)})"))
    for r in differs:
        parts.append(
            f"**certified, but differs: {_e(r['independent_max_abs_diff'])}** ({r['task']})"
        )
    if refused:
        kinds = sorted({r["reason"].split(":", 1)[0] for r in refused})
        parts.append(f"refused: {', '.join(kinds)} ({tasks(refused)})")
    return "; ".join(parts)


def transform_matrix(record: Record) -> list[str]:
    res = record["results"]
    rows = res["rows"]
    tol = record["config"]["tolerance"]
    families = list(dict.fromkeys(r["family"] for r in rows))
    summary = [
        [
            res["what"].get(t, t),
            f"{tol:g}",
            *(
                _tm_cell(
                    [r for r in rows if r["transform"] == t and r["family"] == f], tol
                )
                for f in families
            ),
        ]
        for t in dict.fromkeys(r["transform"] for r in rows)
    ]
    heads = [res["family_heads"].get(f, f) for f in families]
    detail = []
    for r in rows:
        if r["status"] == "refused":
            detail.append(
                [
                    r["transform"],
                    r["model"],
                    r["task"],
                    f"refused: {r['reason']}",
                    "",
                    "",
                    "",
                    "",
                    f"{r['seconds']:.1f}",
                ]
            )
        else:
            detail.append(
                [
                    r["transform"],
                    r["model"],
                    r["task"],
                    f"{r['certificate_rows']:,}",
                    _e(r["certificate_max_abs_diff"]),
                    f"{r['independent_rows']:,} ({r['contract_rejected_rows']:,})",
                    _e(r["independent_max_abs_diff"]),
                    r["flipped_labels"],
                    f"{r['seconds']:.1f}",
                ]
            )
    head = [
        "transform",
        "model",
        "task",
        "certificate rows",
        "certificate max abs diff",
        "independent rows (refused by contract)",
        "independent max abs diff",
        "flipped labels",
        "seconds",
    ]
    return [
        table(["transform", "tolerance", *heads], summary),
        f"<details><summary>All {len(rows)} rows: certificate and independent check "
        "per model</summary>\n\n" + table(head, detail) + "\n\n</details>",
    ]


# -- export at scale -----------------------------------------------------------------
def export_scale(record: Record) -> list[str]:
    rows = []
    for res in record["results"].values():
        cert = res["certificate"]
        trees = cert["checks"].get("trees", {})
        rows.append(
            [
                f"{res['trees']} trees, {res['rows']:,} rows",
                f"{res['nodes']:,}",
                f"{statistics.median(res['fit_s']):.1f} s",
                f"{statistics.median(res['export_s']):.1f} s",
                _ratio(res["export_over_fit"]),
                ", ".join(f"{k} {v:.1f} s" for k, v in res["phases_s"].items()),
                f"{res['files_bytes']['model.onnx'] / 1e6:.1f} MB",
                f"{res['artifact_bytes'] / 1e6:.1f} MB",
                f"{res['skl2onnx_bytes'] / 1e6:.1f} MB",
                f"{res['artifact_over_skl2onnx']:.2f}x",
                f"{res['peak_rss_bytes'] / 2**30:.2f} GiB",
                f"{cert['rows']:,}",
                f"{trees.get('splits', cert['splits_covered']):,}",
                f"{cert['seconds']:.1f} s",
            ]
        )
    head = [
        "forest",
        "nodes",
        "fit",
        "export",
        "export / fit",
        "export phases",
        "model.onnx",
        "artifact",
        "skl2onnx graph",
        "artifact / skl2onnx",
        "export peak RSS",
        "certified rows",
        "splits probed",
        "certificate",
    ]
    return [table(head, rows)]


# -- compare_power -------------------------------------------------------------------
def compare_power(record: Record) -> list[str]:
    res = record["results"]

    def sim(r: dict[str, float]) -> str:
        return f"{r['value']:.2%} ({r['low']:.2%}–{r['high']:.2%})"

    rows = [
        [
            f"accuracy, {float(disc):.0%} of rows discordant",
            f"{r['exact']['null']:.2%}",
            sim(r["simulated"]["null"]),
            f"{r['exact']['power']:.1%}",
            sim(r["simulated"]["power"]),
            _conditional(r),
        ]
        for disc, r in res["accuracy"].items()
    ]
    rows += [
        [f"{name} ({r['runs']} runs)", "–", sim(r["false_promotion"]), "–", "–", "–"]
        for name, r in res["noise"].items()
    ]
    head = [
        f"scenario ({record['config']['runs']} runs unless said)",
        "false promotion, exact",
        "simulated (95 % MC interval)",
        "power for +2 points, exact",
        "simulated",
        "exact conditional McNemar instead: false promotion / power",
    ]
    return [table(head, rows)]


def _conditional(r: dict[str, Any]) -> str:
    """The exact conditional McNemar test's figures, where the record has them."""
    c = r.get("exact_conditional_test")
    return f"{c['null']:.2%} / {c['power']:.1%}" if c else "–"


# -- Spark ---------------------------------------------------------------------------
def spark(record: Record) -> list[str]:
    res = record["results"]
    cores = res["cores"]
    row = [
        f"{res['rows']:,} rows in {res['files']} files",
        fmt_rate(res["single_rows_per_s"]),
        fmt_rate(res["spark_rows_per_s"]) + f" on {cores} cores",
        fmt_rate(res["spark_rows_per_s_per_core"]),
        _ratio(res["per_core_over_single"]),
        _ratio(res["per_cpu_second_over_single"]),
        f"{res['billion_rows_core_hours']:.1f}",
        # what Spark's JVM and workers spent: the figure for cores that are one's own
        f"{statistics.median(res['spark_cpu_s']) / res['rows'] * 1e9 / 3600:.1f}",
    ]
    head = [
        "data",
        "single process",
        "Spark",
        "Spark per core",
        "per core / single",
        "per CPU-second / single",
        "core-hours per 1e9 rows (wall x cores)",
        "core-hours per 1e9 rows (CPU time)",
    ]
    return [table(head, [row])]


TABLES: dict[str, Callable[[Record], list[str]]] = {
    "predict": predict,
    "anchors": anchors,
    "contract": contract,
    "derived": derived,
    "grpc_server": grpc_server,
    "http_server": http_server,
    "monitor": monitor,
    "drift": drift,
    "parity_matrix": parity_matrix,
    "transform_matrix": transform_matrix,
    "export_scale": export_scale,
    "spark": spark,
    "compare_power": compare_power,
}
