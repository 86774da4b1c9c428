"""Reading one raw CSV drop: bytes to a header and records, or a file error.

Everything that makes the whole file unusable is found here, before a single
row is judged: no content, not text, not UTF-8, no contract header. The error
says what was expected and what was found, in words an operations analyst
can act on, because it ends up in ``<file>.error.txt`` beside the file.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Collection
from dataclasses import dataclass

from ssa.intake import contract
from ssa.intake.header_hint import header_hint

DELIMITERS = (",", ";")
SNIFF_BYTES = 65_536
# Binary data is full of NUL bytes; a text export with a stray NUL in a field
# is a row problem (validation rejects that row), not a binary file. One NUL
# in the header, or more than one byte in 100 of the sniffed head, is binary.
BINARY_NUL_SHARE = 100
# Magic numbers of what people save by mistake under a .csv name.
MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook saved as .csv?)"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 .xls workbook"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip-compressed file"),
)
UTF16_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE)
UTF16_BOMS += (codecs.BOM_UTF16_BE,)
EXPECTED_TEXT = "a UTF-8 CSV file (with or without BOM), ',' or ';' delimited"


# CSV's own quote character (RFC 4180), unless a mapping's file.quote says
# otherwise.
QUOTE = '"'


class DropFileError(ValueError):
    """The whole file is unusable; kind is one of the file-level problems."""

    def __init__(self, kind: str, problem: str, expected: str, found: str) -> None:
        super().__init__(f"{problem}: expected {expected}; found {found}")
        self.kind = kind
        self.problem = problem
        self.expected = expected
        self.found = found

    @property
    def short(self) -> str:
        """The message for summary lines: a header problem's found part is
        the whole header, which the error.txt and the one warning give and
        every summary line would otherwise repeat; any other found part
        (the mapping's own error, say) is what to fix, and stays."""
        if self.kind == "header":
            return f"{self.problem}: expected {self.expected}"
        return str(self)

    def report(self, file_name: str, sha256: str, received_at: str, advice: str) -> str:
        """The text of ``<file>.error.txt``; advice says what to fix, which
        differs for a native file, a mapped export and a labels file."""
        return (
            f"File: {file_name}\n"
            f"Received: {received_at}\n"
            f"SHA-256: {sha256}\n"
            f"Problem: {self.problem} ({self.kind})\n"
            f"Expected: {self.expected}\n"
            f"Found: {self.found}\n"
            f"What to do: {advice}\n"
        )


@dataclass(frozen=True)
class HeaderContract:
    """What a header must hold: the columns known, those required, and the
    groups of which one must be complete (a place: bairro, or lat + lon)."""

    known: frozenset[str]
    required: tuple[str, ...]
    alternatives: tuple[tuple[str, ...], ...] = ()
    alternatives_text: str = ""

    def describe(self) -> str:
        text = ", ".join(self.required)
        return text + (f", and {self.alternatives_text}" if self.alternatives else "")


TRANSACTIONS = HeaderContract(
    known=frozenset(contract.BY_NAME),
    required=contract.REQUIRED,
    alternatives=contract.LOCATION_ALTERNATIVES,
    alternatives_text="bairro or lat+lon",
)


@dataclass(frozen=True)
class Layout:
    """How a file in a declared layout was written, so that what goes back
    to its sender (its rejected rows) is written the same way and the same
    declaration reads it again."""

    encoding: str
    delimiter: str
    header_line: int
    above: str = ""  # the lines above the header, verbatim, line ends kept
    newline: str = "\n"  # the header line's end, for the lines written
    quote: str = QUOTE  # the character cells are quoted in
    head: bytes = b""  # the file's first bytes, to say where a header is


@dataclass(frozen=True)
class DropFile:
    """A readable drop: its delimiter, header and records with line numbers."""

    delimiter: str
    header: tuple[str, ...]  # lower-case: names match whatever their case
    records: tuple[tuple[int, tuple[str, ...]], ...]
    written: tuple[str, ...] = ()  # the header as the file wrote it
    # The declared layout it was read in; None for a sniffed native drop.
    layout: Layout | None = None

    @property
    def as_written(self) -> dict[str, str]:
        """Each lower-case name's spelling in the file, for what goes back to
        its sender (the rejected rows keep their columns as they came)."""
        return dict(zip(self.header, self.written, strict=False))


def read_drop(data: bytes, expected: HeaderContract = TRANSACTIONS) -> DropFile:
    """Header and records of a drop, or DropFileError saying why not."""
    _check_binary(data)
    text = _decode(data)
    if not text.strip():
        raise DropFileError(
            "empty",
            "the file is empty",
            "a header line and at least one data row",
            f"{len(data)} bytes, no text",
        )
    _check_not_other_text(text)
    first_line = text.splitlines()[0]
    delimiter, header = _sniff_header(first_line, expected)
    _check_header(header, expected)
    records = _records(text, delimiter)
    written = _written(first_line, delimiter)
    return DropFile(delimiter, header, records, written)


def _check_binary(data: bytes) -> None:
    head = data[:SNIFF_BYTES]
    if head.startswith(UTF16_BOMS):
        raise DropFileError(
            "encoding",
            "the file is UTF-16/UTF-32 text (Excel 'Unicode text')",
            EXPECTED_TEXT + " (Excel: 'CSV UTF-8')",
            f"a UTF-16/32 byte order mark {head[:4]!r}",
        )
    for magic, what in MAGIC:
        if head.startswith(magic):
            raise DropFileError(
                "not_csv", "the file is not CSV text", EXPECTED_TEXT, what
            )
    first_line = head.split(b"\n", 1)[0]
    if b"\x00" in first_line or head.count(b"\x00") * BINARY_NUL_SHARE > len(head):
        offset = head.index(b"\x00")
        raise DropFileError(
            "not_csv",
            "the file is not CSV text",
            EXPECTED_TEXT,
            f"binary data (a NUL byte at offset {offset})",
        )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 1]
        hint = ""
        try:
            start = data.rfind(b"\n", 0, exc.start) + 1
            end = data.find(b"\n", exc.start)
            snippet = data[start : end if end >= 0 else None].decode("cp1252")
            hint = f"; as Windows-1252 the line reads {snippet[:80]!r}"
        except UnicodeDecodeError:
            pass
        raise DropFileError(
            "encoding",
            "the file is not UTF-8 (likely Latin-1/Windows-1252 from Excel)",
            EXPECTED_TEXT + " (Excel: 'CSV UTF-8')",
            f"byte 0x{bad.hex().upper()} at line {line}, offset {exc.start}{hint}",
        ) from exc


