"""Prometheus metrics of the outcome loop, read at scrape time.

- ``featurekit_online_metric{metric}`` and ``..._lower`` / ``..._upper``: the online
  figures over the last labelled rows, with their 95 % interval;
- ``featurekit_holdout_metric{metric}``: the artifact's holdout figures, the baseline
  of the decay rule in ``serving/alerts.yml``;
- ``featurekit_label_coverage``: labelled rows over served rows since start;
- ``featurekit_online_labelled_rows``: labels joined to a served row, ever;
- ``featurekit_log_rows{outcome}``: rows written to the prediction log, or dropped
  because its buffer was full or a write failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["OutcomeCollector"]


class OutcomeCollector:
    """Reads the online tracker and the log writer of the served model."""

    def __init__(self, metrics: Any) -> None:
        self._metrics = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        predictor = self._metrics._predictor
        log = getattr(predictor, "log", None)
        if log is not None:
            rows = CounterMetricFamily(
                "featurekit_log_rows",
                "Rows of the prediction log: written, or dropped (buffer full or a "
                "failed write).",
                labels=["outcome"],
            )
            rows.add_metric(["written"], float(log.stats["rows_written"]))
            rows.add_metric(["dropped"], float(log.stats["rows_dropped"]))
            yield rows
        online = self._metrics.online
        if online is None:
            return
        figures = online.figures()
        families = {
            key: GaugeMetricFamily(
                f"featurekit_online_metric{suffix}",
                f"Online {what} over the last {online.window} labelled rows.",
                labels=["metric"],
            )
            for key, suffix, what in (
                ("value", "", "performance"),
                ("low", "_lower", "performance, lower end of the 95 % interval"),
                ("high", "_upper", "performance, upper end of the 95 % interval"),
            )
        }
        for name, fig in figures.items():
            for key, family in families.items():
                family.add_metric([name], float(fig[key]))
        yield from families.values()
        holdout = GaugeMetricFamily(
            "featurekit_holdout_metric",
            "The artifact's holdout performance (fk.export(..., holdout_y=)).",
            labels=["metric"],
        )
        for name, fig in (online.holdout.get("metrics") or {}).items():
            holdout.add_metric([name], float(fig["value"]))
        yield holdout
        coverage = GaugeMetricFamily(
            "featurekit_label_coverage",
            "Labelled rows over served rows since the server started.",
        )
        coverage.add_metric([], online.coverage())
        yield coverage
        labelled = CounterMetricFamily(
            "featurekit_online_labelled_rows",
            "Labels joined to a served row since the server started.",
        )
        labelled.add_metric([], float(online.labelled))
        yield labelled
