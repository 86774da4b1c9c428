"""A mapped source's rejected rows go back in through the same mapping.

The rejected file of a mapped export or report is written in the source's
own layout (encoding, delimiter, title lines above the header, cells as
they came): fixed and dropped back into the source's folder, it loads, for
every shipped source. A
header the layout cannot find says which key is likely wrong: the line,
the encoding or the delimiter where the columns are.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import pytest

from ssa.intake.ingest import ingest_file
from ssa.intake.mapping_parts import FileFormat
from ssa.intake.source_mapping import load_source
from ssa.settings import REPO_ROOT, Settings
from tests.drops import assert_accounting, query

SOURCES = REPO_ROOT / "sources"
EXAMPLES = SOURCES / "examples"
BANK = EXAMPLES / "internet_banking_br_example.csv"
REPORTS = EXAMPLES / "internet_banking_br_reports_example.csv"
SOURCE = "internet_banking_br"
HEADER_LINE = 4  # the bank export's, below a title, a period and a blank line


def _bank_lines() -> list[str]:
    return BANK.read_bytes().decode("cp1252").split("\r\n")


def _write(folder: Path, name: str, lines: list[str], encoding: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes("\r\n".join(lines).encode(encoding))
    return path


def _fixed_again(rejected_to: str, bad: str, good: str, folder: Path) -> Path:
    """The user's fix: the rejected file, one cell corrected in place (not
    the reason quoting it), back in the source's folder."""
    text = Path(rejected_to).read_bytes().decode("cp1252")
    fixed = re.sub(f";{re.escape(bad)}(?=;|\r\n)", f";{good}", text)
    assert fixed.count(good) == text.count(good) + 1
    path = folder / "corrigido.csv"
    path.write_bytes(fixed.encode("cp1252"))
    return path


def test_a_fixed_rejected_export_loads_through_its_mapping(settings):
    lines = _bank_lines()
    cells = lines[HEADER_LINE].split(";")  # the first row, file line 5
    assert cells[4] == "-R$ 51,94"
    cells[4] = "-R$ 51,9x4"
    broken = ";".join(cells)
    folder = settings.paths.incoming_path / SOURCE
    path = _write(folder, "outubro.csv", [*lines[:4], broken, *lines[5:]], "cp1252")
    first = ingest_file(path, settings, source=SOURCE)
    assert (first.rows_loaded, first.rows_rejected) == (39, 1), first.detail

    data = Path(first.rejected_to).read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    written = data.decode("cp1252").split("\r\n")
    # The title lines as the export had them, then the header, then the row
    # as it came: an amount starting with '-' is not a formula to defuse.
    assert written[:3] == lines[:3]
    assert written[3] == "source_line;reason;" + lines[3]
    line, reason, *row = written[4].split(";")
    assert line == "5" and "amount" in reason
    assert ";".join(row) == broken
    assert written[5:] == [""]

    again = ingest_file(
        _fixed_again(first.rejected_to, "-R$ 51,9x4", "-R$ 51,94", folder),
        settings,
        source=SOURCE,
    )
    assert (again.status, again.rows_loaded, again.rows_rejected) == (
        "loaded",
        1,
        0,
    ), again.detail
    assert "ignored columns: source_line, reason" in again.detail
    assert query(
        settings,
        "select amount_cents, source from bronze_transactions "
        "where transaction_id = 'NSU198277534'",
    ) == [(5194, f"file:{SOURCE}/corrigido.csv")]
    assert query(settings, "select count(*) from bronze_transactions") == [(40,)]
    assert_accounting(settings)


