"""Timings of the pipeline, run by hand; nothing here is a test."""

from __future__ import annotations

from ssa.settings import REPO_ROOT

# The external development set (a labelled Sparkov year), where it is beside
# the repository; the benchmarks and tests that read it skip it otherwise.
EXTERNAL_FILE = (
    REPO_ROOT.parent / "shared" / "data" / "external" / "card_transactions_2021.csv.gz"
)
