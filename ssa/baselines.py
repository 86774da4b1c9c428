"""The two scores a fraud team would try first, beside every learned one.

"Amount above the 99th percentile" and "amount over a ratio of the
customer's running median", as 0/1 scores: the detection report and the
training's held-back figures rank them beside the Gold score and the model,
so a score that loses to them is shown losing.
"""

from __future__ import annotations

import pandas as pd


def baseline_scores(
    rows: pd.DataFrame, quantile: float, ratio: float, min_history: int
) -> pd.DataFrame:
    """The two baselines as 0/1 scores beside the rows.

    ``rows`` holds every transaction ordered by customer and time, so the
    running median of a customer's earlier amounts sees only rows before the
    current one. The amount cut-off is the quantile over all rows.
    """
    amount = rows["amount_cents"].astype(float)
    above = (amount > amount.quantile(quantile)).astype(int)
    # A row with no customer has no median of its own: 0, never the median
    # of every such row taken as one customer's.
    named = rows[rows["customer_id"].notna()]
    by_customer = named.groupby("customer_id", sort=False)["amount_cents"]
    median_so_far = by_customer.expanding().median().reset_index(level=0, drop=True)
    median_before = median_so_far.groupby(named["customer_id"], sort=False).shift(1)
    history = by_customer.cumcount()
    spike = (history >= min_history) & (
        named["amount_cents"].astype(float) > ratio * median_before
    )
    spike = spike.reindex(rows.index, fill_value=False)
    return rows.assign(
        baseline_amount_p99=above.to_numpy(),
        baseline_amount_vs_median=spike.astype(int).to_numpy(),
    )
