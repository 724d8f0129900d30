"""The live monitoring page of ``GET /dashboard``: self-contained HTML, inline CSS and SVG.

`render` draws what the server knows now: drift per feature over the recent closed
windows (`serving.monitor.Monitor.recent`), the model's confidence per window against
the reference profile's, the online metrics with their 95 % bands and the label
coverage (`featurekit.outcomes.online.Online`). Charts are
`featurekit.outcomes.evaluation_html.metric_chart`, the ones of ``fk.evaluate``'s page.

Nothing is fetched from elsewhere: no CDN, no font, no image. A small inline script
polls ``monitor`` (relative to the page) every few seconds and swaps in a fresh page
when rows were scored, a window closed or labels arrived; without script the page is
complete as served.
"""

from __future__ import annotations

import html
import math
from typing import Any

from featurekit.outcomes.evaluation_html import metric_chart
from featurekit.outcomes.metrics import DEFAULT_MARGINS, HIGHER_IS_BETTER, decay_line

__all__ = ["MAX_WINDOWS", "REFRESH_SECONDS", "render"]

#: Closed windows shown as columns of the drift table, the newest last.
MAX_WINDOWS = 12
#: How often the page's script asks ``/monitor`` whether something changed.
REFRESH_SECONDS = 5

_STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;max-width:80em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}
td.drift{background:#e53935;color:#fff}td.ok{background:#c8e6c9}
td.insufficient{background:#eee;color:#777}.worse{color:#d62728;font-weight:bold}
.none{color:#555;font-style:italic}.alert{color:#d62728;font-weight:bold}
.meta{color:#555;font-size:13px}"""

_SCRIPT = """(function () {
  var every = %d * 1000;
  function swap() {
    return fetch("dashboard", {cache: "no-store"}).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (text) {
      if (!text) return;
      var fresh = new DOMParser().parseFromString(text, "text/html");
      var next = fresh.getElementById("dashboard");
      var now = document.getElementById("dashboard");
      if (next && now) now.replaceWith(next);
    });
  }
  function tick() {
    fetch("monitor", {cache: "no-store"}).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (s) {
      var now = document.getElementById("dashboard");
      var o = s && s.online ? s.online : {labelled_rows: 0, served_rows: 0};
      var key = s ? [s.windows_closed, s.rows_total, o.labelled_rows,
                     o.served_rows].join("/") : "";
      if (!s || key !== now.dataset.key) return swap();
    }).catch(function () {});
  }
  setInterval(tick, every);
})();"""


def _f(x: Any, digits: int = 4) -> str:
    """A number as the page shows it (fixed `digits` decimals), or an en dash."""
    if isinstance(x, int | float) and math.isfinite(x):
        return f"{x:.{digits}f}"
    return "–"


def _e(x: Any) -> str:
    return html.escape(str(x))


def _drift(monitor: dict[str, Any] | None) -> str:
    if monitor is None:
        return (
            '<p class="none" id="no-monitor">Drift monitoring is off: the artifact '
            "has no profile.json (re-export it) or the server was started with "
            "--no-monitor.</p>"
        )
    status, windows = monitor["status"], monitor["windows"][-MAX_WINDOWS:]
    open_rows = (
        f"{status['current_window_rows']} of {status['window']} rows in the open "
        f"window; {status['windows_closed']} windows closed, "
        f"{status['rows_total']} rows counted."
    )
    if not windows:
        return (
            f'<p class="none" id="no-windows">No window has closed yet: {open_rows}</p>'
        )
    alerts = set(status["alerts"])
    k, n = status["persistence"]
    head = "".join(f"<th>#{_e(w['window'])}</th>" for w in windows)
    names = list(dict.fromkeys(r["feature"] for w in windows for r in w["features"]))
    rows = []
    for name in names:
        cells = []
        for w in windows:
            row = next((r for r in w["features"] if r["feature"] == name), None)
            if row is None:
                cells.append('<td class="insufficient">·</td>')
                continue
            verdict = str(row["verdict"])
            css = {"drift": "drift", "ok": "ok"}.get(verdict, "insufficient")
            tip = (
                f"{verdict}; {row.get('statistic') or 'effect'} "
                f"{_f(row.get('effect'))} (threshold {_f(row.get('threshold'))}), "
                f"adjusted p {_f(row.get('p_adjusted'))}"
            )
            text = _f(row.get("effect"), 3) if css != "insufficient" else "–"
            cells.append(
                f'<td class="{css}" data-verdict="{_e(verdict)}" title="{_e(tip)}">'
                f"{text}</td>"
            )
        alert = (
            '<td class="alert">alert</td>' if name in alerts else "<td>no alert</td>"
        )
        rows.append(
            f'<tr data-feature="{_e(name)}"><th>{_e(name)}</th>{"".join(cells)}'
            f"{alert}</tr>"
        )
    return (
        f'<p class="meta">Effect per closed window (Wasserstein for numbers, '
        f"Jensen-Shannon for categories; red: drift, grey: too few rows). A feature "
        f"alerts when it drifted in {k} of the last {n} windows. {open_rows}</p>"
        f'<table id="drift"><thead><tr><th>feature</th>{head}<th>alert</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _confidence(monitor: dict[str, Any] | None) -> str:
    if monitor is None:
        return (
            '<p class="none">Drift monitoring is off, so confidence is not counted.</p>'
        )
    reference = monitor.get("confidence_reference")
    points = []
    for w in monitor["windows"][-MAX_WINDOWS:]:
        found = [
            r["confidence_current"]
            for r in w["features"]
            if r.get("confidence_current") is not None
        ]
        points.append({"confidence": found[0] if found else None})
    if reference is None and not any(p["confidence"] is not None for p in points):
        return (
            '<p class="none" id="no-confidence">This model answers no class '
            "probabilities: there is no confidence to show.</p>"
        )
    if not any(p["confidence"] is not None for p in points):
        return (
            f'<p class="none" id="no-confidence">No window with enough rows has '
            f"closed yet; the reference profile's mean top-class probability is "
            f"{_f(reference)}.</p>"
        )
    last = next(
        (p["confidence"] for p in reversed(points) if p["confidence"] is not None),
        None,
    )
    return (
        f'<p id="confidence-now">Mean top-class probability in the last window: '
        f"<b>{_f(last)}</b>; in the reference profile: {_f(reference)}.</p>"
        + metric_chart(
            points, "confidence", reference, None, reference_label="reference"
        )
    )


def _online(log: bool, online: dict[str, Any] | None) -> tuple[str, str]:
    """The metrics section and the coverage section."""
    if not log or online is None:
        none = (
            '<p class="none" id="no-log">This server keeps no prediction log, so '
            "labels have nothing to join and there are no online metrics: start it "
            "with --log DIR.</p>"
        )
        return none, none.replace('id="no-log"', 'id="no-log-coverage"')
    served, labelled = online["served_rows"], online["labelled_rows"]
    coverage = (
        f'<p id="coverage-now">Label coverage: <b id="coverage-value">'
        f"{100 * online['label_coverage']:.1f} %</b> ({labelled} of {served} served "
        f"rows labelled since the server started; {online['unknown_labels']} labels "
        f"matched no served row).</p>"
        f'<svg width="400" height="14" role="img" aria-label="label coverage">'
        f'<rect width="400" height="14" fill="#eee"/><rect width="'
        f"{400 * min(max(online['label_coverage'], 0.0), 1.0):.1f}"
        f'" height="14" fill="#2ca02c"/></svg>'
    )
    metrics = online["metrics"]
    if not metrics:
        return (
            '<p class="none" id="no-labels">No labels yet: POST /labels with '
            '{"ids": [...], "labels": [...]} for rows this server answered, and the '
            "online metrics appear here.</p>"
        ), coverage
    holdout = online["holdout"]
    rows, charts = [], []
    for name, f in metrics.items():
        ref = holdout.get(name)
        line = (
            decay_line(name, ref) if _finite(ref) and name in DEFAULT_MARGINS else None
        )
        higher = HIGHER_IS_BETTER.get(name, True)
        worse = line is not None and (f["high"] < line if higher else f["low"] > line)
        css = "value worse" if worse else "value"
        rows.append(
            f'<tr data-metric="{_e(name)}"><th>{_e(name)}</th>'
            f'<td class="{css}">{_f(f["value"])}</td>'
            f"<td>[{_f(f['low'])}, {_f(f['high'])}]</td><td>{_f(ref)}</td>"
            f'<td class="line">{_f(line)}</td><td>{_e(f["n"])}</td></tr>'
        )
        charts.append(
            f"<h3>{_e(name)}</h3>" + metric_chart(online["blocks"], name, ref, line)
        )
    table = (
        f'<p class="meta">Over the last {min(labelled, online["window"])} labelled '
        f"rows (at most {online['window']}), with 95 % intervals. The decay line is "
        "the holdout moved by the margin of fk.evaluate towards worse; a figure is "
        "red when its whole interval lies beyond it (fk.evaluate calls such a "
        "window worse). The charts cut those rows into consecutive blocks, oldest "
        "first.</p>"
        '<table id="online"><thead><tr><th>metric</th><th>online</th>'
        "<th>95 % interval</th><th>holdout</th><th>decay line</th>"
        "<th>labelled rows</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return table + "".join(charts), coverage


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def render(view: dict[str, Any]) -> str:
    """The dashboard page for `view`, what `serving.routes_dashboard` gathers.

    Parameters
    ----------
    view : dict
        ``model`` (name, version, sha256), ``generated`` (a time), ``log`` (whether
        the server keeps a prediction log), ``monitor`` (None when off, else
        `Monitor.status` as ``status``, `Monitor.recent` as ``windows`` and the
        profile's ``confidence_reference``) and
        ``online`` (None without a log, else `Online.status` plus ``blocks``).

    Examples
    --------
    >>> page = render({"model": {"name": "loans", "version": 2, "sha256": "ab"},
    ...                "generated": "now", "log": False, "monitor": None,
    ...                "online": None})
    >>> 'id="no-log"' in page and "http" not in page
    True
    """
    model, monitor, online = view["model"], view["monitor"], view["online"]
    metrics, coverage = _online(view["log"], online)
    # what the script compares with /monitor: a change fetches a fresh page
    m = monitor["status"] if monitor else {}
    o = online or {}
    key = "/".join(
        str(v)
        for v in (
            m.get("windows_closed"),
            m.get("rows_total"),
            o.get("labelled_rows", 0),
            o.get("served_rows", 0),
        )
    )
    title = f"{_e(model['name'])} v{_e(model['version'])}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>featurekit dashboard: {title}</title>
<style>{_STYLE}</style></head><body>
<main id="dashboard" data-key="{_e(key)}">
<h1>Live monitoring of {title}</h1>
<p class="meta">model.onnx sha256 {_e(model["sha256"])}; drawn at
{_e(view["generated"])}; the page refreshes itself every {REFRESH_SECONDS} s.</p>
<h2>Online metrics</h2>{metrics}
<h2>Label coverage</h2>{coverage}
<h2>Confidence</h2>{_confidence(monitor)}
<h2>Drift per feature</h2>{_drift(monitor)}
</main>
<script>{_SCRIPT % REFRESH_SECONDS}</script>
</body></html>
"""
