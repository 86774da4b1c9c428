"""The page's charts as Vega-Lite specs (Altair): the bairro maps (where
some transaction has a bairro), alerts by day and signal, alerts by hour
and channel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from ssa.report.dashboard.data import DashboardData
from ssa.report.dashboard.words import (
    CHANNEL_LABELS,
    FLAGGED_TITLE,
    LEARNED_COLOUR,
    LEARNED_LABEL,
    RULE_COLOURS,
    RULE_LABELS,
)
from ssa.rules import RULES

MAP_WIDTH = 460
MAP_HEIGHT = 420
NO_DATA_FILL = "#e6e6e6"
# The polygons go into the map spec once, by name, for all its layers.
MAP_DATASET = "bairros-poligonos"


def load_map(path: Path) -> list[dict[str, Any]]:
    """The bairro polygons (features with a ``bairro`` property)."""
    if not path.is_file():
        raise FileNotFoundError(f"bairro map not found: {path}")
    return json.loads(path.read_text(encoding="utf-8"))["features"]


def _bairro_map(
    features: list[dict[str, Any]],
    bairros: pd.DataFrame,
    field: str,
    title: str,
) -> alt.LayerChart:
    """Every bairro drawn grey, then coloured where the rate exists: the
    rate of the alert queue, as the headline counts it, the rule flags
    beside it in the tooltip."""
    columns = [
        "bairro",
        "zone",
        "transactions",
        "alerts",
        "flagged",
        "amount",
        "population_2022",
        field,
    ]
    rates = bairros[field].dropna()
    top = float(rates.quantile(0.95)) if len(rates) else 1.0
    top = top if top > 0 else float(rates.max() or 1.0)
    shapes = alt.Data(name=MAP_DATASET)
    base = alt.Chart(shapes).mark_geoshape(
        fill=NO_DATA_FILL, stroke="white", strokeWidth=0.4
    )
    coloured = (
        alt.Chart(shapes)
        .mark_geoshape(stroke="white", strokeWidth=0.4)
        .transform_lookup(
            lookup="properties.bairro",
            from_=alt.LookupData(
                data=bairros[columns], key="bairro", fields=columns[1:]
            ),
        )
        .transform_calculate(bairro="datum.properties.bairro")
        .transform_filter(f"isValid(datum['{field}'])")
        .encode(
            color=alt.Color(
                f"{field}:Q",
                title=title,
                # A bairro with few residents (Centro Administrativo: 151)
                # would take the whole range: the colours stop at the 95th
                # percentile, the tooltip keeps the value.
                scale=alt.Scale(
                    scheme="orangered", domainMin=0, domainMax=top, clamp=True
                ),
                legend=alt.Legend(
                    orient="bottom", format=",.2~f", gradientLength=260, titleLimit=400
                ),
            ),
            tooltip=[
                alt.Tooltip("bairro:N", title="Bairro"),
                alt.Tooltip("zone:N", title="Região"),
                alt.Tooltip(f"{field}:Q", title=title, format=",.2f"),
                alt.Tooltip("alerts:Q", title="Alertas", format=",d"),
                alt.Tooltip("flagged:Q", title=FLAGGED_TITLE, format=",d"),
                alt.Tooltip("transactions:Q", title="Transações", format=",d"),
                alt.Tooltip("amount:N", title="Valor movimentado"),
                alt.Tooltip("population_2022:Q", title="Moradores (2022)", format=",d"),
            ],
        )
    )
    return (
        alt.layer(base, coloured)
        .project(type="mercator")
        .properties(width=MAP_WIDTH, height=MAP_HEIGHT, title=title)
    )


def _signal_colours() -> list[str]:
    """One colour per rule (cycling past ten), the learned voice's last."""
    rules = [RULE_COLOURS[i % len(RULE_COLOURS)] for i in range(len(RULES))]
    return [*rules, LEARNED_COLOUR]


def charts(data: DashboardData, features: list[dict[str, Any]]) -> dict[str, Any]:
    """The page's Vega-Lite specs by element id."""
    maps = alt.hconcat(
        _bairro_map(
            features,
            data.bairros,
            "per_1000_transactions",
            "Alertas por 1.000 transações",
        ),
        _bairro_map(
            features,
            data.bairros,
            "per_1000_residents",
            "Alertas por 1.000 moradores (Censo 2022)",
        ),
    ).resolve_scale(color="independent")
    day = alt.X(
        "day:T",
        title="Dia",
        timeUnit="utcyearmonthdate",
        axis=alt.Axis(format="%d/%m", labelAngle=0),
    )
    signals = [*(RULE_LABELS[r] for r in RULES), LEARNED_LABEL]
    daily = (
        alt.Chart(data.daily)
        .mark_bar()
        .encode(
            x=day,
            y=alt.Y("sum(anomalies):Q", title="Alertas"),
            color=alt.Color(
                "flag:N",
                title="Sinal",
                sort=signals,
                scale=alt.Scale(domain=signals, range=_signal_colours()),
                legend=alt.Legend(orient="right"),
            ),
            tooltip=[
                alt.Tooltip(
                    "day:T", title="Dia", format="%d/%m/%Y", timeUnit="utcyearmonthdate"
                ),
                alt.Tooltip("flag:N", title="Sinal"),
                alt.Tooltip("sum(anomalies):Q", title="Alertas", format=",d"),
            ],
        )
        .properties(width=760, height=260, title="Alertas por dia e sinal")
    )
    hourly = (
        alt.Chart(data.hour_channel)
        .mark_rect()
        .encode(
            x=alt.X("local_hour:O", title="Hora local"),
            y=alt.Y(
                "channel_label:N",
                title="Canal",
                sort=list(CHANNEL_LABELS.values()),
            ),
            color=alt.Color(
                "per_1000_transactions:Q",
                title="Alertas por 1.000",
                scale=alt.Scale(scheme="orangered"),
            ),
            tooltip=[
                alt.Tooltip("local_hour:O", title="Hora"),
                alt.Tooltip("channel_label:N", title="Canal"),
                alt.Tooltip("alerts:Q", title="Alertas", format=",d"),
                alt.Tooltip("flagged:Q", title=FLAGGED_TITLE, format=",d"),
                alt.Tooltip("transactions:Q", title="Transações", format=",d"),
                alt.Tooltip(
                    "per_1000_transactions:Q",
                    title="Alertas por 1.000",
                    format=",.2f",
                ),
            ],
        )
        .properties(width=760, height=160, title="Alertas por hora do dia e canal")
    )
    specs = {"por-dia": daily.to_dict(), "por-hora": hourly.to_dict()}
    if data.places is not None and not data.places.mapped:
        # No transaction has a bairro: an all-grey map would only look like
        # a city without alerts; the page says why there is none.
        return specs
    map_spec = maps.to_dict()
    map_spec.setdefault("datasets", {})[MAP_DATASET] = features
    return {"mapa": map_spec, **specs}
