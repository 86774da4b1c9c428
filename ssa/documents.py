"""Brazilian tax ids (CPF, CNPJ): check digits, formatting and LGPD masking.

Vectorised with numpy because the generator makes thousands at a time; the
check-digit algorithm is the Receita Federal's modulus-11.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_CPF_W1 = np.arange(10, 1, -1)
_CPF_W2 = np.arange(11, 1, -1)
_CNPJ_W1 = np.array([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
_CNPJ_W2 = np.array([6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])


def _check_digit(digits: np.ndarray, weights: np.ndarray) -> np.ndarray:
    rest = (digits * weights).sum(axis=1) % 11
    return np.where(rest < 2, 0, 11 - rest)


def _join(digits: np.ndarray) -> np.ndarray:
    return np.array(["".join(map(str, row)) for row in digits.tolist()])


def make_cpfs(rng: np.random.Generator, n: int) -> np.ndarray:
    """Formatted CPFs (``123.456.789-09``) with valid check digits."""
    base = rng.integers(0, 10, size=(n, 9))
    # All-equal digits (111.111.111-11) pass the arithmetic but are invalid.
    same = (base == base[:, :1]).all(axis=1)
    base[same, 0] = (base[same, 0] + 1) % 10
    d1 = _check_digit(base, _CPF_W1)
    full = np.column_stack([base, d1])
    d2 = _check_digit(full, _CPF_W2)
    raw = _join(np.column_stack([full, d2]))
    return np.array([f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}" for s in raw])


def make_cnpjs(rng: np.random.Generator, n: int) -> np.ndarray:
    """Formatted CNPJs (``12.345.678/0001-95``), head office branch."""
    base = np.column_stack(
        [rng.integers(0, 10, size=(n, 8)), np.tile([0, 0, 0, 1], (n, 1))]
    )
    d1 = _check_digit(base, _CNPJ_W1)
    full = np.column_stack([base, d1])
    d2 = _check_digit(full, _CNPJ_W2)
    raw = _join(np.column_stack([full, d2]))
    return np.array([f"{s[:2]}.{s[2:5]}.{s[5:8]}/{s[8:12]}-{s[12:]}" for s in raw])


def cpf_is_valid(cpf: str) -> bool:
    """True when the 11 digits carry correct check digits."""
    digits = [int(c) for c in cpf if c.isdigit()]
    if len(digits) != 11 or len(set(digits)) == 1:
        return False
    arr = np.array([digits])
    return bool(
        _check_digit(arr[:, :9], _CPF_W1)[0] == digits[9]
        and _check_digit(arr[:, :10], _CPF_W2)[0] == digits[10]
    )


def is_tax_id(values: pd.Series) -> pd.Series:
    """Whether each cell is a CPF or a CNPJ with correct check digits,
    formatted or bare (punctuation ignored): what a column of personal
    documents holds, where an account number or a digest passes by chance
    about once in a hundred."""
    digits = values.fillna("").astype(str).str.replace(r"\D", "", regex=True)
    out = pd.Series(False, index=values.index)
    for length, w1, w2 in ((11, _CPF_W1, _CPF_W2), (14, _CNPJ_W1, _CNPJ_W2)):
        sized = digits[digits.str.len() == length]
        if sized.empty:
            continue
        arr = np.array([list(map(int, s)) for s in sized], dtype=np.int64)
        head = length - 2
        ok = (_check_digit(arr[:, :head], w1) == arr[:, head]) & (
            _check_digit(arr[:, : head + 1], w2) == arr[:, head + 1]
        )
        ok &= ~(arr == arr[:, :1]).all(axis=1)  # 111.111.111-11 is no CPF
        out[sized.index] = ok
    return out


def mask_tax_id(value: str) -> str:
    """A document as a screen may show it: its last two digits."""
    digits = "".join(c for c in value if c.isdigit())
    return "*" * max(len(digits) - 2, 0) + digits[-2:]


# Lowercase joining words of Portuguese names: dropped, not initialled.
_NAME_PARTICLES = frozenset({"da", "das", "de", "do", "dos", "e"})


def mask_name(name: str) -> str:
    """LGPD masking for a person's name, in the spirit of the masked CPF:
    enough to tell two cases apart on a screen, not enough to identify
    anyone. ``André da Mota Cirino`` -> ``André M. C.``."""
    words = name.split()
    if not words:
        return name
    rest = [f"{w[0]}." for w in words[1:] if w.lower() not in _NAME_PARTICLES]
    return " ".join([words[0], *rest])


def mask_names(names: pd.Series) -> pd.Series:
    """``mask_name`` on every non-empty cell."""
    return names.map(mask_name, na_action="ignore").astype("string")
