"""How often `fk.compare`'s paired tests promote: false promotions and power, simulated.

Run it as ``.venv/bin/python bench/compare_power.py [--quick] [--json [PATH]]``.

Every run draws paired model outputs on n rows with a seeded generator and asks the
comparison's test (`featurekit.comparing.paired.paired`, the function `fk.compare`
calls on the rows both models accept) whether to promote at one-sided alpha = 0.05:

- *equal models* (accuracy, McNemar mid-p): both right on a row with the same
  probability, with a given share of discordant rows (0.1, 0.2, and 0.32, the share
  when the two models' errors are independent);
- *a 2-point gain* (0.80 -> 0.82 accuracy) at n = 5,000, the same discordances: the
  power;
- *challenger = champion + noise*: probabilities from a logit with noise, the
  challenger's logit the champion's plus independent noise (so never better), and
  *exchangeable* models (each the truth plus its own noise of one size: equal in the
  population), for accuracy (McNemar), ROC AUC (DeLong) and log loss (the paired
  bootstrap).

False promotion must stay at or below 5 %, power at or above 80 %. For accuracy the
rates are also computed exactly (a sum over the binomial law of the discordant rows,
no simulation noise); those exact figures are the budgets, and the simulated ones,
through featurekit's own code, must agree with them within their Monte Carlo
interval. The same sums for the exact (conditional) McNemar test are shown beside
them: its size falls short of alpha by up to half a binomial step, which is why the
decision reads the mid-p. The other metrics have no closed form: their simulated
rates are the figures.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from _common import Run, add_json_option, budget, print_budgets, versions

from featurekit.comparing.metrics import metric_named
from featurekit.comparing.paired import paired

ALPHA = 0.05
N = 5000
DISCORDANCES = (0.1, 0.2, 0.32)


def _hits(rng: np.random.Generator, acc_a: float, acc_b: float, disc: float) -> Any:
    """Paired hit vectors: accuracies `acc_a`, `acc_b`, a share `disc` discordant."""
    d = acc_b - acc_a
    b, c = (disc - d) / 2, (disc + d) / 2
    both = acc_a - b
    cells = rng.choice(4, size=N, p=[both, b, c, 1 - both - b - c])
    return np.isin(cells, (0, 1)), np.isin(cells, (0, 2))


def exact_rate(acc_b: float, disc: float, rule: str = "mid-p") -> float:
    """Promotion probability of the one-sided McNemar test, champion at 0.80.

    The number m of discordant rows is Binomial(N, disc); given m, the challenger's
    share of them is Binomial(m, c / disc); the test promotes at C >= its critical
    value: the smallest count whose one-sided p-value (``rule``: "mid-p", the
    decision's, or "exact", the conditional exact test's) is at most alpha. Summed
    over m, no simulation.
    """
    from scipy.stats import binom

    c = (disc + acc_b - 0.80) / 2
    ms = np.arange(N + 1)
    weights = binom.pmf(ms, N, disc)
    total = 0.0
    for m, w in zip(ms[weights > 1e-14], weights[weights > 1e-14], strict=True):
        ks = np.arange(m + 1)
        p = binom.sf(ks - 1, m, 0.5)
        if rule == "mid-p":
            p = p - 0.5 * binom.pmf(ks, m, 0.5)
        passing = ks[p <= ALPHA]
        if len(passing):
            total += w * float(binom.sf(passing[0] - 1, m, c / disc))
    return total


def interval(rate: float, runs: int) -> dict[str, float]:
    """The rate with Wilson's 95 % interval for its Monte Carlo error."""
    from featurekit.outcomes.metrics import wilson

    w = wilson(round(rate * runs), runs)
    return {"value": rate, "low": w["low"], "high": w["high"]}


def accuracy_rate(runs: int, acc_b: float, disc: float, seed: int) -> float:
    """Share of runs promoted: champion at 0.80, challenger at `acc_b`."""
    rng = np.random.default_rng(seed)
    metric, y = metric_named("accuracy"), np.zeros(N, dtype=np.int64)
    promoted = 0
    for _ in range(runs):
        a, b = _hits(rng, 0.80, acc_b, disc)
        got = paired(metric, y, {"label": 1 - a}, {"label": 1 - b}, replicates=2)
        promoted += got["p_better"] <= ALPHA
    return promoted / runs


