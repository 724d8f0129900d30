"""Prometheus metrics of the HTTP server, through prometheus-client.

Each app gets its own `CollectorRegistry`, so several apps (tests, embedding) never
clash. What the contract noticed but accepted (values outside the observed range,
unseen categories under ``unknown="ignore"``, extra columns) is read from
`serving.Predictor.tally` when scraped, so the hot path pays nothing for it.

Under ``featurekit serve --workers N`` the registry's own metrics (requests, latency,
rows, failures, reloads, labels, the model's identity) live in prometheus-client's
multiprocess files (``PROMETHEUS_MULTIPROC_DIR``), so any worker's ``/metrics`` adds up
every worker's; what the collectors read at scrape time (contract tallies, drift,
golden rows, online figures, the shadow) is the answering worker's own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from .answers import COLUMN as ANSWER_COLUMN

__all__ = ["MULTIPROCESS_ENV", "Metrics"]

#: prometheus-client's multiprocess directory: set, counters are shared by processes.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Distinct column labels per tally metric; the rest add up under "(other)".
MAX_COLUMN_LABELS = 50

#: Latency buckets in seconds: fine below a millisecond, where single rows live.
BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class Metrics:
    """The server's metrics in one registry.

    Parameters
    ----------
    predictor : serving.Predictor, optional
        Adds the model-info metric and the tally counters; set later with `bind`
        when the model loads in the background.

    Examples
    --------
    >>> m = Metrics()
    >>> m.observe("/v2/health/live", 200, 0.0001)
    >>> b"featurekit_requests_total" in m.render()
    True
    """

    def __init__(self, predictor: Any = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "featurekit_requests",
            "HTTP requests by endpoint and status code.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "featurekit_request_duration_seconds",
            "Time from request received to response ready, by endpoint.",
            ["endpoint"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "featurekit_rows_scored",
            "Rows that passed the contract and were scored.",
            registry=self.registry,
        )
        self.rows_refused = Counter(
            "featurekit_rows_refused",
            "Rows refused by the contract (never scored).",
            registry=self.registry,
        )
        self.failures = Counter(
            "featurekit_contract_failures",
            "Contract failures by column and check.",
            ["column", "check"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "featurekit_model_reloads",
            "Reloads of the artifact (SIGHUP or the repository API), by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.labels = Counter(
            "featurekit_labels",
            "Labels posted to /labels: accepted, and of those, ids never served here.",
            ["outcome"],
            registry=self.registry,
        )
        #: The online figures (`featurekit.outcomes.online.Online`), when logging.
        self.online: Any = None
        # across worker processes: identity from any worker, ready when all are
        self.info = Gauge(
            "featurekit_model_info",
            "The model being served (value 1), labelled with its identity.",
            ["name", "version", "sha256"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.ready = Gauge(
            "featurekit_model_ready",
            "1 once the model is loaded and serving, 0 before.",
            registry=self.registry,
            multiprocess_mode="min",
        )
        self._predictor: Any = None
        self._declared: frozenset[str] = frozenset()
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        #: The golden rows' verdict at load (`featurekit.golden.Verification`).
        self.verification: Any = None
        #: The multiprocess directory when worker processes share counters.
        self.shared = os.environ.get(MULTIPROCESS_ENV) or None
        self._collectors: list[Any] = []
        from .metrics_outcomes import OutcomeCollector

        for collector in (_GoldenCollector, _TallyCollector, _DriftCollector):
            self.add_collector(collector(self))
        self.add_collector(OutcomeCollector(self))
        if predictor is not None:
            self.bind(predictor)

    def add_collector(self, collector: Any) -> None:
        """Register a collector read at scrape time (this process's state)."""
        self.registry.register(collector)
        self._collectors.append(collector)

    def bind(self, predictor: Any) -> None:
        """Attach the loaded model: its identity, its tally, its golden rows' verdict."""
        self._predictor = predictor
        self.verification = getattr(predictor, "verification", self.verification)
        # the model's own refusals (`serving.answers`) keep their label too
        self._declared = frozenset([*predictor.features.columns, ANSWER_COLUMN])
        self.info.labels(predictor.name, str(predictor.version), predictor.sha256).set(
            1
        )
        self.ready.set(1)

    def forget(self, predictor: Any) -> None:
        """Drop a replaced model's identity: only the live one is reported."""
        try:
            self.info.remove(predictor.name, str(predictor.version), predictor.sha256)
        except KeyError:  # never reported
            pass

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one request and its latency."""
        children = self._children.get((endpoint, status))
        if children is None:  # labels() costs a lock and a lookup: keep the children
            children = (
                self.requests.labels(endpoint, str(status)),
                self.latency.labels(endpoint),
            )
            self._children[endpoint, status] = children
        children[0].inc()
        children[1].observe(seconds)

    def contract_failures(self, failures: Any, n_rows: int) -> int:
        """Count every (column, check) of a failure table; return the rows refused.

        A column-level failure (a missing or undeclared column) refuses every row.
        """
        columns = failures["column"].tolist()
        checks = failures["check"].tolist()
        index = failures["index"].tolist()
        declared = self._declared
        for column, check in zip(columns, checks, strict=True):
            # an isin([...]) name can be long; the label keeps its head. Undeclared
            # column names come from clients: one label for all keeps series bounded
            label = str(column) if column in declared else "(undeclared)"
            self.failures.labels(label, str(check)[:120]).inc()
        refused = n_rows if any(i is None for i in index) else len(set(index))
        self.rows_refused.inc(refused)
        return refused

    def render(self) -> bytes:
        """The text exposition format, for ``GET /metrics``."""
        from prometheus_client import generate_latest

        if self.shared is None:
            return generate_latest(self.registry)
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        # every worker's counters from their files, then this process's collectors
        registry = CollectorRegistry(auto_describe=True)
        MultiProcessCollector(registry, self.shared)  # type: ignore[no-untyped-call]
        for collector in self._collectors:
            registry.register(collector)
        return generate_latest(registry)


class _GoldenCollector:
    """The golden rows' verdict at load; no sample until they ran."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        v = self._metrics.verification
        if v is None or v.status not in ("passed", "failed"):
            return  # not run: --verify off, or an artifact without golden rows
        ok = GaugeMetricFamily(
            "featurekit_golden_rows_ok",
            "1 when the artifact's golden rows answered as certified on this "
            "machine's onnxruntime at load, 0 when they did not.",
        )
        ok.add_metric([], float(v.ok))
        yield ok
        failing = GaugeMetricFamily(
            "featurekit_golden_rows_failing",
            "Golden rows that answered otherwise than certified at load.",
        )
        failing.add_metric([], float(v.failing))
        yield failing


class _TallyCollector:
    """Reads `Predictor.tally` at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        predictor = self._metrics._predictor
        if predictor is None:
            return
        tally = predictor.tally
        read = CounterMetricFamily(
            "featurekit_rows_read", "Rows read by the contract check."
        )
        read.add_metric([], tally.rows)
        yield read
        for name, doc, bucket in (
            (
                "featurekit_outside_observed",
                "Values accepted outside the observed (soft) range, by column.",
                tally.outside_observed,
            ),
            (
                "featurekit_unseen_categories",
                "Categories accepted although unseen in training, by column.",
                tally.unseen,
            ),
            (
                "featurekit_extra_columns",
                "Requests carrying an undeclared column (ignored), by column.",
                tally.extra_columns,
            ),
        ):
            family = CounterMetricFamily(name, doc, labels=["column"])
            counts = sorted(dict(bucket).items(), key=lambda kv: (-kv[1], kv[0]))
            # clients choose extra column names: keep the series count bounded
            for column, count in counts[:MAX_COLUMN_LABELS]:
                family.add_metric([column], count)
            rest = sum(count for _, count in counts[MAX_COLUMN_LABELS:])
            if rest:
                family.add_metric(["(other)"], rest)
            yield family


class _DriftCollector:
    """Reads the predictor's drift monitor (its last closed window) at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        predictor = self._metrics._predictor
        monitor = getattr(predictor, "monitor", None)
        if monitor is None:
            return
        monitor.tick()
        closed = CounterMetricFamily(
            "featurekit_monitor_windows", "Drift windows closed and evaluated."
        )
        closed.add_metric([], monitor.windows_closed)
        yield closed
        fill = GaugeMetricFamily(
            "featurekit_monitor_window_rows", "Rows in the open drift window."
        )
        fill.add_metric([], monitor.open_rows)
        yield fill
        alerts = dict(monitor.alerts)
        any_alert = GaugeMetricFamily(
            "featurekit_drift_dataset_alert",
            "1 when any feature alerts (drifted in k of the last n windows).",
        )
        any_alert.add_metric([], float(any(alerts.values())))
        yield any_alert
        last = monitor.last
        if last is None:
            return
        families = {
            key: GaugeMetricFamily(name, doc, labels=["feature"])
            for key, name, doc in (
                ("effect", "featurekit_drift_score", "Effect size in the last window (Wasserstein for numbers, Jensen-Shannon for categories)."),
                ("threshold", "featurekit_drift_threshold", "Calibrated effect threshold at the last window's size."),
                ("flag", "featurekit_drift_flag", "1 when the feature drifted in the last window."),
                ("alert", "featurekit_drift_alert", "1 when the feature drifted in k of the last n windows."),
                ("missing_current", "featurekit_missing_rate", "Missing rate in the last window."),
                ("unseen_rate", "featurekit_unseen_rate", "Unseen-category rate in the last window."),
                ("p_adjusted", "featurekit_drift_p_adjusted", "Benjamini-Hochberg adjusted p-value of the distribution test."),
            )
        }  # fmt: skip
        confidence = None
        for row in last["features"]:
            name = row["feature"]
            values = {
                "effect": row.get("effect"),
                "threshold": row.get("threshold"),
                "flag": float(row["verdict"] == "drift"),
                "alert": float(alerts.get(name, False)),
                "missing_current": row.get("missing_current"),
                "unseen_rate": row.get("unseen_rate"),
                "p_adjusted": row.get("p_adjusted"),
            }
            for key, value in values.items():
                if value is not None:
                    families[key].add_metric([name], float(value))
            if row.get("confidence_current") is not None:
                confidence = row["confidence_current"]
        yield from families.values()
        if confidence is not None:
            mean = GaugeMetricFamily(
                "featurekit_mean_confidence",
                "Mean top-class probability in the last window.",
            )
            mean.add_metric([], float(confidence))
            yield mean
        shares = GaugeMetricFamily(
            "featurekit_prediction_share",
            "Share of each predicted class in the last window.",
            labels=["label"],
        )
        profile = monitor.profile["features"].get("output:label")
        bins = last.get("label_counts")
        if profile is not None and bins:
            total = sum(bins) or 1
            for label, count in zip(profile["categories"], bins, strict=True):
                shares.add_metric([str(label)], count / total)
            yield shares
