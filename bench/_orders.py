"""The orders data of the derived-feature catalogue, shared by bench/derived.py and its tests.

Dates (one as ISO text), amounts, counts with gaps, categories, a long-tailed merchant id
and short multilingual reviews. Imports no test module and no other bench module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
