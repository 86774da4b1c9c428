"""The detection rules, in the order of their default strength.

One list for the names that tie the pieces together: the Silver flag
column ``is_<name>``, the planted scenario of the same name, the Gold weight
``weight_<name>`` in RiskSettings and the order of ``anomaly_flag``.
"""

from __future__ import annotations

RULES: tuple[str, ...] = (
    "impossible_travel",
    "mule_pass_through",
    "card_testing",
    "mule_fan_in",
    "first_time_payee",
    "night_pix_limit",
    "new_device",
    "velocity_burst",
    "structuring",
    "amount_spike",
)

# Silver models, in build order: the per-customer intermediates (the
# risk model's features among them), then one
# model per rule (pass-through, the longest, first: the rules build side by
# side), the sparse rules' flags in one table, then silver_transactions,
# which joins them.
SILVER_MODELS: tuple[str, ...] = (
    "silver/silver_customer_windows",
    "silver/silver_customer_features",
    "silver/silver_pix_transfers",
    "silver/silver_rule_impossible_travel",
    "silver/silver_rule_pass_through",
    "silver/silver_night_pix",
    "silver/silver_rule_night_pix_limit",
    "silver/silver_rule_structuring",
    "silver/silver_rule_card_testing",
    "silver/silver_rule_new_device",
    "silver/silver_rule_mule_fan_in",
    "silver/silver_rule_first_time_payee",
    "silver/silver_rule_flags",
    "silver/silver_transactions",
)

# Gold models, in build order: per-transaction scores (every row), the
# flagged rows in full, then the summaries that read them.
GOLD_MODELS: tuple[str, ...] = (
    "gold/gold_transaction_risk",
    "gold/gold_anomalies",
    "gold/gold_customer_risk",
    "gold/gold_bairro_daily",
)
