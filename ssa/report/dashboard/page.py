"""The page itself: the HTML (templates/), its tables and headline, and the
feed live mode reads."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import vl_convert
from markupsafe import Markup, escape

from ssa.report.dashboard.data import DashboardData
from ssa.report.dashboard.places import note, source_table
from ssa.report.dashboard.vega import vega_bundle
from ssa.report.dashboard.words import (
    LOCALE,
    REPORT_VALUES,
    br_day,
    br_number,
    report_header,
)
from ssa.wording import brl

LIVE_HASH = "#ao-vivo"
_JINJA = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
)
KPI_TEMPLATE = _JINJA.get_template("kpis.html.j2")
ARRIVALS_TEMPLATE = _JINJA.get_template("arrivals.html.j2")
TEMPLATE = _JINJA.get_template("page.html.j2")


def _report_tables(detection: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The detection report's tables, whatever figures it carries: each frame
    with Portuguese headers and values where known, each dict of figures as
    key/value."""
    if not detection:
        return []
    tables = []
    rules = detection.get("rules")
    if isinstance(rules, pd.DataFrame) and len(rules):
        shown = rules.copy()
        for column, translate in REPORT_VALUES.items():
            if column in shown:
                shown[column] = shown[column].map(translate)
        tables.append(
            {
                "title": "Cada regra contra a fraude conhecida",
                "frame": _formatted(shown.rename(columns=report_header)),
            }
        )
    score = detection.get("score")
    if isinstance(score, Mapping) and score:
        rows = [
            {
                "Medida": " · ".join(report_header(k) for k in key),
                "Valor": _cell(REPORT_VALUES.get(key[-1], _same)(value)),
            }
            for key, value in _flatten(score).items()
        ]
        tables.append(
            {
                "title": "Pontuação de risco: qualidade do ranking e linhas de base",
                "frame": pd.DataFrame(rows),
            }
        )
    return tables


def _same(value: Any) -> Any:
    return value


def _flatten(
    values: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> dict[tuple[str, ...], Any]:
    """Nested figures by their path of keys."""
    out: dict[tuple[str, ...], Any] = {}
    for key, value in values.items():
        name = (*prefix, str(key))
        if isinstance(value, Mapping):
            out.update(_flatten(value, name))
        else:
            out[name] = value
    return out


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return br_number(value)
    if isinstance(value, float):
        return br_number(value, 0 if value.is_integer() and abs(value) > 1 else 3)
    return str(value)


def _formatted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).map(_cell)


def _script_json(spec: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(spec, ensure_ascii=False).replace("</", "<\\/")


def _html_table(frame: pd.DataFrame, table_id: str) -> str:
    """A plain table; numbers right-aligned."""
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    numeric = {
        c
        for c in frame.columns
        if frame[c].astype(str).str.fullmatch(r"[-R$\s\d.,%—]+").all()
    }
    rows = []
    for record in (
        frame.astype(object).where(frame.notna(), "—").itertuples(index=False)
    ):
        cells = "".join(
            f'<td class="num">{escape(v)}</td>'
            if c in numeric
            else f"<td>{escape(v)}</td>"
            for c, v in zip(frame.columns, record, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return (
        f'<table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _kpis(kpis: Mapping[str, Any]) -> list[dict[str, str]]:
    """The headline: the alert queue (gold_anomalies, what an analyst opens),
    and how many of its rows the rules flagged."""
    transactions = int(kpis.get("transactions") or 0)
    alerts = int(kpis.get("alerts") or 0)
    flagged = int(kpis.get("flagged") or 0)
    share = alerts / transactions * 100 if transactions else 0.0
    return [
        {"label": "Transações", "value": br_number(transactions)},
        {
            "label": f"Alertas ({br_number(share, 2)} %) · "
            f"{br_number(flagged)} pelas regras",
            "value": br_number(alerts),
        },
        {
            "label": "Valor em alerta",
            "value": brl(float(kpis.get("alert_cents") or 0) / 100),
        },
        {
            "label": "Risco médio dos alertas (0–100)",
            "value": br_number(float(kpis.get("mean_risk_score") or 0), 1),
        },
        {
            "label": "Alertas críticos",
            "value": br_number(int(kpis.get("critical") or 0)),
        },
    ]


def _arrivals_html(data: DashboardData) -> Markup:
    table = _html_table(data.arrivals, "chegando-tabela") if len(data.arrivals) else ""
    return Markup(ARRIVALS_TEMPLATE.render(table=Markup(table)))


def _sources_html(data: DashboardData) -> Markup:
    """The panel by source, shown where rows lack a place or systems mix."""
    places = data.places
    if places is None or not places.shown_by_source:
        return Markup("")
    return Markup(_html_table(source_table(places), "por-fonte-tabela"))


def _kpis_html(data: DashboardData) -> Markup:
    return Markup(KPI_TEMPLATE.render(kpis=_kpis(data.kpis)))


def live_feed(data: DashboardData, stamp: str) -> str:
    """dashboard-live.js: what live mode changes in place, and the stamp of
    the page written with it (a newer stamp: time to redraw the charts)."""
    feed = {
        "stamp": stamp,
        "generated_at": data.generated_at,
        "kpis_html": str(_kpis_html(data)),
        "arrivals_html": str(_arrivals_html(data)),
    }
    return f"window.ssaLive && window.ssaLive({_script_json(feed)});\n"


def render_html(
    data: DashboardData,
    specs: Mapping[str, Any],
    detection: Mapping[str, Any] | None,
    top_rows: int,
    cache_dir: Path,
    live: Mapping[str, Any],
) -> str:
    """The whole page, the Vega bundle inlined: no request leaves it (unless
    opened in live mode, and then only for the feed beside it)."""
    bundle = vega_bundle(cache_dir)
    report = [
        {
            "title": table["title"],
            "html": Markup(_html_table(table["frame"], f"relatorio-{i}")),
        }
        for i, table in enumerate(_report_tables(detection))
    ]
    period = (
        f"{br_day(data.kpis.get('first_local_day'))} a "
        f"{br_day(data.kpis.get('last_local_day'))}"
    )
    return TEMPLATE.render(
        vega_script=Markup(bundle.replace("</script", "<\\/script")),
        period=period,
        generated_at=data.generated_at,
        zone=data.zone,
        kpis_html=_kpis_html(data),
        scoring=data.scoring,
        arrivals_html=_arrivals_html(data),
        live_hash=LIVE_HASH,
        live=Markup(_script_json({"hash": LIVE_HASH, **live})),
        places_note=note(data.places) if data.places is not None else "",
        show_map="mapa" in specs,
        sources_html=_sources_html(data),
        top_rows=top_rows,
        top_html=Markup(_html_table(data.top, "top-anomalias")),
        report=report,
        format_locale=Markup(_script_json(vl_convert.get_format_locale(LOCALE))),
        time_format_locale=Markup(
            _script_json(vl_convert.get_time_format_locale(LOCALE))
        ),
        specs=Markup(_script_json(specs)),
    )
