"""The figures tables of ``bench/outcomes.py`` (the prediction log) for docs/benchmarks.md.

`outcomes` takes the bench's JSON record (``bench/_common.py``'s `Run` layout) and
returns markdown blocks; ``bench/report.py`` puts them under the budgets.
"""

from __future__ import annotations

from typing import Any

from _report_tables import table

Record = dict[str, Any]


def _us(s: dict[str, float]) -> str:
    return f"{s['median']:+.2f} µs ({s['p10']:+.2f} to {s['p90']:+.2f})"


def _in_process(res: Record) -> str:
    rows = []
    for size in ("1", "64", "1000"):
        r = res[size]
        rows.append(
            [
                size,
                f"{r['caller_cpu_us_per_row']['off']['median']:.2f} µs",
                _us(r["extra_us_per_row"]),
                f"{r['extra_request_path_us_per_row']['median']:+.2f} µs",
                f"{r['writer_us_per_row']['median']:.2f} µs",
                f"{r['process_extra_us_per_row']['median']:+.2f} µs",
            ]
        )
    head = [
        "batch size",
        "a row without the log (caller's CPU)",
        "extra a row with the log, CPU (p10 to p90)",
        "of which the caller's",
        "of which the writer's",
        "process CPU, drift threads too",
    ]
    return table(head, rows)


def _http(res: Record) -> list[str]:
    if "skipped" in res:
        return [f"HTTP part not run: {res['skipped']}."]
    rows = [
        [
            label,
            f"{res['rps'][key]['median']:,.0f} req/s",
            f"{res['p50_ms'][key]['median']:.2f} ms",
            f"{res['p99_ms'][key]['median']:.2f} ms",
            f"{res['server_cpu_us_per_request'][key]['median']:.0f} µs",
        ]
        for key, label in (("no_log", "without --log"), ("log", "with --log DIR"))
    ]
    head = [
        f"featurekit serve, c={res['concurrency']}",
        "throughput",
        "p50",
        "p99",
        "server CPU a request",
    ]
    cpu = res["ratio_server_cpu"]
    return [
        table(head, rows),
        f"The logging server answered {res['requests_completed_by_log_server']:,} "
        f"requests that wrk completed and its log holds {res['rows_in_log']:,} rows "
        f"({res['rows_dropped']:g} dropped by a full buffer; a few more rows than "
        "answers are requests cut off when a wrk run ends). The server's CPU a "
        f"request with the log is {cpu['value']:.3f}x its CPU without "
        f"({cpu['p10']:.3f}–{cpu['p90']:.3f}, paired runs): a figure that other "
        "work on the machine disturbs less than throughput.",
    ]


def _evaluate(res: Record) -> str:
    ev = res["evaluate_s"]
    samples = ", ".join(f"{s:.1f}" for s in res["evaluate_samples_s"])
    rows = [
        ["rows served / labelled", f"{res['rows']:,} / {res['labelled']:,}"],
        [
            "written through LogWriter",
            f"{res['appends']} appends of {res['rows_per_append']:,} rows over "
            f"{res['days']} days: {res['write_s']:.1f} s "
            f"({res['write_rows_per_s'] / 1e6:.2f} M rows/s), {res['files']} files, "
            f"{res['mib']:.0f} MiB with the labels",
        ],
        ["labels written (write_labels)", f"{res['labels_write_s']:.1f} s"],
        [
            "evaluate(artifact, DIR, window='1d')",
            f"{ev['median']:.1f} s (runs: {samples} s; CPU of all threads "
            f"{res['evaluate_cpu_s']['median']:.1f} s)",
        ],
        [
            "its report",
            f"verdict {res['verdict']!r}, {res['served']:,} served, "
            f"{res['labelled_seen']:,} labelled, {res['windows']} windows",
        ],
        [
            "PredictionLog.frame(labelled=True), one day",
            f"{res['frame_one_day_rows']:,} rows in {res['frame_one_day_s']:.1f} s",
        ],
        [
            "PredictionLog.add_labels, 1,000 labels",
            f"{res['add_labels_1000_s']:.1f} s",
        ],
    ]
    return table(["evaluate at scale", "figure"], rows)


def _kill(res: Record) -> str:
    age = res["oldest_missing_age_s"]
    rows = [
        ["answered before the kill", f"{res['answered']:,}"],
        [
            f"answered over {res['flush_s']:g} s before the kill: in the log",
            f"{res['present_of_those']:,} of {res['answered_before_flush_interval']:,} "
            f"({res['missing_of_those']} missing)",
        ],
        [
            "answered in the last flush interval: in the log",
            f"{res['answered_in_last_interval'] - res['missing_of_last_interval']:,} "
            f"of {res['answered_in_last_interval']:,}",
        ],
        ["oldest missing row, age at the kill", "–" if age is None else f"{age:.2f} s"],
        [
            "files / unreadable / temporary files left",
            f"{res['files']} / {len(res['unreadable_files'])} / "
            f"{len(res['hidden_temporary_files'])}",
        ],
        ["rows written twice", f"{res['duplicate_rows']}"],
    ]
    return table(["kill -9 under traffic", "figure"], rows)


def outcomes(record: Record) -> list[str]:
    res = record["results"]
    return [
        _in_process(res["in_process"]),
        *_http(res["http"]),
        _evaluate(res["evaluate"]),
        _kill(res["kill"]),
    ]