def noise_rate(
    runs: int, metric_name: str, scenario: str, seed: int, replicates: int
) -> float:
    """Share of runs promoted when the challenger is no better than the champion."""
    rng = np.random.default_rng(seed)
    metric = metric_named(metric_name)
    promoted = 0
    for _ in range(runs):
        z = rng.normal(0, 1.5, N)
        y = (rng.random(N) < 1 / (1 + np.exp(-z))).astype(np.int64)
        logit_a = z + rng.normal(0, 0.8, N)
        if scenario == "plus noise":
            logit_b = logit_a + rng.normal(0, 0.3, N)
        else:  # exchangeable: the same noise level, drawn independently
            logit_b = z + rng.normal(0, 0.8, N)
        outs = []
        for logit in (logit_a, logit_b):
            p = 1 / (1 + np.exp(-logit))
            outs.append(
                {
                    "label": (p > 0.5).astype(np.int64),
                    "probabilities": np.column_stack([1 - p, p]),
                }
            )
        got = paired(
            metric,
            y,
            outs[0],
            outs[1],
            # only the bootstrap test reads its replicates; the others, its interval
            replicates=replicates if metric.test == "bootstrap" else 2,
            seed=int(rng.integers(1 << 31)),
        )
        promoted += got["p_better"] <= ALPHA
    return promoted / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (indicative)")
    add_json_option(parser, "compare_power")
    args = parser.parse_args()
    run = Run("compare_power")
    runs = 150 if args.quick else 20000
    noise_runs = 150 if args.quick else 4000
    boot_runs, boot_reps = (20, 100) if args.quick else (400, 1000)
    results: dict[str, Any] = {"accuracy": {}, "noise": {}}
    budgets = []
    t0 = time.perf_counter()
    for i, disc in enumerate(DISCORDANCES):
        exact = {"null": exact_rate(0.80, disc), "power": exact_rate(0.82, disc)}
        conditional = {
            "null": exact_rate(0.80, disc, "exact"),
            "power": exact_rate(0.82, disc, "exact"),
        }
        simulated = {
            "null": interval(accuracy_rate(runs, 0.80, disc, seed=100 + i), runs),
            "power": interval(accuracy_rate(runs, 0.82, disc, seed=200 + i), runs),
        }
        results["accuracy"][str(disc)] = {
            "exact": exact,
            "exact_conditional_test": conditional,
            "simulated": simulated,
        }
        for key, what in (("null", "false promotion"), ("power", "power, +2 points")):
            sim = simulated[key]
            print(
                f"accuracy, {disc:.0%} of rows discordant: {what} {exact[key]:.2%} "
                f"exact, {sim['value']:.2%} simulated ({sim['low']:.2%}-"
                f"{sim['high']:.2%}); the exact conditional test {conditional[key]:.2%}"
            )
        case = f"accuracy (McNemar mid-p), n={N:,}, {disc:.0%} discordant"
        budgets.append(
            {
                **budget(
                    f"false promotion, equal models, {disc:.0%} discordant",
                    100 * exact["null"],
                    "%",
                    at_most=5,
                ),
                "case": case,
            }
        )
        budgets.append(
            {
                **budget(
                    f"power, +2 points, {disc:.0%} discordant",
                    100 * exact["power"],
                    "%",
                    at_least=80,
                ),
                "case": case,
            }
        )
    for metric, test in (
        ("accuracy", "McNemar"),
        ("roc_auc", "DeLong"),
        ("log_loss", "bootstrap"),
    ):
        for j, scenario in enumerate(("plus noise", "exchangeable")):
            n_runs = boot_runs if metric == "log_loss" else noise_runs
            rate = noise_rate(n_runs, metric, scenario, 300 + j, boot_reps)
            sim = interval(rate, n_runs)
            results["noise"][f"{metric} {scenario}"] = {
                "false_promotion": sim,
                "runs": n_runs,
            }
            print(
                f"{metric} ({test}), challenger {scenario}: false promotion {rate:.2%} "
                f"({sim['low']:.2%}-{sim['high']:.2%}, {n_runs} runs)"
            )
            budgets.append(
                {
                    **budget(
                        f"false promotion, {metric}, challenger {scenario}",
                        100 * rate,
                        "%",
                        at_most=5,
                    ),
                    "case": f"{metric} ({test}), n={N:,}, {n_runs} runs",
                }
            )
    print(f"({time.perf_counter() - t0:.0f} s)")
    print_budgets(budgets)
    if args.json:
        run.write(
            args.json,
            config={
                "quick": args.quick,
                "rows": N,
                "alpha": ALPHA,
                "runs": runs,
                "noise_runs": noise_runs,
                "bootstrap_runs": boot_runs,
                "bootstrap_replicates": boot_reps,
            },
            budgets=budgets,
            results=results,
            versions=versions("numpy", "scipy", "featurekit"),
        )


if __name__ == "__main__":
    main()
