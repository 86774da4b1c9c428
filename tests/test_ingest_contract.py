"""The CSV contract on hand-written values and files: no warehouse, no Prefect."""

from __future__ import annotations

import codecs

import pandas as pd
import pytest

from ssa.intake import contract
from ssa.intake.drop_file import DropFileError, read_drop
from ssa.intake.validation import bairro_index, validate
from ssa.settings import REPO_ROOT, Settings

UTC_OFFSET = -10_800
HEADER = "transaction_id,created_at,customer_id,channel,amount,bairro,lat,lon"


@pytest.fixture(scope="module")
def bairros():
    settings = Settings()
    return bairro_index(settings.paths.resolve(settings.paths.bairros_csv))


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("1234.56", 123_456),
        ("1.234,56", 123_456),
        ("1234,5", 123_450),
        ("12", 1_200),
        (" 3,10 ", 310),
        ("R$ 10,00", 1_000),
        ("R$\u00a01.000.000,00", 100_000_000),
        ("0.01", 1),
    ],
)
def test_amounts_in_both_decimal_styles(text: str, cents: int) -> None:
    value, problem = contract.parse_amount_cents(pd.Series([text], dtype="str"))
    assert value.iloc[0] == cents
    assert pd.isna(problem.iloc[0])


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0", "must be more than zero"),
        ("0,00", "must be more than zero"),
        ("-5.00", "must be more than zero"),
        ("abc", "is not a number"),
        ("1,234.56", "is not a number"),
        ("12.345", "is ambiguous"),
        ("1.234", "is ambiguous"),
        ("9999999999999", "is too large"),
    ],
)
def test_bad_amounts_are_problems_naming_the_value(text: str, says: str) -> None:
    value, problem = contract.parse_amount_cents(pd.Series([text], dtype="str"))
    assert pd.isna(value.iloc[0])
    assert says in problem.iloc[0]
    assert f"'{text}'" in problem.iloc[0]


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-01T08:15:00-03:00",
        "2026-10-01T11:15:00Z",
        "2026-10-01T11:15:00+00:00",
        "2026-10-01 08:15:00",  # naive: local time in Salvador
        "2026-10-01T08:15",
        "2026-10-01t11:15:00z",
    ],
)
def test_times_with_offset_or_naive_local(text: str) -> None:
    epoch, problem = contract.parse_epoch(
        pd.Series([text], dtype="str"), "created_at", UTC_OFFSET
    )
    assert epoch.iloc[0] == 1_790_853_300  # 2026-10-01 11:15 UTC
    assert pd.isna(problem.iloc[0])


@pytest.mark.parametrize(
    "text", ["2026-10-01", "01/10/2026 08:15", "2026-02-30 10:00", "soon"]
)
def test_unparseable_times_are_problems(text: str) -> None:
    epoch, problem = contract.parse_epoch(
        pd.Series([text], dtype="str"), "created_at", UTC_OFFSET
    )
    assert pd.isna(epoch.iloc[0])
    assert problem.iloc[0] == f"created_at '{text}' is not an ISO-8601 date and time"


def test_enums_ignore_case_and_name_the_allowed_values() -> None:
    value, problem = contract.parse_enum(
        pd.Series(["PIX", " Credit", "cash", ""], dtype="str"), "channel"
    )
    assert value.tolist() == ["pix", "credit", None, None]
    assert problem.iloc[2] == "channel 'cash' is not one of pix, credit, debit, boleto"
    assert pd.isna(problem.iloc[3])  # empty is "missing", judged elsewhere


