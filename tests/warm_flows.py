"""Flows for tests/test_warm_worker.py, loaded by entrypoint as a deployment's are."""

from __future__ import annotations

import os

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact


@flow(name="warm-probe")
async def warm_probe(word: str) -> None:
    """Says which process ran it, on an artifact of its own run."""
    await acreate_markdown_artifact(
        markdown=f"{word} in pid {os.getpid()}", key="warm-probe"
    )


@flow(name="warm-failure")
def warm_failure(path: str) -> None:
    """Fails the way a refresh on a folder without a warehouse does."""
    raise FileNotFoundError(f"no warehouse at {path}")
