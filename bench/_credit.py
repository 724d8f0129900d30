"""The credit-style data of bench/predict.py and bench/http_server.py, made by numpy.

Ten raw columns: six numeric (impute, clip, log1p, scale, bounds) and four categorical
(every ``unknown`` policy), with missing values, a label that depends on all of them,
and, at scoring time, a few categories the training rows never had.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import featurekit as fk


def feature_set() -> fk.FeatureSet:
    return fk.FeatureSet(
        "credit_bench",
        [
            fk.Numeric("age", dtype="int", bounds=(18, 100), scale="standard"),
            fk.Numeric(
                "income", impute="median", clip=(0, None), log1p=True, scale="standard"
            ),
            fk.Numeric("debt_ratio", impute="mean", clip=(0, 2), scale="minmax"),
            fk.Numeric(
                "n_accounts",
                dtype="int",
                impute=0,
                clip=(0, 40),
                log1p=True,
                bounds=(0, None),
            ),
            fk.Numeric(
                "months_employed", impute="median", clip=(0, 600), scale="robust"
            ),
            fk.Numeric("utilization", impute="mean", clip=(0, 1.5), scale="standard"),
            fk.Categorical("country", impute="most_frequent", unknown="error"),
            fk.Categorical(
                "channel", impute="missing", unknown="other", min_frequency=0.01
            ),
            fk.Categorical("product", unknown="ignore"),
            fk.Categorical(
                "housing", impute="missing", unknown="ignore", encode="ordinal"
            ),
        ],
    )


def _with_missing(
    values: np.ndarray, rate: float, rng: np.random.Generator
) -> np.ndarray:
    out = (
        values.astype(object)
        if values.dtype.kind in "OU"
        else values.astype(np.float64)
    )
    mask = rng.random(len(out)) < rate
    out[mask] = None if out.dtype == object else np.nan
    return out


def make_frame(
    n: int, seed: int, *, unseen_rate: float = 0.0
) -> tuple[pd.DataFrame, np.ndarray]:
    """Credit applications and a default label that depends on them."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    income = rng.lognormal(10.3 + 0.012 * np.clip(age - 25, 0, 30), 0.55, n)
    debt_ratio = rng.beta(2.0, 5.0, n) * 1.3
    n_accounts = rng.poisson(1.0 + age / 18.0)
    months_employed = np.minimum(rng.exponential(70.0, n), (age - 16) * 12.0)
    utilization = np.clip(rng.beta(1.6, 3.0, n) * 1.4, 0.0, 1.5)
    country = rng.choice(
        ["DE", "FR", "NL", "ES", "IT", "BE", "AT"],
        n,
        p=[0.3, 0.22, 0.14, 0.12, 0.12, 0.06, 0.04],
    )
    channel = rng.choice(
        ["web", "app", "branch", "broker", "phone"], n, p=[0.42, 0.33, 0.15, 0.07, 0.03]
    )
    product = rng.choice(
        ["card", "personal_loan", "auto_loan", "mortgage"], n, p=[0.45, 0.3, 0.15, 0.1]
    )
    housing = rng.choice(
        ["rent", "own", "mortgage", "family"], n, p=[0.4, 0.25, 0.28, 0.07]
    )
    if unseen_rate:
        channel = np.where(rng.random(n) < unseen_rate, "partner_api", channel)
        product = np.where(rng.random(n) < unseen_rate, "bnpl", product)

    logit = (
        -1.3
        + 2.8 * (debt_ratio - 0.37)
        + 2.1 * (utilization - 0.5)
        - 0.7 * (np.log1p(income) - 10.6)
        - 0.015 * (age - 45)
        - 0.004 * (months_employed - 60)
        + 0.08 * (n_accounts - 3)
        + np.select([channel == "broker", channel == "app"], [0.5, -0.2], 0.0)
        + np.select([product == "card", product == "mortgage"], [0.35, -0.4], 0.0)
        + np.where(housing == "rent", 0.25, 0.0)
        + rng.normal(0.0, 0.6, n)
    )
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)

    frame = pd.DataFrame(
        {
            "age": age.astype(np.int64),
            "income": _with_missing(income, 0.04, rng),
            "debt_ratio": _with_missing(debt_ratio, 0.02, rng),
            "n_accounts": _with_missing(n_accounts, 0.01, rng),
            "months_employed": _with_missing(months_employed, 0.03, rng),
            "utilization": _with_missing(utilization, 0.02, rng),
            "country": _with_missing(country, 0.01, rng),
            "channel": _with_missing(channel, 0.03, rng),
            "product": product,
            "housing": _with_missing(housing, 0.05, rng),
        }
    )
    for col in ("country", "channel", "product", "housing"):
        frame[col] = frame[col].astype("str")  # pandas' string dtype, missing as NaN
    return frame, y
