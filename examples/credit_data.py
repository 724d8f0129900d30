"""A generated credit-default dataset: the demo's embedded default, no download needed."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_credit(n: int = 5000, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Return raw applicant records with missing values, and whether each defaulted."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.3, 0.6, n).round(0)
    age = rng.integers(18, 80, n)
    debt = (income * rng.beta(2, 5, n)).round(2)
    tenure = rng.gamma(2.0, 30.0, n).round(0)
    country = rng.choice(["DE", "FR", "NL", "US"], n, p=[0.4, 0.25, 0.15, 0.2])
    channel = rng.choice(
        ["web", "app", "branch", "partner", "fax"], n, p=[0.45, 0.3, 0.15, 0.095, 0.005]
    )
    plan = rng.choice(["basic", "plus", "premium"], n, p=[0.6, 0.3, 0.1])
    score = (
        2.5 * debt / income
        - 0.02 * (age - 40)
        - 0.004 * tenure
        + 0.4 * (channel == "partner")
        - 0.3 * (plan == "premium")
        + rng.normal(0, 0.5, n)
    )
    y = pd.Series((score > np.quantile(score, 0.8)).astype(int), name="default")
    df = pd.DataFrame(
        {
            "income": income,
            "age": age,
            "debt": debt,
            "tenure_months": tenure,
            "country": pd.array(country, dtype="str"),
            "channel": pd.array(channel, dtype="str"),
            "plan": plan.astype(object),
        }
    )
    # real data has holes: missing incomes, debts, tenures and channels
    for col, rate in (
        ("income", 0.05),
        ("debt", 0.03),
        ("tenure_months", 0.04),
        ("channel", 0.06),
    ):
        df.loc[rng.random(n) < rate, col] = None
    return df, y
