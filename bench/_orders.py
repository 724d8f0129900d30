"""The derived-feature catalogue and its orders data, shared by bench/derived.py and tests.

Dates (one as ISO text), amounts, counts with gaps, categories, a long-tailed merchant id
and short multilingual reviews. Imports no test module and no other bench module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import featurekit as fk

WORDS = "great fast slow broken refund love hate ok späť naïve 好 ☃".split()


def orders(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Orders: two date-times (one as ISO text), amounts, counts, categories, text."""
    rng = np.random.default_rng(seed)
    signup = pd.Timestamp("2019-01-01") + pd.to_timedelta(
        rng.integers(0, 4 * 365 * 86400, n), unit="s"
    )
    ordered = signup + pd.to_timedelta(rng.integers(0, 900 * 86400, n), unit="s")
    amount = rng.lognormal(4, 1, n).round(2)
    amount[rng.random(n) < 0.02] = 0.0
    items = rng.integers(0, 12, n).astype(float)
    items[rng.random(n) < 0.05] = np.nan
    country = rng.choice(["DE", "FR", "NL", "US"], n)
    device = rng.choice(["ios", "android", "web"], n)
    merchant = np.array([f"m{int(v)}" for v in rng.zipf(1.6, n) % 5000])
    review = [
        " ".join(rng.choice(WORDS, rng.integers(0, 6))).upper()
        if rng.random() < 0.2
        else " ".join(rng.choice(WORDS, rng.integers(0, 6)))
        for _ in range(n)
    ]
    frame = pd.DataFrame(
        {
            "signup": signup,
            # the order time arrives as ISO-8601 text, as a JSON client would send it
            "ordered": [t.isoformat() for t in ordered],
            "amount": amount,
            "items": items,
            "country": country,
            "device": device,
            "merchant": merchant,
            "review": review,
        }
    )
    score = (
        (amount > 100) * 1.0
        + 0.3 * (device == "web")
        + (np.char.find(np.array(review, dtype=str), "refund") >= 0) * 1.5
        + rng.normal(0, 0.5, n)
    )
    return frame, pd.Series((score > np.quantile(score, 0.7)).astype(int))


def catalogue() -> fk.FeatureSet:
    """18 declarations over 8 raw columns: every kind of derived feature."""
    c = fk.col
    features: list[object] = [
        fk.Datetime("signup"),
        fk.Datetime("ordered"),
        # bounds keep derived values within float32, which the tree models compare in
        fk.Numeric(
            "amount", bounds=(0, 1e7), clip=(0, None), log1p=True, scale="standard"
        ),
        fk.Numeric(
            "items", dtype="int", bounds=(0, 1000), impute="median", scale="standard"
        ),
        fk.Categorical("country", unknown="ignore"),
        fk.Derived("per_item", c("amount") / c("items"), impute=0.0, scale="robust"),
        fk.Derived("log_amount", (c("amount") + 1).log(), impute=0.0),
        fk.Derived("big", fk.where(c("amount") > 1000, 1, 0)),
        fk.Derived("weekend", c("ordered").dt.day_of_week >= 5),
        fk.Derived("order_month", c("ordered").dt.month, scale="minmax"),
        fk.Derived("order_hour", c("ordered").dt.hour, scale="minmax"),
        fk.Derived(
            "tenure_days", fk.days_between(c("signup"), c("ordered")), scale="standard"
        ),
        fk.Derived(
            "country_device", fk.cross(c("country"), c("device")), unknown="ignore"
        ),
        fk.Derived("mobile", c("device").isin(["ios", "android"])),
        fk.Bucketized("amount_band", "amount", bins=5, strategy="quantile"),
        fk.Bucketized("items_band", c("items").fillna(0), edges=[1, 3, 6]),
        fk.Categorical("merchant", encode="hash", n_buckets=64),
        fk.Text("review", ngram_range=(1, 2), max_features=40),
    ]
    return fk.FeatureSet("orders", features)  # type: ignore[arg-type]
