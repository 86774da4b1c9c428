"""The rows the map cannot draw, and what the page says of them.

The map counts rows with a bairro only. A fintech's own export often has
none: a mapping says ``places: none`` (PaySim, the ULB card file), a file
has no lat/lon, or a point lies outside Salvador's bairros. Left unsaid,
the map would read as the whole alert queue, and a bairro coloured pale as
a bairro with few alerts; so the page says how many alerts are off the map
and why, and counts them by source, a view that needs no place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ssa.intake.ingest_log import GENERATOR_SOURCE, NATIVE_SOURCE, lineage_source
from ssa.intake.source_mapping import SourceError, load_source
from ssa.report.dashboard.words import br_number, source_label

COUNTS = (
    "transactions",
    "transactions_with_bairro",
    "transactions_without_point",
    "flagged",
    "alerts",
    "alerts_with_bairro",
    "alerts_without_point",
)


@dataclass(frozen=True)
class Places:
    """The alert queue and the transactions by place, per source (system)."""

    by_source: pd.DataFrame

    def total(self, column: str) -> int:
        return int(self.by_source[column].sum()) if len(self.by_source) else 0

    @property
    def mapped(self) -> bool:
        """Some transaction has a bairro: the map has something to draw."""
        return self.total("transactions_with_bairro") > 0

    @property
    def complete(self) -> bool:
        """Every transaction has a bairro: the map is the whole queue."""
        return self.total("transactions_with_bairro") == self.total("transactions")

    @property
    def shown_by_source(self) -> bool:
        """The panel by source: where rows lack a place, or systems mix."""
        return not self.complete or len(self.by_source) > 1


def summarise(files: pd.DataFrame, sources_dir: Path) -> Places:
    """Per system (the files of one mapping added up, ``lineage_source``),
    the counts of ``gold/dashboard_sources.sql`` and why rows lack a place."""
    if files.empty:
        return Places(pd.DataFrame(columns=["source", *COUNTS, "why"]))
    systems = files["source"].map(lineage_source).rename("source")
    grouped = (
        files[list(COUNTS)]
        .astype("int64")
        .groupby(systems)
        .sum()
        .reset_index()
        .sort_values(["alerts", "source"], ascending=[False, True], ignore_index=True)
    )
    grouped["why"] = grouped["source"].map(lambda s: _no_point_why(s, sources_dir))
    return Places(grouped)


def _no_point_why(source: str, sources_dir: Path) -> str:
    """Why a source's rows have no point: its mapping says it has none, or
    its rows left lat/lon and bairro empty."""
    if source not in (GENERATOR_SOURCE, NATIVE_SOURCE):
        try:
            if load_source(source, sources_dir).mapping.places == "none":
                return "o mapeamento diz places: none"
        except SourceError:
            pass  # renamed or removed since: what the rows show is enough
    return "linhas sem lat/lon nem bairro"


def _share(part: int, whole: int) -> str:
    return br_number(part / whole * 100 if whole else 0.0, 1)


def _off_map_reasons(places: Places) -> list[str]:
    """'209 de paysim (o mapeamento diz places: none, …)', one per system
    and reason, most alerts first."""
    reasons = []
    for row in places.by_source.itertuples(index=False):
        no_point = int(row.alerts_without_point)
        elsewhere = int(row.alerts - row.alerts_with_bairro - no_point)
        name = source_label(row.source)
        if no_point:
            reasons.append(f"{br_number(no_point)} de {name} sem lugar ({row.why})")
        if elsewhere:
            reasons.append(
                f"{br_number(elsewhere)} de {name} com coordenadas mas sem bairro "
                "(fora dos bairros de Salvador, ou sem o nome do bairro no arquivo)"
            )
    return reasons


def note(places: Places) -> str:
    """What the map section says above (or instead of) the map; empty when
    every transaction has a bairro."""
    if places.complete:
        return ""
    alerts = places.total("alerts")
    placed = places.total("alerts_with_bairro")
    transactions = places.total("transactions")
    with_bairro = places.total("transactions_with_bairro")
    reasons = _off_map_reasons(places)
    why = f": {'; '.join(reasons)}" if reasons else ""
    if not places.mapped:
        return (
            f"Sem mapa: nenhuma das {br_number(transactions)} transações tem "
            f"bairro, e nenhum dos {br_number(alerts)} alertas pode ser situado "
            f"num bairro de Salvador{why}. Os alertas por fonte, por dia e por "
            "hora e canal, abaixo, não dependem de lugar."
        )
    return (
        f"O mapa mostra {br_number(placed)} dos {br_number(alerts)} alertas "
        f"({_share(placed, alerts)} %); {br_number(alerts - placed)} ficam "
        f"fora dele{why}. As taxas do mapa, por 1.000 transações e por 1.000 "
        f"moradores, contam só as linhas com bairro: {br_number(placed)} "
        f"alertas e {br_number(with_bairro)} das {br_number(transactions)} "
        "transações. Os alertas por fonte, abaixo, contam todos."
    )


SOURCE_HEADERS = {
    "source": "Fonte",
    "transactions": "Transações",
    "with_bairro_share": "Transações com bairro (%)",
    "alerts": "Alertas",
    "per_1000": "Alertas por 1.000 transações",
    "alerts_with_bairro": "Alertas no mapa",
    "alerts_without_point": "Alertas sem lugar",
    "alerts_elsewhere": "Alertas com coordenadas, sem bairro",
    "flagged": "Sinalizadas pelas regras",
}


def source_table(places: Places) -> pd.DataFrame:
    """The panel by source, as the page shows it: every alert counted,
    those the map draws beside those it cannot."""
    frame = places.by_source
    shown = pd.DataFrame(
        {
            "source": frame["source"].map(source_label),
            "transactions": frame["transactions"].map(br_number),
            "with_bairro_share": [
                _share(p, t)
                for p, t in zip(
                    frame["transactions_with_bairro"],
                    frame["transactions"],
                    strict=True,
                )
            ],
            "alerts": frame["alerts"].map(br_number),
            "per_1000": [
                br_number(a * 1000 / t if t else float("nan"), 2)
                for a, t in zip(frame["alerts"], frame["transactions"], strict=True)
            ],
            "alerts_with_bairro": frame["alerts_with_bairro"].map(br_number),
            "alerts_without_point": frame["alerts_without_point"].map(br_number),
            "alerts_elsewhere": (
                frame["alerts"]
                - frame["alerts_with_bairro"]
                - frame["alerts_without_point"]
            ).map(br_number),
            "flagged": frame["flagged"].map(br_number),
        }
    )
    return shown.rename(columns=SOURCE_HEADERS)
