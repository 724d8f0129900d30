"""``featurekit compare CHAMPION CHALLENGER DATA --label-column y``: the deploy gate for CI.

The data file is read as the champion would be served it (`read_data`), the label
column is taken out of it, and `featurekit.compare` decides. With ``--log DIR``
instead of DATA, the rows the champion served (the prediction log) with the labels
posted since are compared, and label coverage by decision is reported. Exit status: 0 promote,
1 keep, 3 inconclusive, 2 error (one line on stderr), so a CI step can gate a deploy
on it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from featurekit.cli.files import UsageError, read_data
from featurekit.errors import ArtifactError
from featurekit.missing import is_missing

__all__ = ["EXIT_CODES", "add_parser", "run"]

#: Exit status per verdict; 2 is a usage error, as every featurekit command.
EXIT_CODES = {"promote": 0, "keep": 1, "inconclusive": 3}
EXIT_USAGE = 2


def add_parser(sub: Any) -> None:
    """Add the ``compare`` command to the ``featurekit`` subparsers."""
    from featurekit.comparing.metrics import METRICS

    compare = sub.add_parser(
        "compare",
        help="compare a challenger model with the champion on labelled data",
        description=(
            "Score DATA with CHAMPION and CHALLENGER (artifact directories) as they "
            "would be served, and test whether the challenger is better with paired "
            "tests, on every slice of the declared categorical inputs, and whether "
            "it refuses rows the champion accepts. Exit status: 0 promote, 1 keep, "
            "3 inconclusive (too few labelled rows), 2 usage error."
        ),
    )
    compare.add_argument("champion", metavar="CHAMPION", help="the served artifact")
    compare.add_argument("challenger", metavar="CHALLENGER", help="its candidate")
    compare.add_argument(
        "data",
        metavar="DATA",
        nargs="?",
        help="labelled data file: .csv, .parquet or .jsonl (or --log DIR)",
    )
    compare.add_argument(
        "--label-column",
        metavar="NAME",
        help="the column of DATA holding the labels (empty cells: no label yet)",
    )
    compare.add_argument(
        "--log",
        metavar="DIR",
        help=(
            "instead of DATA: the rows CHAMPION served, from the prediction log at DIR "
            "(featurekit serve --log), with the labels posted since; label coverage "
            "by decision is reported, as selective labels bias the comparison"
        ),
    )
    compare.add_argument(
        "--metric",
        choices=sorted(METRICS),
        help="default: accuracy for classifiers, rmse for regressors",
    )
    compare.add_argument(
        "--margin",
        type=float,
        default=0.0,
        help=(
            "non-inferiority margin in the metric's units: promote a challenger no "
            "worse than this (default 0: it must be better)"
        ),
    )
    compare.add_argument(
        "--html", metavar="PATH", help="also write the HTML report (one page) to PATH"
    )
    compare.add_argument(
        "--json",
        action="store_true",
        help="print the comparison as one JSON object instead of the summary",
    )
    compare.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``featurekit compare`` and return its exit status."""
    from featurekit.comparing import compare
    from featurekit.comparing.gate import predictor

    try:
        champion = predictor(args.champion)
        challenger = predictor(args.challenger)
        if (args.data is None) == (args.log is None):
            raise UsageError("Give DATA (with --label-column) or --log DIR, not both.")
        if args.log is not None:
            inputs, labels = _logged(args.log, champion)
        else:
            if args.label_column is None:
                raise UsageError("DATA needs --label-column NAME.")
            frame, _ = read_data(args.data, champion.features)
            if args.label_column not in frame.columns:
                raise UsageError(
                    f"{args.data!r} has no label column {args.label_column!r}; its "
                    f"columns are {list(frame.columns)!r}."
                )
            labels = _labels(frame[args.label_column], champion)
            inputs = frame.drop(columns=[args.label_column])
        result = compare(
            champion,
            challenger,
            inputs,
            labels,
            metric=args.metric,
            margin=args.margin,
        )
        if args.html:
            try:
                result.to_html(args.html)
            except OSError as exc:
                raise UsageError(f"Cannot write {args.html!r}: {exc}") from exc
    except (ArtifactError, UsageError, ValueError) as exc:
        print(
            f"featurekit compare: error: {' '.join(str(exc).split())}", file=sys.stderr
        )
        return EXIT_USAGE
    print(result.to_json() if args.json else summary(result))
    return EXIT_CODES[result.verdict]


def _logged(directory: str, champion: Any) -> tuple[Any, Any]:
    """The champion's logged rows that have a label, and the coverage by decision."""
    import warnings

    from featurekit.outcomes.reading import PredictionLog, SelectiveLabelsWarning

    log = PredictionLog(directory)
    if not log.root.is_dir():
        raise UsageError(f"No prediction log at {directory!r}.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SelectiveLabelsWarning)
        frame = log.frame(labelled=True, model=champion.sha256)
    coverage = log.coverage(model=champion.sha256)
    if not coverage.empty:
        print("label coverage by the champion's decision:", file=sys.stderr)
        print(coverage.to_string(index=False), file=sys.stderr)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    if frame.empty:
        raise UsageError(
            f"The log at {directory!r} has no labelled row served by the champion "
            f"(sha256 {champion.sha256[:12]}); post labels first (POST /labels)."
        )
    names = [f.name for f in champion.features.inputs if f.name in frame.columns]
    return frame[names], frame["label"]


def _labels(column: Any, champion: Any) -> Any:
    """Labels as the models' classes: a CSV reads ``1`` as a number, a class may be text.

    Numbers and text that reads as a class are matched by `featurekit.compare`
    itself; any other value is an error there that names it.
    """
    if champion.kind == "classifier" and any(
        isinstance(c, str) for c in champion.classes_.tolist()
    ):
        return column.astype(object).map(lambda v: v if is_missing(v) else str(v))
    return column


def summary(result: Any) -> str:
    """The comparison in a few lines: models, rows, the paired tests, the verdict."""
    d = result.to_dict()
    a, b = d["models"]["champion"], d["models"]["challenger"]
    rows, c = d["rows"], d["compatibility"]
    lines = [
        f"champion:   {a['name']!r} v{a['version']} (sha256 {a['sha256'][:12]})",
        f"challenger: {b['name']!r} v{b['version']} (sha256 {b['sha256'][:12]})",
        f"rows: {rows['total']} ({rows['unlabelled']} without a label, "
        f"{rows['refused_by_champion']} refused by the champion, "
        f"{rows['refused_by_challenger']} by the challenger); compared {rows['compared']}",
        f"contract: the challenger refuses {c['refused_by_challenger_only']} rows the "
        "champion accepts"
        + "".join(
            f"\n  {f['column']}: {f['check']} ({f['rows']} rows, e.g. "
            f"{', '.join(f['examples'])})"
            for f in c["failures"]
        ),
    ]
    table = result.table
    shown = ["scope", "rows", "champion", "challenger", "improvement", "ci_low"]
    shown += ["ci_high", "p_better", "p_worse", "p_adjusted", "status"]
    lines.append(table[shown].to_string(index=False, float_format="{:.4g}".format))
    moved = [r["feature"] for r in d["drift"] if r.get("verdict") == "drift"]
    lines.append(
        "reference profiles: "
        + (f"drift in {', '.join(moved)}" if moved else "no drift between them")
    )
    lines.append(f"result: {d['verdict']}: {d['reasons'][0]}")
    return "\n".join(lines)
