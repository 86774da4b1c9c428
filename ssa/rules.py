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
