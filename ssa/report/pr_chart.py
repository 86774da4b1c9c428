"""The detection report's precision-recall chart, as a PNG for a run page.

One line per score (the Gold score, each of its voices, the baselines) on
the rows the report ranked: a reader sees at once where a score beats a
baseline and where it does not. Drawn with Altair and rendered by
vl-convert, offline, as the dashboard's snapshot is. Imported only where
the chart is drawn: Altair takes a few tenths of a second to import.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import vl_convert

from ssa.report.dashboard.vega import VL_VERSION

WIDTH = 520
HEIGHT = 360


def chart(curves: pd.DataFrame, title: str) -> alt.Chart:
    """Precision against recall, a line and its points per scorer."""
    base = alt.Chart(curves, title=title, width=WIDTH, height=HEIGHT)
    return base.mark_line(
        point=alt.OverlayMarkDef(size=12), interpolate="step-after"
    ).encode(
        x=alt.X("recall:Q", title="recall", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("precision:Q", title="precision", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color(
            "scorer:N",
            title=None,
            legend=alt.Legend(orient="bottom", columns=2, labelLimit=320),
        ),
        tooltip=[
            "scorer",
            alt.Tooltip("recall:Q", format=".3f"),
            alt.Tooltip("precision:Q", format=".3f"),
        ],
    )


def png(curves: pd.DataFrame, title: str) -> bytes | None:
    """The chart as PNG bytes; None when there is no curve to draw."""
    if curves.empty:
        return None
    spec = chart(curves, title).to_dict()
    return vl_convert.vegalite_to_png(spec, scale=1, vl_version=VL_VERSION)