def test_a_fixed_rejected_report_loads_through_its_mapping(settings):
    folder = settings.paths.incoming_path / SOURCE
    folder.mkdir(parents=True)
    bank = Path(shutil.copy(BANK, folder / BANK.name))
    assert ingest_file(bank, settings, source=SOURCE).rows_loaded == 40
    lines = REPORTS.read_bytes().decode("cp1252").split("\r\n")
    assert lines[2].endswith(";Fraude confirmada;09/10/2026 16:20")
    broken = lines[2].replace("09/10/2026 16:20", "31/02/2026 16:20")
    reports = folder / "labels"
    path = _write(
        reports, "med.csv", [lines[0], lines[1], broken, *lines[3:]], "cp1252"
    )
    first = ingest_file(path, settings, source=f"{SOURCE}/labels")
    assert (first.rows_loaded, first.rows_rejected) == (7, 1), first.detail

    written = Path(first.rejected_to).read_bytes().decode("cp1252").split("\r\n")
    assert written[0] == lines[0]
    assert written[1] == "source_line;reason;" + lines[1]
    assert written[2].split(";", 2)[2] == broken

    again = ingest_file(
        _fixed_again(
            first.rejected_to, "31/02/2026 16:20", "09/10/2026 16:20", reports
        ),
        settings,
        source=f"{SOURCE}/labels",
    )
    assert (again.status, again.rows_loaded, again.rows_rejected) == (
        "loaded",
        1,
        0,
    ), again.detail
    assert query(
        settings,
        "select is_fraud, fraud_type from reported_labels "
        "where transaction_id = 'E18236120202610040446fd42e044'",
    ) == [(1, "falsa central")]
    assert_accounting(settings)


def _mapping(settings: Settings, tmp_path: Path, old: str, new: str) -> Settings:
    sources = tmp_path / "sources"
    sources.mkdir()
    text = (SOURCES / f"{SOURCE}.yaml").read_text(encoding="utf-8")
    assert old in text
    (sources / f"{SOURCE}.yaml").write_text(text.replace(old, new), encoding="utf-8")
    paths = settings.paths.model_copy(update={"sources_dir": sources})
    return settings.model_copy(update={"paths": paths})


def _quarantined(settings: Settings, lines: list[str], encoding: str) -> str:
    folder = settings.paths.incoming_path / SOURCE
    result = ingest_file(
        _write(folder, "x.csv", lines, encoding), settings, source=SOURCE
    )
    assert result.status == "quarantined", result.detail
    return result.detail


@pytest.mark.parametrize(
    ("declared", "keep", "says"),
    [
        # The mapping counts one title line too few: line 2 is the period.
        (2, slice(None), "; line 4 holds them: file.header_line says 2"),
        # The file comes without its title lines.
        (4, slice(3, None), "; line 1 holds them: file.header_line says 4"),
    ],
)
def test_a_header_on_another_line_names_header_line(
    settings, tmp_path, declared, keep, says
):
    settings = _mapping(
        settings, tmp_path, "header_line: 4 ", f"header_line: {declared} "
    )
    detail = _quarantined(settings, _bank_lines()[keep], "cp1252")
    assert detail.split(": expected")[0].endswith(says), detail


def test_a_header_in_another_encoding_names_the_encoding(settings):
    """Excel's 'CSV UTF-8' for an export the mapping reads as cp1252."""
    detail = _quarantined(settings, _bank_lines(), "utf-8-sig")
    assert (
        "read as cp1252 the header is garbled; line 4 read as utf-8 holds them: "
        "file.encoding says cp1252: expected"
    ) in detail, detail


def test_a_rejected_file_of_the_native_layout_says_both_keys(settings):
    """A fix saved as UTF-8 with the header first, for the bank's mapping."""
    lines = ["source_line;reason;" + _bank_lines()[3], "5;x;" + _bank_lines()[4]]
    detail = _quarantined(settings, [*lines, *lines[1:] * 3], "utf-8-sig")
    assert (
        "line 1 read as utf-8 holds them: file.encoding says cp1252, "
        "file.header_line says 4: expected"
    ) in detail, detail


