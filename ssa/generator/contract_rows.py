"""Generator rows in the CSV contract's text, as drops and the live stream
write them."""

from __future__ import annotations

import hashlib

import pandas as pd

from ssa.intake import contract
from ssa.local_time import iso_local


def salted_ids(ids: pd.Series, salt: bytes) -> pd.Series:
    """The generator draws the same ids for any start date (same seed, same
    random stream); salting them keeps rows of different days (or of a drop
    and the live stream) apart, and the same rows made twice identical."""
    return ids.map(
        lambda i: hashlib.blake2b(salt + i.encode(), digest_size=8).hexdigest()
    )


def to_contract(tx: pd.DataFrame, utc_offset_seconds: int) -> pd.DataFrame:
    """Bronze-shaped generator rows as the CSV contract's text columns."""
    reais = tx["amount_cents"] // 100
    centavos = (tx["amount_cents"] % 100).astype(str).str.zfill(2)
    out = pd.DataFrame(
        {
            "transaction_id": tx["transaction_id"],
            "created_at": iso_local(tx["created_at_epoch"], utc_offset_seconds),
            "customer_id": tx["customer_id"],
            "channel": tx["channel"],
            "amount": reais.astype(str) + "." + centavos,
            "bairro": tx["bairro"],
            "lat": tx["lat"].map(lambda v: f"{v:.6f}"),
            "lon": tx["lon"].map(lambda v: f"{v:.6f}"),
            "payer_type": tx["payer_type"],
            "payee_id": tx["payee_id"],
            "payee_type": tx["payee_type"],
            "is_same_owner": tx["is_same_owner"].astype(str),
            "merchant_id": tx["merchant_id"],
            "category": tx["category"],
            "card_id": tx["card_id"],
            "entry_mode": tx["entry_mode"],
            "auth_status": tx["auth_status"],
            "device_id": tx["device_id"],
            "device_first_seen_at": iso_local(
                tx["device_first_seen_epoch"], utc_offset_seconds
            ),
        }
    )
    assert tuple(out.columns) == tuple(c.name for c in contract.COLUMNS)
    return out.astype(object).fillna("").reset_index(drop=True)
