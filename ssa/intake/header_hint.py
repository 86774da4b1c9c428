"""Where a declared file's header is, when it is not where its layout says.

A mapping declares a file's encoding, delimiter and header line; a file
that differs in one of them (a title line more or less, Excel's 'CSV UTF-8'
for a cp1252 export, a file written by another tool) shows a header that
lacks every column the mapping reads, though they are all there. Looking
for them on the first lines, decoded and split the other usual ways, turns
that message into one that names the key to change.
"""

from __future__ import annotations

import csv
from collections.abc import Collection

# How far down a header is looked for: title blocks are a few lines.
HINT_LINES = 20
# What an export's text is, besides its declared encoding, in practice.
OTHER_ENCODINGS = ("utf-8-sig", "cp1252")
OTHER_DELIMITERS = (";", ",", "\t", "|")


def header_hint(
    head: bytes,
    encoding: str,
    delimiter: str,
    header_line: int,
    names: Collection[str],
    key: str,
) -> str:
    """'' or a clause to append to a header error: the line (and encoding,
    delimiter) that holds every name of ``names``, and the ``key`` settings
    that say otherwise (``; line 1 holds them: file.header_line says 4``).

    ``head`` is the file's first bytes; ``key`` prefixes the layout's keys
    (``file``, ``reports.file``).
    """
    wanted = {name.strip().lower() for name in names}
    if not wanted:
        return ""
    for reading in _readings(encoding, delimiter):
        line = _line_with(head, *reading, wanted)
        if line is not None:
            return _clause(head, reading, line, encoding, delimiter, header_line, key)
    return ""


def _readings(encoding: str, delimiter: str) -> list[tuple[str, str]]:
    """The declared reading first, then one thing changed, then two."""
    encodings = [encoding] + [
        e for e in OTHER_ENCODINGS if _family(e) != _family(encoding)
    ]
    delimiters = [delimiter] + [d for d in OTHER_DELIMITERS if d != delimiter]
    pairs = [(e, d) for e in encodings for d in delimiters]
    return sorted(pairs, key=lambda p: (p[0] != encoding) + (p[1] != delimiter))


def _family(encoding: str) -> str:
    return "utf-8" if encoding.startswith("utf-8") else encoding


def _lines(head: bytes, encoding: str) -> list[str]:
    text = head.decode(encoding, errors="replace").removeprefix("\ufeff")
    return text.splitlines()[:HINT_LINES]


def _line_with(
    head: bytes, encoding: str, delimiter: str, wanted: set[str]
) -> int | None:
    for number, line in enumerate(_lines(head, encoding), start=1):
        cells = next(csv.reader([line], delimiter=delimiter), [])
        if wanted <= {cell.strip().lower() for cell in cells}:
            return number
    return None


def _clause(
    head: bytes,
    reading: tuple[str, str],
    line: int,
    encoding: str,
    delimiter: str,
    header_line: int,
    key: str,
) -> str:
    found_encoding, found_delimiter = reading
    keys = []
    lead = ""
    how = ""
    if _family(found_encoding) != _family(encoding):
        keys.append(f"{key}.encoding says {encoding}")
        declared = _lines(head, encoding)
        found = _lines(head, found_encoding)
        if line > len(declared) or declared[line - 1] != found[line - 1]:
            lead = f"read as {encoding} the header is garbled; "
        how += f" read as {found_encoding.removesuffix('-sig')}"
    if found_delimiter != delimiter:
        keys.append(f"{key}.delimiter says {delimiter!r}")
        how += f" split on {found_delimiter!r}"
    if line != header_line:
        keys.append(f"{key}.header_line says {header_line}")
    if not keys:
        return ""
    return f"; {lead}line {line}{how} holds them: {', '.join(keys)}"