def test_a_report_header_elsewhere_names_the_reports_keys(settings):
    """A report file saved as UTF-8 without its title line."""
    lines = REPORTS.read_bytes().decode("cp1252").split("\r\n")[1:]
    folder = settings.paths.incoming_path / SOURCE / "labels"
    path = _write(folder, "med.csv", lines, "utf-8")
    result = ingest_file(path, settings, source=f"{SOURCE}/labels")
    assert result.status == "quarantined", result.detail
    assert (
        "line 1 read as utf-8 holds them: reports.file.encoding says cp1252, "
        "reports.file.header_line says 2: expected"
    ) in result.detail, result.detail


def _table(data: bytes, file: FileFormat) -> tuple[str, list[list[str]]]:
    """The lines above the header, and the header and rows, as the layout
    reads them."""
    lines = data.decode(file.encoding).removeprefix("\ufeff").splitlines(True)
    above = "".join(lines[: file.header_line - 1])
    body = "".join(lines[file.header_line - 1 :])
    rows = list(
        csv.reader(
            io.StringIO(body, newline=""),
            delimiter=file.delimiter,
            quotechar=file.quote,
        )
    )
    return above, [row for row in rows if row]


def _written(above: str, rows: list[list[str]], file: FileFormat) -> bytes:
    out = io.StringIO()
    csv.writer(
        out, delimiter=file.delimiter, quotechar=file.quote, lineterminator="\r\n"
    ).writerows(rows)
    return (above + out.getvalue()).encode(file.encoding)


@pytest.mark.parametrize(
    ("source", "rows", "skipped"),
    [
        ("sparkov", 65, 0),
        ("internet_banking_br", 40, 0),
        ("ieee_cis", 60, 0),
        ("paysim", 48, 0),  # its 12 CASH_IN rows are skipped, not rejected
        ("ulb_creditcard", 60, 0),
        # A broken refund ("x$-75.00") or zero ("x0.0") is no longer what
        # skip names: rejected with the rest, then skipped once fixed.
        ("tabformer", 23, 3),
        ("banksim", 46, 2),
        ("xente", 38, 0),  # skip reads Amount, the amount is Value
    ],
)
def test_every_shipped_sources_rejected_file_goes_back_in(
    settings, source, rows, skipped
):
    """Every amount broken, every row rejected; each fixed in the rejected
    file, which then loads whole through the same mapping."""
    mapping = load_source(source, SOURCES)
    file = mapping.mapping.file
    above, (header, *cells) = _table(
        (EXAMPLES / f"{source}_example.csv").read_bytes(), file
    )
    at = [name.strip().lower() for name in header].index(
        mapping.mapping.amount.column.lower()
    )
    broken = [[*row[:at], "x" + row[at], *row[at + 1 :]] for row in cells]
    folder = settings.paths.incoming_path / source
    folder.mkdir(parents=True)
    path = folder / "quebrado.csv"
    path.write_bytes(_written(above, [header, *broken], file))
    first = ingest_file(path, settings, source=source)
    assert (first.rows_loaded, first.rows_rejected) == (0, rows + skipped), first.detail

    data = Path(first.rejected_to).read_bytes()
    title, (written, *rejected) = _table(data, file)
    assert title == above
    assert written == ["source_line", "reason", *header]
    assert len(rejected) == rows + skipped
    for row in rejected:
        # Each row as the export wrote it, at the line it came from.
        assert row[2:] == broken[int(row[0]) - file.header_line - 1]
        row[2 + at] = row[2 + at].removeprefix("x")
    fixed = folder / "corrigido.csv"
    fixed.write_bytes(_written(title, [written, *rejected], file))
    again = ingest_file(fixed, settings, source=source)
    assert (
        again.status,
        again.rows_loaded,
        again.rows_rejected,
        again.rows_skipped,
    ) == ("loaded", rows, 0, skipped), again.detail
    assert query(settings, "select count(*) from bronze_transactions") == [(rows,)]
    assert_accounting(settings)
