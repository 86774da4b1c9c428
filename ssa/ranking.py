"""The order of the alert queue, and of every figure that judges it.

Gold's risk score is whole points, for people to read and for the levels.
Whole points tie rows that the figures behind them tell apart: a rules
score's calibrated probability is flat over a range of scores, and
``floor(100 p)`` merges probabilities the model separated. So the queue
(``data/gold_anomalies.csv``, the dashboard) and the ranking figures (the
detection report, the training's held-back figures) order rows by the score,
then by the finer figures it was made from: the higher voice's probability;
the rules score, which its calibration only ever flattens (isotonic in the
score, so the weights order what a flat step ties and contradict nothing);
the model's own probability; the anomaly score. The figures then judge the
order an analyst works through, not a coarser one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Gold columns, most significant first, all compared highest first; a
# missing value (no model) ranks below every value.
RISK_ORDER: tuple[str, ...] = (
    "risk_score",
    "risk_probability",
    "rules_score",
    "model_probability",
    "anomaly_points",
)
# The queue breaks what is still tied by the larger amount, then by the id
# (ascending), so every engine writes the same file. The amount orders work;
# it is not evidence, so the figures leave it out.
QUEUE_ORDER: tuple[str, ...] = (*RISK_ORDER, "amount_cents")


def risk_rank(frame: pd.DataFrame) -> np.ndarray:
    """Each row's place in the queue as a score, higher for riskier rows,
    equal for rows equal in every ``RISK_ORDER`` column ``frame`` has; 0
    where the risk score is not above zero, as a row that never alerts.

    One integer code per row in mixed radix, a digit per column: the codes
    order the rows as the columns do, one after the other, and cost a hash of
    each column of fractions (whole-number columns need none), not a sort
    of the rows by every column."""
    code = np.zeros(len(frame), dtype=np.int64)
    size = 1  # how many codes there can be so far
    for column in RISK_ORDER:
        if column != RISK_ORDER[0] and column not in frame:
            continue
        digits, radix = _digits(frame[column])
        if radix == 1:
            continue
        if size * radix >= EXACT_IN_FLOAT:
            size, code = _dense(code)
        code = code * radix + digits
        size *= radix
    if size >= EXACT_IN_FLOAT:  # beyond what a float holds exactly
        size, code = _dense(code)
    rank = code.astype(float) + 1.0
    rank[frame[RISK_ORDER[0]].to_numpy() <= 0] = 0.0
    return rank


# Integers a float64 holds exactly are those below this.
EXACT_IN_FLOAT = 2**53


def _digits(values: pd.Series) -> tuple[np.ndarray, int]:
    """Each value's place among the column's distinct values (missing
    first), and how many places there are."""
    if pd.api.types.is_integer_dtype(values.dtype) and not values.hasnans:
        array = values.to_numpy(dtype=np.int64)
        low = int(array.min()) if len(array) else 0
        return array - low, (int(array.max()) - low + 1) if len(array) else 1
    array = values.to_numpy(dtype=float, na_value=-np.inf)
    digits, distinct = pd.factorize(array, sort=True)
    return digits.astype(np.int64), max(len(distinct), 1)


def _dense(code: np.ndarray) -> tuple[int, np.ndarray]:
    """The same order in as few codes as there are distinct ones."""
    dense, distinct = pd.factorize(code, sort=True)
    return max(len(distinct), 1), dense.astype(np.int64)
