"""Retrain the credit model three ways and let the champion/challenger gate decide.

Run: python examples/compare.py artifacts/credit [--html artifacts/compare.html]

The champion is the artifact examples/train.py exported. Each challenger is trained
on newer data, exported, and compared with the champion on recent labelled traffic,
both scored exactly as they would be served:

- a hurried retrain (a shallow forest on 1,000 rows) is worse: kept;
- a logistic regression on 20,000 rows is better: promoted;
- the same model trained on data without the "premium" plan refuses traffic the
  champion serves (the plan's contract rejects unknown categories): kept, named.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from credit_data import make_credit
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import featurekit as fk

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("champion", nargs="?", default="artifacts/credit")
    parser.add_argument("--html", default="artifacts/compare.html")
    args = parser.parse_args()
    champion = Path(args.champion)

    features = fk.FeatureSet.from_yaml((HERE / "credit_features.yaml").read_text())
    newer, y_newer = make_credit(20_000, seed=40)
    recent, y_recent = make_credit(6_000, seed=41)  # traffic whose outcomes are known
    y_recent = y_recent.astype(object)
    y_recent[::20] = None  # outcomes not in yet: counted, not compared
    no_premium = (newer["plan"] != "premium").to_numpy()

    challengers = {
        "hurried": (RandomForestClassifier(10, max_depth=3, random_state=0), 1_000),
        "logistic": (LogisticRegression(max_iter=2000), None),
        "no-premium": (LogisticRegression(max_iter=2000), no_premium),
    }
    for name, (model, rows) in challengers.items():
        if rows is None:
            X, y = newer, y_newer
        elif isinstance(rows, int):
            X, y = newer[:rows], y_newer[:rows]
        else:
            X, y = newer[rows], y_newer[rows]
        pipe = fk.make_pipeline(features, model).fit(X, y)
        path = champion.parent / f"{champion.name}-{name}"
        fk.export(pipe, path, reference=X, overwrite=True, progress=False)
        result = fk.compare(champion, path, recent, y_recent)
        print(f"challenger {name!r} ({type(model).__name__}): {result.verdict}")
        print(f"  {result.reasons[0]}")
        if name == "logistic":
            rows_ = result.rows
            print(
                f"  rows: {rows_['total']}, without an outcome {rows_['unlabelled']}, "
                f"compared {rows_['compared']}"
            )
            print(result.table[["scope", "rows", "improvement", "status"]].to_string())
            result.to_html(args.html)
            print(f"HTML report (self-contained, opens offline): {args.html}")


if __name__ == "__main__":
    main()
