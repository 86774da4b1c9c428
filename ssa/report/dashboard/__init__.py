"""The dashboard: one self-contained HTML page of what Gold found, offline.

Altair builds the charts (Vega-Lite specs) and vl-convert supplies the Vega
JavaScript to inline, so ``data/dashboard.html`` opens from a laptop, a file
share or an e-mail attachment with no network: plotly's map fetches its geo
assets from a CDN even with the base map off, and folium loads Leaflet from
one. The bairro map is drawn from the polygons in ``data/reference`` (their
rings clockwise, as Vega needs). Labels are Portuguese, numbers and money in
Brazilian format (R$ 1.234,56), days dd/mm and times in the local zone the
rules use (``RuleSettings.utc_offset_seconds``).

Live mode: opened as ``dashboard.html#ao-vivo`` the page reads
``dashboard-live.js``, a few kilobytes every write leaves beside it, every
``exports.dashboard_live_poll_seconds``: the headline figures and the latest
files from the watched folder change in place after each refresh, and the
map and charts follow with a reload at most every
``exports.dashboard_live_reload_seconds``. The feed is a script, not JSON: a
page opened from disk (``file://``) may load a script beside it, where a
browser refuses it ``fetch``. Without the hash the page asks for nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ssa.report.dashboard.charts import charts, load_map
from ssa.report.dashboard.data import read_data
from ssa.report.dashboard.page import live_feed, render_html
from ssa.settings import Settings


def write_dashboard(
    settings: Settings, detection: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Write data/dashboard.html atomically; returns its path, size, the
    alerts and the rule flags it counted, and the chart specs (for a PNG)."""
    data = read_data(settings)
    specs = charts(data, load_map(settings.paths.resolve(settings.paths.bairros_map)))
    paths, exports = settings.paths, settings.exports
    stamp = str(time.time_ns())
    html = render_html(
        data,
        specs,
        detection,
        exports.dashboard_top_rows,
        paths.cache_path,
        {
            "stamp": stamp,
            "feed": paths.dashboard_live_js.name,
            "poll_ms": round(exports.dashboard_live_poll_seconds * 1000),
            "reload_ms": round(exports.dashboard_live_reload_seconds * 1000),
        },
    )
    path = paths.dashboard_html
    # The page first: a live page that sees the new stamp reloads into it.
    _replace(path, html)
    _replace(paths.dashboard_live_js, live_feed(data, stamp))
    return {
        "file": str(path),
        "bytes": path.stat().st_size,
        "bairros_with_data": int((data.bairros["transactions"] > 0).sum()),
        "alerts": int(data.kpis.get("alerts") or 0),
        "flagged": int(data.kpis.get("flagged") or 0),
        "specs": specs,
    }


def _replace(path: Path, text: str) -> None:
    """Write whole or not at all: a browser polling the file never reads half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
