"""The column layout shared by legitimate and planted transactions.

While generating, transactions are integer-coded numpy columns (customer
index, bairro index, ...) so every step stays vectorised; ``_to_bronze`` turns
them into the typed string schema of ``bronze_transactions`` once, at the end.
"""

from __future__ import annotations

import numpy as np

CHANNELS = np.array(["pix", "credit", "debit", "boleto"])
PIX, CREDIT, DEBIT, BOLETO = range(4)
# Pix payee kinds: another person, a company, the payer's own account.
TO_PERSON, TO_COMPANY, TO_SELF = range(3)
NO_ID = -1

COLUMNS: dict[str, type] = {
    "cust": np.int64,
    "t": np.int64,  # epoch seconds, UTC
    "channel": np.int8,
    "amount_cents": np.int64,
    "payee_kind": np.int8,  # TO_PERSON / TO_COMPANY / TO_SELF, -1 for cards
    "payee_cust": np.int64,  # customer index of a PF payee, else -1
    "merchant": np.int64,  # merchant index, else -1
    "cnp": np.bool_,  # card not present
    "declined": np.bool_,
    "device": np.int64,  # device index into the device table
    "loc": np.int64,  # bairro index of where the payer is
}


def empty(n: int) -> dict[str, np.ndarray]:
    """Columns for n rows, filled with 'no value'."""
    cols = {name: np.full(n, NO_ID, dtype=dt) for name, dt in COLUMNS.items()}
    cols["cnp"] = np.zeros(n, dtype=bool)
    cols["declined"] = np.zeros(n, dtype=bool)
    return cols


def concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {c: np.concatenate([p[c] for p in parts]) for c in COLUMNS}


def take(cols: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {c: v[idx] for c, v in cols.items()}
