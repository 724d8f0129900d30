"""``featurekit labels``, ``evaluate`` and ``replay``: the outcome loop from the shell.

``labels DIR FILE --id-column C --label-column C`` appends the labels of a .csv,
.parquet or .jsonl file to the prediction log at DIR. ``evaluate ARTIFACT DIR``
prints the online evaluation of ARTIFACT's served rows and exits 0 (ok), 1 (decay),
2 (error) or 3 (insufficient labels). ``replay ARTIFACT DIR`` scores the logged inputs
again on this machine and exits 1 if any answer differs from the served one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from featurekit.cli.files import FORMATS

__all__ = ["EXIT_INSUFFICIENT", "add_outcome_commands"]

EXIT_INSUFFICIENT = 3


def add_outcome_commands(sub: Any) -> None:
    """Add ``labels``, ``evaluate`` and ``replay`` to the ``featurekit`` subcommands."""
    labels = sub.add_parser(
        "labels",
        help="append labels from a file to a prediction log",
        description=(
            "Append the labels in FILE (.csv, .parquet or .jsonl) to the prediction "
            "log at DIR, joined to served rows by id. Labels are checked against the "
            "classes of the model that wrote the log. Exit status: 0 stored, 2 error."
        ),
    )
    labels.add_argument("log", metavar="DIR", help="prediction log directory (--log)")
    labels.add_argument("file", metavar="FILE", help="labels file")
    labels.add_argument("--id-column", required=True, help="the column of row ids")
    labels.add_argument("--label-column", required=True, help="the column of labels")
    labels.add_argument(
        "--timestamp-column", help="when each outcome happened (optional)"
    )
    labels.set_defaults(run=_labels)
    ev = sub.add_parser(
        "evaluate",
        help="realised performance of an artifact's served rows, from the log",
        description=(
            "Join the rows ARTIFACT served (from the prediction log at DIR) to their "
            "labels and evaluate them window by window against the holdout "
            "performance recorded at export. Exit status: 0 ok, 1 decay, 2 error, "
            "3 insufficient labels."
        ),
    )
    ev.add_argument("artifact", metavar="ARTIFACT", help="artifact directory")
    ev.add_argument("log", metavar="DIR", help="prediction log directory")
    ev.add_argument(
        "--window",
        default="1d",
        help="a time span (1h, 1d, 1w) or a number of labelled rows (default: 1d)",
    )
    ev.add_argument("--metric", help="decided on (default: accuracy, or mae)")
    ev.add_argument("--margin", help="worse than the holdout by more than this")
    ev.add_argument("--persist", type=int, default=2, help="worse windows in a row")
    ev.add_argument("--min-labels", type=int, default=30, help="labels a window needs")
    ev.add_argument("--html", metavar="PATH", help="also write the HTML report")
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    ev.set_defaults(run=_evaluate)
    rp = sub.add_parser(
        "replay",
        help="score an artifact's logged rows again here and report every difference",
        description=(
            "Score the inputs ARTIFACT served (from the prediction log at DIR) again "
            "with its graph on this machine, and report every row whose answer "
            "differs from the served one (labels equal, probabilities equal to the "
            "bit unless --tolerance). Exit status: 0 none differ, 1 some differ, "
            "2 error."
        ),
    )
    rp.add_argument("artifact", metavar="ARTIFACT", help="artifact directory")
    rp.add_argument("log", metavar="DIR", help="prediction log directory")
    rp.add_argument(
        "--tolerance", type=float, default=0.0, help="largest accepted |difference|"
    )
    rp.add_argument(
        "--trust-pickle",
        action="store_true",
        help="also score with the training pipeline (pipeline.joblib): unpickling "
        "runs any code the file holds, so only for artifacts you built",
    )
    rp.add_argument("--json", action="store_true", help="print the report as JSON")
    rp.set_defaults(run=_replay)


def _error(command: str, exc: BaseException) -> int:
    print(f"featurekit {command}: error: {str(exc).splitlines()[0]}", file=sys.stderr)
    return 2


def _read(path: str, columns: list[str]) -> Any:
    import pandas as pd

    kind = FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise ValueError(f"{path!r}: use a .csv, .parquet or .jsonl file.")
    if kind == "csv":
        frame = pd.read_csv(path, dtype={columns[0]: str}, keep_default_na=False)
    elif kind == "parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_json(path, lines=True, dtype=False)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path!r} has no column {missing[0]!r}; it has {list(frame.columns)}."
        )
    return frame


def _labels(args: argparse.Namespace) -> int:
    from featurekit.outcomes.reading import PredictionLog

    columns = [args.id_column, args.label_column]
    if args.timestamp_column:
        columns.append(args.timestamp_column)
    try:
        frame = _read(args.file, columns)
        stamps = None
        if args.timestamp_column:
            stamps = [
                None if v == "" else v for v in frame[args.timestamp_column].astype(str)
            ]
        got = PredictionLog(args.log).add_labels(
            frame[args.id_column].tolist(),
            [_scalar(v) for v in frame[args.label_column].tolist()],
            timestamps=stamps,
        )
    except (OSError, ValueError) as exc:
        return _error("labels", exc)
    unknown = got["unknown_ids"]
    print(f"stored {got['accepted']} labels in {args.log}")
    if unknown:
        print(
            f"{len(unknown)} ids were never served in this log (kept: their rows may "
            f"still be in a server's buffer), e.g. {unknown[:5]}"
        )
    return 0


def _scalar(v: Any) -> Any:
    """A numpy scalar as its Python value; CSV text that is a number as the number."""
    if hasattr(v, "item"):
        return v.item()
    return v


def _evaluate(args: argparse.Namespace) -> int:
    from featurekit.artifact import read_manifest
    from featurekit.errors import ArtifactError
    from featurekit.outcomes.evaluation import evaluate
    from featurekit.outcomes.reading import PredictionLog

    window: str | int = int(args.window) if args.window.isdigit() else args.window
    margin: Any = args.margin
    if margin is not None and not margin.endswith("%"):
        try:
            margin = float(margin)
        except ValueError:
            return _error(
                "evaluate",
                ValueError(f"--margin must be a number or N%, got {margin!r}."),
            )
    log = PredictionLog(args.log)
    try:
        sha = read_manifest(args.artifact)["files"]["model.onnx"]
        files = log.files(model=sha)
        start = time.monotonic()
        if len(files) > 200:
            log.progress = _Progress(len(files), start)
        report = evaluate(
            args.artifact,
            log,
            window=window,
            metric=args.metric,
            margin=margin,
            persist=args.persist,
            min_labels=args.min_labels,
        )
    except (ArtifactError, OSError, ValueError) as exc:
        return _error("evaluate", exc)
    if args.html:
        Path(args.html).write_text(report.to_html(), encoding="utf-8")
    if args.json:
        print(report.to_json())
    else:
        print(_summary(report))
    for path, why in report.skipped:
        print(f"skipped {path}: {why}", file=sys.stderr)
    return {"ok": 0, "decay": 1}.get(report.verdict, EXIT_INSUFFICIENT)


class _Progress:
    """Reading progress on stderr, every tenth of the files."""

    def __init__(self, total: int, start: float) -> None:
        self.total, self.start, self.step = total, start, max(total // 10, 1)

    def __call__(self, done: int) -> None:
        if done % self.step == 0 or done == self.total:
            print(
                f"reading the log: {done}/{self.total} files, "
                f"{time.monotonic() - self.start:.1f}s",
                file=sys.stderr,
            )


def _summary(report: Any) -> str:
    m = report.metric
    lines = [
        f"{report.model['name']} v{report.model['version']}: {report.verdict}"
        + (
            f" from the window starting {report.decay_start}"
            if report.decay_start
            else ""
        ),
        f"{report.labelled} of {report.served} served rows labelled; "
        f"{report.unmatched_labels} labels match no served row",
        f"{m}: holdout {report.holdout[m]['value']:.4g}, decay line {report.threshold:.4g}",
        "",
        f"{'window start':<33}{'served':>8}{'labelled':>9}  {m:<26}label drift",
    ]
    for w in report.windows.to_dict(orient="records"):
        value = w.get(m)
        fig = (
            f"{value:.4g} [{w[f'{m}_low']:.4g}, {w[f'{m}_high']:.4g}]"
            if isinstance(value, float) and value == value
            else "-"
        )
        flag = " worse" if w.get("worse") else ""
        lines.append(
            f"{w['start']:<33}{w['served']:>8}{w['labelled']:>9}  {fig:<26}"
            f"{w['label_drift']}{flag}"
        )
    return "\n".join(lines)


def _replay(args: argparse.Namespace) -> int:
    from featurekit.errors import ArtifactError
    from featurekit.replay import replay

    try:
        report = replay(
            args.artifact,
            args.log,
            tolerance=args.tolerance,
            trust_pickle=args.trust_pickle,
        )
    except (ArtifactError, OSError, ValueError) as exc:
        return _error("replay", exc)
    if args.json:
        print(report.to_json())
    else:
        m = report.machine
        print(
            f"{report.model['name']} v{report.model['version']}: {report.rows} logged rows "
            f"replayed on onnxruntime {m['onnxruntime']} ({m['cpu']}); "
            f"{len(report.differing)} differ"
        )
        if not report.differing.empty:
            print(report.differing.head(20).to_string(index=False))
    for path, why in report.skipped:
        print(f"skipped {path}: {why}", file=sys.stderr)
    return 0 if report.ok else 1