def _drop(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def test_bom_semicolons_and_decimal_commas_read_as_one(bairros) -> None:
    plain = _drop(f"{HEADER}\nt1,2026-10-01 08:15,C1,pix,1234.56,Barra,,\n")
    brazilian = codecs.BOM_UTF8 + _drop(
        HEADER.replace(",", ";") + "\nt1;2026-10-01 08:15;C1;PIX;1.234,56;BARRA;;\n"
    )
    a = validate(read_drop(plain), bairros, UTC_OFFSET)
    b = validate(read_drop(brazilian), bairros, UTC_OFFSET)
    assert read_drop(brazilian).delimiter == ";"
    pd.testing.assert_frame_equal(a.good, b.good)
    assert a.good.loc[0, "amount_cents"] == 123_456
    assert a.good.loc[0, "bairro"] == "Barra"


def test_each_bad_row_gets_its_reasons_and_line(bairros) -> None:
    text = "\n".join(
        [
            HEADER + ",payee_type,device_first_seen_at",
            "t1,2026-10-01 08:15,C1,pix,10.00,Barra,,,PF,",  # good
            "t2,yesterday,C1,pix,0,Barra,,,PF,",  # two problems
            "t3,2026-10-01 08:15,,pix,10.00,Barra,,,PF,",  # missing customer
            "t4,2026-10-01 08:15,C1,pix,10.00,Atlântida,,,PF,",  # nowhere
            "t5,2026-10-01 08:15,C1,pix,10.00,Atlântida,-12.9,-38.4,PF,",  # coords
            "t1,2026-10-01 08:16,C1,pix,11.00,Barra,,,PF,",  # repeated id
            "t6,2026-10-01 08:15,C1,pix,10.00,Barra,,,XX,",  # bad optional
            "t7,2026-10-01 08:15,C1,pix,10.00,Barra,,,PF,,surplus",  # ragged
            "t8,2026-10-01 08:15,C1,pix,10.00,Barra,,,PF,last week",
        ]
    )
    result = validate(read_drop(_drop(text)), bairros, UTC_OFFSET)
    assert result.good["transaction_id"].tolist() == ["t1", "t5"]
    reasons = dict(
        zip(result.rejected["source_line"], result.rejected["reason"], strict=True)
    )
    assert reasons == {
        3: "amount '0' must be more than zero; "
        "created_at 'yesterday' is not an ISO-8601 date and time",
        4: "missing customer_id",
        5: "no usable location: bairro 'Atlântida' is not a Salvador bairro "
        "and no lat/lon",
        7: "duplicate transaction_id 't1' (first at line 2)",
        8: "payee_type 'XX' is not one of PF, PJ",
        9: "the row has 11 fields, the header has 10",
        10: "device_first_seen_at 'last week' is not an ISO-8601 date and time",
    }
    assert result.rows_read == 9 == len(result.good) + len(result.rejected)
    assert (
        result.rejected.loc[result.rejected["source_line"] == 9, "extra_fields"].item()
        == "surplus"
    )


def test_missing_optional_columns_stay_null_never_guessed(bairros) -> None:
    text = f"{HEADER}\nt1,2026-10-01 22:15,C1,pix,600.00,Barra,,\n"
    result = validate(read_drop(_drop(text)), bairros, UTC_OFFSET)
    row = result.good.iloc[0]
    for column in (
        "payer_type",
        "payee_type",
        "is_same_owner",
        "entry_mode",
        "auth_status",
        "device_id",
    ):
        assert pd.isna(row[column]), column
    assert pd.isna(row["device_first_seen_epoch"])
    assert "payee_type" in result.missing_optional


def test_bairro_gives_coordinates_when_lat_lon_are_missing(bairros) -> None:
    text = (
        "transaction_id,created_at,customer_id,channel,amount,bairro\n"
        "t1,2026-10-01 08:15,C1,pix,10.00,rio vermelho\n"
    )
    row = validate(read_drop(_drop(text)), bairros, UTC_OFFSET).good.iloc[0]
    assert row["bairro"] == "Rio Vermelho"
    key = contract.normalise_name("Rio Vermelho")
    assert (row["lat"], row["lon"]) == (bairros.lat[key], bairros.lon[key])


@pytest.mark.parametrize(
    ("data", "kind", "found"),
    [
        (b"", "empty", "0 bytes"),
        (b"\n\n  \n", "empty", "no text"),
        (HEADER.encode() + b"\n", "empty", "only the header line"),
        (b"PK\x03\x04\x14\x00\x06\x00", "not_csv", "ZIP archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1", "not_csv", ".xls"),
        (b'{"transactions": []}', "not_csv", "JSON"),
        (b"hello world\nsecond line\n", "not_csv", "no ',' or ';'"),
        (b"a,b\n\x00\x01\x02", "not_csv", "NUL byte"),
        (codecs.BOM_UTF16_LE + HEADER.encode("utf-16-le"), "encoding", "UTF-16"),
        (
            f"{HEADER}\nt1,2026-10-01 08:15,C1,pix,10.00,São Marcos,,\n".encode(
                "cp1252"
            ),
            "encoding",
            "byte 0xE3 at line 2",
        ),
        (
            b"transaction_id,created_at,customer_id,channel,bairro\nt1,x,C1,pix,Barra\n",
            "header",
            "'bairro'",
        ),
        (
            b"id,Created (UTC),Amount,Currency,Status\nch_1,2026-10-01,10,brl,paid\n",
            "foreign_schema",
            "'created (utc)'",
        ),
        (
            HEADER.encode() + b",amount\nt1,x,C1,pix,1,Barra,,,1\n",
            "header",
            "repeats column amount",
        ),
        (
            HEADER.encode() + b'\nt1,"unterminated,C1,pix,1,Barra,,\n',
            "not_csv",
            "line",
        ),
    ],
)
def test_file_level_errors_say_what_was_expected_and_found(
    data: bytes, kind: str, found: str
) -> None:
    with pytest.raises(DropFileError) as err:
        read_drop(data)
    assert err.value.kind == kind
    assert found in str(err.value)
    assert err.value.expected
    report = err.value.report(
        "export.csv", "ab" * 32, "2026-11-25T10:00:00-03:00", "fix it."
    )
    assert "File: export.csv" in report
    assert f"Expected: {err.value.expected}" in report
    assert f"Found: {err.value.found}" in report
    assert "What to do: fix it." in report


def test_wrong_header_lists_what_is_missing() -> None:
    data = b"transaction_id,created_at,customer_id,channel,bairro\nt1,x,C1,pix,Barra\n"
    with pytest.raises(DropFileError, match="the header lacks amount"):
        read_drop(data)
    data = (
        b"transaction_id,created_at,customer_id,channel,amount,lat\nt1,x,C1,pix,1,2\n"
    )
    with pytest.raises(DropFileError, match="bairro or lat\\+lon"):
        read_drop(data)


def test_the_readme_documents_every_contract_column() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Input contract", 1)[1].split("###", 1)[0]
    for column in contract.COLUMNS:
        assert f"`{column.name}`" in table, column.name
