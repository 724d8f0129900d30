"""Train the credit model from its YAML declarations and export a certified artifact.

Run: python examples/train.py --out artifacts/credit
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).parent))
from credit_data import make_credit

import featurekit as fk

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="artifacts/credit", help="artifact directory")
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()

    features = fk.FeatureSet.from_yaml((HERE / "credit_features.yaml").read_text())
    print(f"features: {features}")
    df, y = make_credit(args.rows)
    X_train, X_test, y_train, y_test = train_test_split(
        df, y, test_size=0.25, random_state=0
    )

    pipe = fk.make_pipeline(
        features, RandomForestClassifier(n_estimators=60, max_depth=10, random_state=0)
    )
    pipe.fit(X_train, y_train)
    print(f"held-out accuracy: {pipe.score(X_test, y_test):.3f}")

    t0 = time.perf_counter()
    # the held-out rows give the drift profile the model's answers as production sees
    # them (on its own training rows a forest is more confident)
    # holdout_y: the artifact records the held-out performance that online
    # evaluation of the served model is compared with
    art = fk.export(
        pipe,
        args.out,
        reference=X_train,
        holdout=X_test,
        holdout_y=y_test,
        overwrite=True,  # make demo re-exports over its last run
    )
    cert = art.certificate
    print(f"exported {art.path} in {time.perf_counter() - t0:.1f}s")
    print(
        f"parity certificate: {cert['rows']} rows ({cert['reference_rows']} reference + "
        f"{cert['edge_rows']} edge cases), label agreement {cert['label_agreement']:.0%}, "
        f"max |Δp| {cert['max_abs_diff']:.2g} (tolerance {cert['tolerance']:g})"
    )
    print(f"precision plan: {cert['precision_plan']}")
    held = art.manifest["holdout"]["metrics"]
    print(
        "holdout performance recorded: "
        + ", ".join(f"{k} {v['value']:.3f}" for k, v in held.items())
    )
    print("files:", json.dumps(art.manifest["files"], indent=1))


if __name__ == "__main__":
    main()
