"""Documents in clear refused at the door: a mapping that carries a CPF or
CNPJ column as an id.

A Pix or bank export names the payer and the payee by their documents, and
the quickest mapping (``columns: customer_id: CPF pagador``) would store
them as they are, in the warehouse and in every export (LGPD). The mapping
already has the safe way, an id hashed from the column (``ids``); a file
whose mapped id column holds documents is refused before any row loads,
saying so, rather than loaded in clear or rewritten behind the user's back.
"""

from __future__ import annotations

import pandas as pd

from ssa.documents import is_tax_id, mask_tax_id
from ssa.intake.drop_file import DropFileError
from ssa.intake.source_mapping import Source

# The ids a mapping may fill with a person's document, and would then keep.
PERSON_IDS = ("customer_id", "payee_id")
# A column is one of documents when at least this share of its non-empty
# cells are valid CPFs or CNPJs: other ids pass the check digits about once
# in a hundred, a column of documents nearly always.
DOCUMENT_COLUMN_SHARE = 0.5


def refuse_documents_in_clear(text: pd.DataFrame, source: Source) -> None:
    """DropFileError naming the key when a renamed id column holds
    documents; ids built with ``ids`` are digests already."""
    for name in PERSON_IDS:
        column = source.mapping.columns.get(name)
        if column is None or name not in text:
            continue
        cells = text[name].fillna("").astype(str).str.strip()
        cells = cells[cells != ""]
        if cells.empty:
            continue
        documents = is_tax_id(cells)
        share = float(documents.mean())
        if share < DOCUMENT_COLUMN_SHARE:
            continue
        example = mask_tax_id(cells[documents].iloc[0])
        raise DropFileError(
            "personal_data",
            f"{source.display_path}: columns.{name} stores {column!r} as it "
            f"is, and {share:.0%} of its cells are CPFs or CNPJs (e.g. "
            f"{example}): documents in clear would reach the warehouse and "
            "every export (LGPD)",
            f"the id hashed from it: ids: {{{name}: {{from: [{column}]}}}} "
            f"in place of columns.{name} (the same document, the same id)",
            f"{len(cells)} non-empty cells, {int(documents.sum())} documents",
        )
