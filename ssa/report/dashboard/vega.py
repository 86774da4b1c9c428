"""Vega's JavaScript for the page, and a PNG of its charts, both from
vl-convert (no browser, no network)."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import altair as alt
import vl_convert

from ssa.report.dashboard.words import LOCALE

# vl-convert names Vega-Lite versions "v5_20"; Altair's schema is "v5.20.1".
VL_VERSION = "_".join(alt.SCHEMA_VERSION.split(".")[:2])


@functools.cache
def _bundle_in_memory(cache_file: Path) -> str:
    if cache_file.is_file():
        return cache_file.read_text(encoding="utf-8")
    bundle = vl_convert.javascript_bundle(vl_version=VL_VERSION)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_name(f".{cache_file.name}.tmp")
    tmp.write_text(bundle, encoding="utf-8")
    os.replace(tmp, cache_file)
    return bundle


def vega_bundle(cache_dir: Path) -> str:
    """Vega, Vega-Lite and vega-embed as one script (about 0.9 MB).

    vl-convert takes seconds to bundle it, on every drop's refresh: it is
    kept on disk per vl-convert and Vega-Lite version, and in memory for a
    watcher's later refreshes."""
    name = f"vega-embed-{vl_convert.__version__}-{VL_VERSION}.js"
    return _bundle_in_memory(cache_dir / name)


def snapshot_png(specs: Mapping[str, Any]) -> bytes:
    """The map and the daily chart as one PNG, for a run page's artifact; a
    page with no map (no transaction has a bairro) gives the daily and the
    hour charts instead."""
    shown = ("mapa", "por-dia") if "mapa" in specs else ("por-dia", "por-hora")
    parts = [specs[name] for name in shown]
    page = {
        "$schema": parts[0].get("$schema"),
        "vconcat": [
            {k: v for k, v in spec.items() if k not in ("$schema", "config")}
            for spec in parts
        ],
        "config": parts[0].get("config", {}),
        "datasets": {
            name: rows
            for spec in parts
            for name, rows in spec.get("datasets", {}).items()
        },
    }
    for part in page["vconcat"]:
        part.pop("datasets", None)
    return vl_convert.vegalite_to_png(
        page,
        scale=1,
        vl_version=VL_VERSION,
        format_locale=LOCALE,
        time_format_locale=LOCALE,
    )
