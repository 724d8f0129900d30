"""Exploration: a small, tagged share of decisions served by a fixed policy.

A model that decides what is labelled (loans are only repaid or not when approved)
shapes its own training data: rows it rejects never get a label, and a model trained
on the log learns nothing about them. Serving an ε share of decisions by a fixed
policy, and logging the probability (propensity) with which every served decision
was made, keeps every kind of row labelled now and then, and lets evaluation weight
each labelled row by the inverse of its propensity: an unbiased estimate even when
labels exist only for the rows acted on (`featurekit.outcomes.evaluation`).

Policies: ``"uniform"`` (a class drawn uniformly) and ``"fallback"`` (one fixed
class, e.g. the conservative decision).

Examples
--------
>>> import numpy as np
>>> e = Exploration([0, 1], rate=0.5, policy="uniform", seed=0)
>>> served, extra = e.apply(np.ones(100, dtype=int))
>>> sorted(set(extra["propensity"].round(2).tolist()))
[0.25, 0.75]
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["POLICIES", "Exploration"]

POLICIES = ("uniform", "fallback")


class Exploration:
    """Serve a `rate` share of decisions by `policy`; see the module docstring."""

    def __init__(
        self,
        classes: Sequence[Any],
        *,
        rate: float,
        policy: str = "uniform",
        fallback: Any = None,
        seed: int | None = None,
    ) -> None:
        if not 0 < rate < 1:
            raise ValueError(f"The exploration rate must be in (0, 1), got {rate!r}.")
        if policy not in POLICIES:
            raise ValueError(
                f"The exploration policy is one of {POLICIES}, got {policy!r}."
            )
        self.classes = np.asarray(list(classes), dtype=object)
        texts = [str(c) for c in classes]
        if policy == "fallback":
            if fallback is None or str(fallback) not in texts:
                raise ValueError(
                    f"The fallback policy needs fallback= one of the classes {texts}, "
                    f"got {fallback!r}."
                )
            self._fallback = self.classes[texts.index(str(fallback))]
        self.rate = float(rate)
        self.policy = policy
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()  # numpy generators are not thread-safe

    def apply(self, labels: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The served decisions and the log's columns ``explored``, ``propensity``, ``model_label``."""
        labels = np.asarray(labels)
        n = labels.shape[0]
        k = len(self.classes)
        with self._lock:
            explored = self._rng.random(n) < self.rate
            picks = np.asarray(self._rng.integers(0, k, size=(n,)))
        served = labels.astype(object, copy=True)
        if self.policy == "uniform":
            served[explored] = self.classes[picks[explored]]
            policy_p = np.full(n, 1.0 / k)
        else:
            served[explored] = self._fallback
            policy_p = (served.astype(str) == str(self._fallback)).astype(np.float64)
        same = served.astype(str) == labels.astype(str)
        propensity = (1 - self.rate) * same + self.rate * policy_p
        out = served.astype(labels.dtype) if labels.dtype != object else served
        return out, {
            "explored": explored,
            "propensity": propensity,
            "model_label": labels.astype(str),
        }
