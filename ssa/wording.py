"""Sentences said in English and in Portuguese, and money as Brazilians write it.

A sentence is written once, in both languages side by side (``Said``): the
CSVs, the logs and the detection report say the English, the dashboard the
Portuguese, filled from the same fields. Stored English text (a reason in a
Gold table) is turned back into Portuguese by reading its fields back out
of it (``in_portuguese``). The rules, the anomaly score and the risk model
all say their reasons this way.
"""

from __future__ import annotations

import functools
import math
import numbers
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd


def reais(cents: pd.Series) -> pd.Series:
    """Centavos as Brazilian money text: 123456 -> 'R$ 1.234,56'."""
    return (cents.fillna(0).astype(float) / 100).map(brl)


class ReasonFormatter(string.Formatter):
    """``{field:reais}`` formats centavos as Brazilian money; with
    ``decimal_comma`` (the Portuguese sentences) numbers read 3,2, not 3.2."""

    def __init__(self, decimal_comma: bool = False) -> None:
        super().__init__()
        self.decimal_comma = decimal_comma

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "reais":
            return brl(float(value) / 100)
        if format_spec == "grouped":
            text = grouped(float(value))
            return _swap_separators(text) if self.decimal_comma else text
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "?"
        text = super().format_field(value, format_spec)
        if self.decimal_comma and isinstance(value, numbers.Number):
            text = text.replace(".", ",")
        return text


def grouped(value: float) -> str:
    """A number of a source's own column as a reason says it, in English:
    thousands grouped, two decimals (four below one, where the digits are),
    and powers of ten past a thousand billion."""
    if abs(value) >= 1e15:
        return f"{value:.3e}"
    return f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:.4f}"


def _swap_separators(text: str) -> str:
    """'181,000.00' -> '181.000,00': Portuguese groups with '.', not ','."""
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


class _Verbatim(string.Formatter):
    """Fields already formatted (read back from a sentence) go in as they are."""

    def format_field(self, value: Any, format_spec: str) -> str:
        return str(value)


Language = Literal["en", "pt"]
_FORMATTERS = {"en": ReasonFormatter(), "pt": ReasonFormatter(decimal_comma=True)}
# What a template's field matches in the text it made, by format spec.
_MONEY = r"R\$ -?[\d.]+,\d{2}"
_NUMBER = r"-?\d+(?:\.\d+)?"
_GROUPED = r"-?(?:\d\.\d{3}e[+-]\d+|\d{1,3}(?:,\d{3})*(?:\.\d+)?)"
_STRFTIME = {"%H": r"\d{2}", "%M": r"\d{2}", "%d": r"\d{2}", "%m": r"\d{2}"}


def _field_pattern(spec: str) -> str:
    if spec == "reais":
        return _MONEY
    if spec == "grouped":
        return _GROUPED
    if "%" in spec:
        return "".join(
            _STRFTIME.get(part, ".+?") if part.startswith("%") else re.escape(part)
            for part in re.split(r"(%\w)", spec)
        )
    if spec and spec[-1] in "dfg":
        return _NUMBER
    return ".+?"


@functools.cache
def _grouped_fields(template: str) -> frozenset[str]:
    """The fields of ``template`` written grouped (``{value:grouped}``)."""
    return frozenset(
        name
        for _, name, spec, _ in string.Formatter().parse(template)
        if name is not None and spec == "grouped"
    )


@functools.cache
def _template_pattern(template: str) -> tuple[re.Pattern[str], frozenset[str]]:
    """The regular expression of what ``template`` writes, and its numeric
    fields (written with a decimal point, read back to be said with a comma)."""
    parts, seen, numeric = [], set(), set()
    for literal, name, spec, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is None:
            continue
        if name in seen:
            parts.append(f"(?P={name})")
            continue
        seen.add(name)
        pattern = _field_pattern(spec or "")
        if pattern == _NUMBER:
            numeric.add(name)
        parts.append(f"(?P<{name}>{pattern})")
    return re.compile("".join(parts)), frozenset(numeric)


@dataclass(frozen=True)
class Said:
    """One sentence in English (the CSVs', the logs', the report's) and in
    Portuguese (the dashboard's), filled from the same fields: a sentence is
    written once, in both languages side by side."""

    en: str
    pt: str

    def text(self, language: Language) -> str:
        return self.pt if language == "pt" else self.en

    def fill(self, language: Language, **fields: Any) -> str:
        """The sentence in ``language``; Portuguese with decimal commas."""
        return _FORMATTERS[language].format(self.text(language), **fields)

    def portuguese_of(self, text: str) -> str | None:
        """The Portuguese of ``text`` when it is this sentence's English
        (stored text, whose fields are gone: they are read back from it);
        None when it is not."""
        pattern, numeric = _template_pattern(self.en)
        found = pattern.fullmatch(text)
        if found is None:
            return None
        swapped = _grouped_fields(self.en)
        fields = {
            name: _swap_separators(value)
            if name in swapped
            else value.replace(".", ",")
            if name in numeric
            else value
            for name, value in found.groupdict().items()
        }
        return _Verbatim().format(self.pt, **fields)


def in_portuguese(text: str, sentences: Iterable[Said], sep: str = "; ") -> str:
    """Each part of ``text`` that one of ``sentences`` says in English, in
    Portuguese; a part none of them says stays as it is."""
    known = tuple(sentences)
    out = []
    for part in text.split(sep):
        said = next(
            (t for s in known if (t := s.portuguese_of(part)) is not None), part
        )
        out.append(said)
    return sep.join(out)


def brl(value: float) -> str:
    """Reais as Brazilian money text: 1234.56 -> 'R$ 1.234,56'."""
    text = f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"R$ {text}"
