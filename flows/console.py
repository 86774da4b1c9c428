"""What a command prints around its run: why the first seconds are quiet,
then the figures a person compares from one run to the next, and where the
files are. Kept apart from the flows so that a light one (the refresh after
a drop) imports no heavy one."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ssa.cli import REFUSED, refusal
from ssa.settings import Settings


def say_server_start() -> None:
    """Say why the first seconds are quiet: without PREFECT_API_URL, Prefect
    starts a temporary server first, which takes a while on a fresh machine."""
    if not os.environ.get("PREFECT_API_URL") and not _profile_api_url():
        print(
            "Starting Prefect's temporary server (up to 40 s on a fresh machine; "
            "set PREFECT_API_URL to use a running one)...",
            flush=True,
        )


def _profile_api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


def alerts_line(result: Mapping[str, Any], settings: Settings) -> str:
    """'726 alerts (risk model v2) -> …/gold_anomalies.csv' and the dashboard:
    what a Silver/Gold refresh left for people, and what scored it."""
    anomalies = settings.paths.gold_anomalies_csv
    alerts = result["exports"].get(str(anomalies), 0)
    version = result["model"].get("version")
    scorer = (
        f"risk model v{version}"
        if version is not None
        else "no risk model: python -m flows.train makes one"
    )
    return (
        f"{alerts:,} alerts ({scorer}) -> {anomalies}\n"
        f"Dashboard: {settings.paths.dashboard_html.resolve().as_uri()}"
    )


def summary(result: Mapping[str, Any], settings: Settings) -> str:
    """The run's last words: what it found, what scored it, where to look."""
    return (
        f"Done: {result['silver']['rows']:,} transactions, "
        f"{result['dashboard']['flagged']:,} flagged by the rules, "
        + alerts_line(result, settings)
    )


def run_command(
    prepare: Callable[[], Settings],
    run: Callable[[Settings], Awaitable[dict[str, Any]]],
    report: Callable[[Mapping[str, Any], Settings], str] = summary,
) -> int:
    """A flow as a command: settings and every check first (a refusal is one
    line and exit 2, before Prefect starts its server), then the run, then
    its last words."""
    try:
        settings = prepare()
    except REFUSED as exc:
        print(refusal(exc), file=sys.stderr)
        return 2
    say_server_start()
    result = asyncio.run(run(settings))
    print(report(result, settings))
    return 0