def _check_not_other_text(text: str) -> None:
    start = text.lstrip()[:1]
    kinds = {"{": "JSON", "[": "JSON", "<": "HTML or XML"}
    if start in kinds:
        raise DropFileError(
            "not_csv",
            "the file is not CSV text",
            EXPECTED_TEXT,
            f"{kinds[start]} (starts with {text.lstrip()[:40]!r})",
        )


def _sniff_header(
    first_line: str, expected: HeaderContract
) -> tuple[str, tuple[str, ...]]:
    """The delimiter that makes the most contract columns of the first line."""
    best: tuple[int, int, str, tuple[str, ...]] | None = None
    for delimiter in DELIMITERS:
        names = tuple(
            name.strip().lower()
            for name in next(csv.reader([first_line], delimiter=delimiter))
        )
        known = sum(name in expected.known for name in names)
        candidate = (known, len(names), delimiter, names)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    assert best is not None
    _, width, delimiter, names = best
    if width == 1 and not any(d in first_line for d in DELIMITERS):
        raise DropFileError(
            "not_csv",
            "the file is not CSV text",
            EXPECTED_TEXT,
            f"no ',' or ';' in the first line {first_line[:80]!r}",
        )
    return delimiter, names


def _check_header(header: tuple[str, ...], contract_: HeaderContract) -> None:
    expected = f"a header line with {contract_.describe()}"
    found = _found_columns(header)
    blank = [i + 1 for i, name in enumerate(header) if not name]
    if blank:
        raise DropFileError(
            "header",
            f"header column {blank[0]} has no name",
            expected,
            found,
        )
    repeated = sorted({n for n in header if header.count(n) > 1})
    if repeated:
        raise DropFileError(
            "header",
            f"header repeats column {', '.join(repeated)}",
            expected,
            found,
        )
    if len(contract_.required) > 1 and (
        sum(name in contract_.required for name in header) <= 1
    ):
        raise DropFileError(
            "foreign_schema",
            "at most one of the contract's required columns: another system's "
            "export, or no header line",
            expected,
            found,
        )
    missing = [c for c in contract_.required if c not in header]
    if contract_.alternatives and not any(
        all(c in header for c in option) for option in contract_.alternatives
    ):
        missing.append(contract_.alternatives_text)
    if missing:
        raise DropFileError(
            "header",
            f"the header lacks {', '.join(missing)}",
            expected,
            found,
        )


