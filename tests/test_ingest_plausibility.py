"""Values that parse but cannot be real, and control characters, on
hand-written files: each is rejected with a reason naming the value and the
setting, the boundary loads, and a foreign source may keep far-away places."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from ssa.intake.drop_file import read_drop
from ssa.intake.ingest import ingest_file
from ssa.intake.validation import Validated, bairro_index, validate
from ssa.settings import LimitSettings, RegionSettings, Settings
from tests.drops import assert_accounting, bronze_ids, query

UTC_OFFSET = -10_800
NOW = int(datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp())
HEADER = "transaction_id,created_at,customer_id,channel,amount,bairro,lat,lon"
# A few ordinary rows in October 2026: the file's period.
ORDINARY = [f"ok{i},2026-10-0{i} 10:00,C1,pix,10.00,Barra,," for i in range(1, 8)]


@pytest.fixture(scope="module")
def bairros():
    settings = Settings()
    return bairro_index(settings.paths.resolve(settings.paths.bairros_csv))


def check(bairros, rows: list[str], header: str = HEADER, **kwargs) -> Validated:
    text = "\n".join([header, *rows]) + "\n"
    return validate(
        read_drop(text.encode()), bairros, UTC_OFFSET, now_epoch=NOW, **kwargs
    )


def reasons(result: Validated) -> dict[str, str]:
    """Reason by transaction_id (the first field of the raw row)."""
    return dict(
        zip(result.rejected["transaction_id"], result.rejected["reason"], strict=True)
    )


def test_amounts_above_their_channel_ceiling_are_rejected(bairros) -> None:
    result = check(
        bairros,
        [
            *ORDINARY,
            "huge,2026-10-02 10:00,C1,pix,999.999.999.999,99,Barra,,".replace(
                "999.999.999.999,99", '"999.999.999.999,99"'
            ),
            "pix_top,2026-10-02 10:00,C1,pix,10000000.00,Barra,,",
            "card_over,2026-10-02 10:00,C1,credit,1000000.01,Barra,,",
            "boleto_top,2026-10-02 10:00,C1,boleto,99999999.99,Barra,,",
        ],
    )
    assert reasons(result) == {
        "huge": "amount '999.999.999.999,99' is above the pix ceiling of "
        "R$ 10.000.000,00 (limits.max_pix_cents)",
        "card_over": "amount '1000000.01' is above the credit ceiling of "
        "R$ 1.000.000,00 (limits.max_credit_cents)",
    }
    assert {"pix_top", "boleto_top"} <= set(result.good["transaction_id"])


def test_ceilings_are_settings() -> None:
    limits = LimitSettings(max_pix_cents=100)
    assert limits.max_cents()["pix"] == 100
    with pytest.raises(ValueError, match="max_debit_cents"):
        LimitSettings(max_debit_cents=0)


def test_times_that_cannot_be_real_are_rejected(bairros) -> None:
    tolerance = LimitSettings().future_tolerance_seconds
    just_in = datetime.fromtimestamp(NOW + tolerance, UTC).isoformat()
    just_out = datetime.fromtimestamp(NOW + tolerance + 1, UTC).isoformat()
    result = check(
        bairros,
        [
            *ORDINARY,
            "y2099,2099-01-01T00:00:00Z,C1,credit,10.00,Barra,,",
            "y9999,9999-12-31T23:59:59Z,C1,credit,10.00,Barra,,",
            "y1969,1969-12-31T21:00:00-03:00,C1,credit,10.00,Barra,,",
            "year1,0000-12-31T21:00:00-03:00,C1,credit,10.00,Barra,,",
            f"edge_in,{just_in},C1,credit,10.00,Barra,,",
            f"edge_out,{just_out},C1,credit,10.00,Barra,,",
            "pix2019,2019-10-01 10:00,C1,pix,10.00,Barra,,",
        ],
        limits=LimitSettings(period_half_width_days=36_600),
    )
    got = reasons(result)
    future = "is in the future (more than 86400 s after the file was read; "
    assert got["y2099"] == f"created_at '2099-01-01T00:00:00Z' {future}" + (
        "limits.future_tolerance_seconds)"
    )
    assert future in got["y9999"] and future in got["edge_out"]
    assert got["y1969"] == (
        "created_at '1969-12-31T21:00:00-03:00' is before 1994-07-01, when the "
        "real began (limits.min_created_at)"
    )
    assert "is before 1994-07-01" in got["year1"]
    assert got["pix2019"] == (
        "created_at '2019-10-01 10:00' is a pix before 2020-11-03, when Pix "
        "began (limits.pix_first_day)"
    )
    assert "edge_in" in set(result.good["transaction_id"])
    assert set(got) == {"y2099", "y9999", "y1969", "year1", "edge_out", "pix2019"}


def test_a_time_far_from_the_files_period_is_rejected(bairros) -> None:
    result = check(
        bairros,
        [*ORDINARY, "typo,2016-10-03 10:00,C1,credit,10.00,Barra,,"],
    )
    assert reasons(result) == {
        "typo": "created_at '2016-10-03 10:00' is 3652 days from the middle of "
        "this file's times (2026-10-04): more than "
        "limits.period_half_width_days (366)"
    }


@pytest.mark.parametrize("spread", ["even", "mostly_december"])
def test_a_year_long_file_loads_whole(bairros, spread: str) -> None:
    days = pd.date_range("2021-01-01", "2021-12-31 23:00", freq="D")
    if spread == "mostly_december":
        # A few rows over the year, most of them in its last weeks.
        december = pd.date_range("2021-12-01", "2021-12-31 23:00", freq="30min")
        days = days[::30].append(december)
    rows = [
        f"t{i},{stamp:%Y-%m-%d %H:%M},C1,credit,10.00,Barra,,"
        for i, stamp in enumerate(days)
    ]
    result = check(bairros, rows)
    assert result.rejected.empty
    assert len(result.good) == len(rows)


SAO_PAULO = "sp,2026-10-02 10:00,C1,pix,10.00,,-23.5505,-46.6333"
LISBON = "lis,2026-10-02 10:00,C1,pix,10.00,Barra,38.7223,-9.1393"
SWAPPED = "swap,2026-10-02 10:00,C1,pix,10.00,,-38.5014,-12.9714"
INSIDE = "in,2026-10-02 10:00,C1,pix,10.00,,-12.9714,-38.5014"


def test_points_outside_the_region_are_rejected_by_the_native_contract(
    bairros,
) -> None:
    result = check(bairros, [*ORDINARY, SAO_PAULO, LISBON, SWAPPED, INSIDE])
    box = "lat -13.25 to -12.2, lon -38.9 to -37.85"
    assert reasons(result) == {
        "sp": f"lat/lon '-23.5505', '-46.6333' are outside the region ({box}; "
        "settings.region)",
        "lis": f"lat/lon '38.7223', '-9.1393' are outside the region ({box}; "
        "settings.region)",
        "swap": "lat/lon '-38.5014', '-12.9714' are lat and lon swapped: "
        f"exchanged, the point is inside the region ({box})",
    }
    assert "in" in set(result.good["transaction_id"])


def test_a_foreign_source_keeps_far_points_without_a_bairro(bairros) -> None:
    result = check(
        bairros, [*ORDINARY, SAO_PAULO, LISBON, INSIDE], outside_region="keep"
    )
    assert result.rejected.empty
    good = result.good.set_index("transaction_id")
    assert (good.loc["sp", "lat"], good.loc["sp", "lon"]) == (-23.5505, -46.6333)
    assert pd.isna(good.loc["sp", "bairro"])
    # A bairro named beside coordinates far from it is not the place.
    assert pd.isna(good.loc["lis", "bairro"])
    assert good.loc["ok1", "bairro"] == "Barra"


def test_the_region_is_the_settings_box(bairros) -> None:
    wide = RegionSettings(lat_min=-24, lat_max=-12, lon_min=-47, lon_max=-38)
    result = check(bairros, [*ORDINARY, SAO_PAULO], region=wide)
    assert result.rejected.empty


@pytest.mark.parametrize(
    ("cell", "code"),
    [("C\x001", "U+0000"), ("C\x1b[31m", "U+001B"), ("C\x07", "U+0007")],
)
def test_control_characters_reject_the_row(bairros, cell: str, code: str) -> None:
    result = check(
        bairros, [*ORDINARY, f"ctl,2026-10-02 10:00,{cell},pix,1.00,Barra,,"]
    )
    assert reasons(result) == {"ctl": f"customer_id holds the control character {code}"}


def test_tabs_and_quoted_line_breaks_stay_valid(bairros) -> None:
    header = HEADER + ",category"
    rows = [
        "tab,2026-10-02 10:00,C1,pix,1.00,Barra,,,food\tdrink",
        'nl,2026-10-02 10:00,C1,pix,1.00,Barra,,,"two\nlines"',
        'crlf,2026-10-02 10:00,C1,pix,1.00,Barra,,,"two\r\nlines"',
    ]
    result = check(bairros, rows, header=header)
    assert result.rejected.empty and len(result.good) == 3


def test_a_control_character_in_an_ignored_column_rejects_the_row(bairros) -> None:
    header = HEADER + ",note"
    result = check(
        bairros, ["n1,2026-10-02 10:00,C1,pix,1.00,Barra,,,bad\x0bnote"], header=header
    )
    assert reasons(result) == {"n1": "note holds the control character U+000B"}


def test_a_drop_with_a_nul_in_a_field_loads_the_other_rows(settings, incoming) -> None:
    rows = [*ORDINARY, "nul,2026-10-02 10:00,C\x0042,pix,1.00,Barra,,", SAO_PAULO]
    path = incoming / "faults.csv"
    path.write_bytes(("\n".join([HEADER, *rows]) + "\n").encode())
    result = ingest_file(path, settings)
    assert (result.status, result.rows_loaded, result.rows_rejected) == (
        "loaded",
        len(ORDINARY),
        2,
    )
    assert sorted(bronze_ids(settings)) == sorted(r.split(",")[0] for r in ORDINARY)
    assert not query(
        settings, "select 1 from bronze_transactions where instr(customer_id, char(0))"
    )
    rejected = pd.read_csv(
        result.rejected_to, dtype=str, keep_default_na=False, encoding="utf-8-sig"
    )
    assert dict(zip(rejected["transaction_id"], rejected["reason"], strict=True)) == {
        "nul": "customer_id holds the control character U+0000",
        "sp": "lat/lon '-23.5505', '-46.6333' are outside the region (lat -13.25 "
        "to -12.2, lon -38.9 to -37.85; settings.region)",
    }
    assert_accounting(settings)
