"""Offline drift: test a batch against the artifact's reference profile, write an HTML report.

Run: python examples/drift_report.py artifacts/credit [--html artifacts/drift.html]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import pandas as pd
from credit_data import make_credit

import featurekit as fk
from featurekit.monitoring.report import summary_row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("artifact", nargs="?", default="artifacts/credit")
    parser.add_argument("--html", default="artifacts/drift.html")
    args = parser.parse_args()

    clean = make_credit(2000, seed=31)[0]
    report = fk.drift(args.artifact, clean)
    print(f"a fresh batch from the same source: {report}")

    drifted = make_credit(2000, seed=32)[0]
    drifted["income"] = drifted["income"] * 1.8  # an upstream unit change, say
    drifted.loc[drifted.sample(frac=0.1, random_state=0).index, "debt"] = None
    drifted.loc[drifted.sample(frac=0.05, random_state=1).index, "country"] = "BR"
    report = fk.drift(args.artifact, drifted)
    print(f"a drifted batch: {report}")
    # the rows as the HTML page shows them: each leads with the signal that fired
    print(
        pd.DataFrame([summary_row(f) for f in report.features]).to_string(index=False)
    )
    report.to_html(args.html)
    print(f"HTML report (self-contained, opens offline): {args.html}")


if __name__ == "__main__":
    main()