def _found_columns(header: tuple[str, ...], limit: int = 30) -> str:
    shown = ", ".join(repr(n) for n in header[:limit])
    more = f" and {len(header) - limit} more" if len(header) > limit else ""
    return f"{len(header)} columns: {shown}{more}"


def _records(
    text: str, delimiter: str, lines_above: int = 0, quote: str = QUOTE
) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """Data records with the file line they end on; blank lines are skipped,
    and a file with none is an error.

    ``text`` starts at the header; ``lines_above`` title lines were cut off
    above it, so line numbers stay those of the file.
    """
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quotechar=quote,
        strict=True,
    )
    out: list[tuple[int, tuple[str, ...]]] = []
    try:
        next(reader)  # the header, already checked
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue
            out.append((reader.line_num + lines_above, tuple(fields)))
    except csv.Error as exc:
        raise DropFileError(
            "not_csv",
            "the file is not well-formed CSV",
            EXPECTED_TEXT + ", quotes closed on every row",
            f"line {reader.line_num + lines_above}: {exc}",
        ) from exc
    if not out:
        raise DropFileError(
            "empty",
            "the file has a header but no data rows",
            "at least one data row under the header",
            "only the header line",
        )
    return tuple(out)


def read_declared(
    data: bytes,
    encoding: str,
    delimiter: str,
    header_line: int,
    where: str,
    expect: Collection[str] = (),
    layout_key: str = "file",
    quote: str = QUOTE,
) -> DropFile:
    """A drop in a layout a source mapping declares: its encoding,
    delimiter, header line and quote character are given, not sniffed;
    ``where`` names the mapping key in errors. The header comes back
    trimmed and lower-cased, as native headers do, so a mapping's column
    names match whatever case the export used. ``expect`` are the columns
    the mapping reads: a header error says on which line, in which
    encoding, they are found instead, naming the keys under
    ``layout_key`` (``file``, ``reports.file``) to change."""
    if not encoding.startswith("utf-16"):
        _check_binary(data)
    head = data[:SNIFF_BYTES]

    def hint() -> str:
        return header_hint(head, encoding, delimiter, header_line, expect, layout_key)

    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DropFileError(
            "encoding",
            f"the file is not {encoding} text{hint()}",
            f"{encoding}, as {where}: file.encoding declares",
            f"byte 0x{data[exc.start : exc.start + 1].hex().upper()} at line {line}",
        ) from exc
    text = text.removeprefix("\ufeff")
    lines = text.splitlines(keepends=True)
    if len(lines) < header_line or not lines[header_line - 1].strip():
        raise DropFileError(
            "header",
            f"no header at line {header_line}{hint()}",
            f"the header at line {header_line}, as {where}: file.header_line says",
            f"{len(lines)} lines"
            + ("" if len(lines) < header_line else ", that one blank"),
        )
    body = "".join(lines[header_line - 1 :])
    header_text = lines[header_line - 1].rstrip("\r\n")
    written = _written(header_text, delimiter, quote)
    header = tuple(name.lower() for name in written)
    if len(header) == 1 and delimiter not in header_text:
        raise DropFileError(
            "header",
            f"no {delimiter!r} in the header line{hint()}",
            f"{delimiter!r}-delimited columns, as {where}: file.delimiter says",
            f"line {header_line}: {header_text[:80]!r}",
        )
    records = _records(body, delimiter, header_line - 1, quote)
    newline = lines[header_line - 1][len(header_text) :] or "\n"
    layout = Layout(
        encoding,
        delimiter,
        header_line,
        above="".join(lines[: header_line - 1]),
        newline=newline,
        head=head,
        quote=quote,
    )
    return DropFile(delimiter, header, records, written, layout)


def _written(header_line: str, delimiter: str, quote: str = QUOTE) -> tuple[str, ...]:
    """The header's names as the file spells them, without the spaces
    around them (and a BOM's trace, which decoding already removed)."""
    reader = csv.reader([header_line], delimiter=delimiter, quotechar=quote)
    return tuple(name.strip() for name in next(reader))
