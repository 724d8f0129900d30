"""Load the credit artifact without scikit-learn and send it good and bad requests.

Run: python examples/serve.py artifacts/credit
"""

from __future__ import annotations

import sys

import numpy as np

import featurekit as fk
from serving import Predictor


def main(path: str) -> None:
    p = Predictor.load(path)
    print(p)
    loaded = sorted(m for m in ("sklearn", "skl2onnx", "joblib") if m in sys.modules)
    print(f"training stack imported by serving: {loaded or 'none'}")

    good = {
        "income": 52000,
        "age": 37,
        "debt": 9100.5,
        "tenure_months": 26,
        "country": "DE",
        "channel": "app",
        "plan": "plus",
    }
    print(f"\ngood request {good}")
    print(
        f"  -> label {p.predict(good)[0]!r}, P(classes {p.classes_.tolist()}) = {np.round(p.predict_proba(good)[0], 4).tolist()}"
    )

    holes = {**good, "income": None, "channel": None, "country": "JP"}
    print(f"\nmissing values and an unseen country (policy 'ignore') {holes}")
    print(f"  -> P = {np.round(p.predict_proba(holes)[0], 4).tolist()}")

    batch = [good, holes, {**good, "age": 71, "plan": "premium"}]
    print(f"\nbatch of {len(batch)} -> labels {p.predict(batch).tolist()}")

    bad_requests = {
        "a string where a number belongs": {**good, "income": "52000"},
        "an age of 1500": {**good, "age": 1500},
        "an unknown plan (policy 'error')": {**good, "plan": "platinum"},
        "a renamed column": {
            k if k != "tenure_months" else "tenure": v for k, v in good.items()
        },
        "infinity": {**good, "debt": float("inf")},
    }
    for what, record in bad_requests.items():
        try:
            p.predict(record)
        except fk.ContractError as exc:
            print(f"\nbad request, {what}:\n  refused: {exc}")
        else:  # pragma: no cover - the demo would be lying
            raise SystemExit(
                f"bad request ({what}) was scored; the contract failed to catch it"
            )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "artifacts/credit")
