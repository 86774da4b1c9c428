"""Source mappings: another system's export into the contract, with its labels.

Each shipped source loads its example file whole; mistakes in a mapping stop
before any row is read, naming the file and the key; a row a mapping cannot
convert is rejected naming the key; places outside the region keep their
coordinates but no rule compares them; reported labels land apart from
detection.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import EXTERNAL_FILE
from ssa.documents import make_cpfs
from ssa.engines import base, incremental, open_warehouse
from ssa.engines.base import SQL_DIR
from ssa.engines.sqlite_warehouse import SQLiteWarehouse
from ssa.intake.ingest import ingest_file, source_of
from ssa.intake.source_mapping import SourceError, load_source
from ssa.models import GOLD, SILVER
from ssa.settings import REPO_ROOT, Settings, sql_params
from tests.drops import assert_accounting, query

SOURCES = REPO_ROOT / "sources"
EXAMPLES = SOURCES / "examples"


def _example_frame() -> pd.DataFrame:
    return pd.read_csv(
        EXAMPLES / "sparkov_example.csv", dtype=str, keep_default_na=False
    )


def _drop(settings: Settings, source: str, example: Path) -> Path:
    folder = settings.paths.incoming_path / source
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(example, folder / example.name))


@pytest.mark.parametrize(
    ("source", "rows", "fraud", "skipped"),
    [
        ("sparkov", 65, 5, 0),
        ("internet_banking_br", 40, None, 0),
        ("ieee_cis", 60, 5, 0),
        ("paysim", 48, 8, 12),  # its CASH_IN rows are money coming in
        ("ulb_creditcard", 60, 5, 0),
        ("tabformer", 23, 5, 3),  # its refunds ("$-75.00") are not payments
        ("banksim", 46, 6, 2),  # a payment of 0.0 moved no money
        ("xente", 38, 6, 12),  # a negative Amount is money credited
    ],
)
def test_each_shipped_source_loads_its_example_whole(
    settings, source, rows, fraud, skipped
):
    path = _drop(settings, source, EXAMPLES / f"{source}_example.csv")
    source_folder = source_of(path, settings.paths.incoming_path)
    result = ingest_file(path, settings, source=source_folder)
    assert (
        result.status,
        result.rows_loaded,
        result.rows_rejected,
        result.rows_skipped,
    ) == ("loaded", rows, 0, skipped), result.detail
    lineage = query(settings, "select distinct source from bronze_transactions")
    assert lineage == [(f"file:{source}/{path.name}",)]
    labels = query(settings, "select count(*), sum(is_fraud) from reported_labels")
    assert labels == ([(rows, fraud)] if fraud is not None else [(0, None)])
    assert_accounting(settings)


def test_banksim_values_lose_their_quotes_and_day_0_is_a_local_midnight(settings):
    """BankSim writes 'C1093826151' and step 0: stored as C1093826151, on
    1 January 2014 at 00:00 in Salvador (file.quote, time.epoch_start)."""
    path = _drop(settings, "banksim", EXAMPLES / "banksim_example.csv")
    ingest_file(path, settings, source="banksim")
    quoted = query(
        settings,
        "select count(*) from bronze_transactions where customer_id like '%''%' "
        "or category like '%''%' or merchant_id like '%''%'",
    )
    assert quoted == [(0,)]
    first = query(settings, "select min(created_at_epoch) from bronze_transactions")
    assert first == [(1_388_545_200,)]  # 2014-01-01T00:00-03:00


def test_sparkov_rows_are_converted_to_the_contract(settings):
    path = _drop(settings, "sparkov", EXAMPLES / "sparkov_example.csv")
    ingest_file(path, settings, source="sparkov")
    first = pd.read_csv(EXAMPLES / "sparkov_example.csv", dtype=str).iloc[0]
    (row,) = query(
        settings,
        "select created_at_epoch, amount_cents, channel, entry_mode, customer_id, "
        "card_id, source_amount, source_currency, bairro, lat from "
        "bronze_transactions where transaction_id = ?",
        (first["trans_num"],),
    )
    epoch, cents, channel, entry, customer, card, amount, currency, bairro, lat = row
    # Wall-clock time read in America/Bahia (UTC-3).
    local = pd.Timestamp(first["trans_date_trans_time"]).tz_localize("America/Bahia")
    assert epoch == int(local.timestamp())
    assert cents == round(float(first["amt"]) * 5.40 * 100)
    assert (amount, currency) == (first["amt"], "USD")
    assert channel == "credit"
    assert entry == {"net": "not_present", "pos": "present"}.get(
        first["category"].rsplit("_", 1)[-1]
    )
    # Names, addresses and card numbers are digests, never stored in clear.
    assert first["first"] not in customer and first["cc_num"] not in card
    assert len(customer) == len(card) == 20
    assert bairro is None and lat == pytest.approx(float(first["merch_lat"]))


def test_a_row_the_mapping_cannot_convert_names_the_key(settings):
    text = (EXAMPLES / "sparkov_example.csv").read_text().splitlines()
    fields = text[1].split(",")
    fields[1] = "6/21/20 12:14"
    bad_line = ",".join(fields)
    path = settings.paths.incoming_path / "sparkov" / "bad.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join([text[0], bad_line, *text[2:]]) + "\n")
    result = ingest_file(path, settings, source="sparkov")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (65, 64, 1)
    rejected = pd.read_csv(result.rejected_to, dtype=str, encoding="utf-8-sig")
    assert rejected.loc[0, "source_line"] == "2"
    assert rejected.loc[0, "reason"] == (
        "created_at '6/21/20 12:14' does not match '%Y-%m-%d %H:%M:%S' "
        "(sources/sparkov.yaml: time.format)"
    )
    # The rejected row keeps the source's own columns: fix it, drop it back.
    header = Path(result.rejected_to).read_text(encoding="utf-8-sig").split("\n")[0]
    assert header.split(",")[2:] == text[0].split(",")
    assert Path(result.rejected_to).parent.name == "sparkov"
    assert_accounting(settings)


def test_a_place_the_reference_does_not_know_loads_without_one(settings):
    """'Paralela' (an avenue, not a bairro) in an export whose places may be
    anywhere: the row loads with no place, as one outside the region does,
    instead of being rejected."""
    example = EXAMPLES / "internet_banking_br_example.csv"
    text = example.read_bytes().decode("cp1252")
    assert text.count(";Pernambués;") >= 1
    path = settings.paths.incoming_path / "internet_banking_br" / "avenida.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(text.replace(";Pernambués;", ";Paralela;", 1).encode("cp1252"))
    result = ingest_file(path, settings, source="internet_banking_br")
    assert (result.rows_loaded, result.rows_rejected) == (40, 0), result.detail
    placeless = query(
        settings,
        "select count(*) from bronze_transactions "
        "where bairro is null and lat is null and lon is null",
    )
    assert placeless == [(1,)]


def test_a_repeated_built_id_names_the_key_that_builds_it(settings):
    """ULB's id is a digest of the row's columns: a row given twice says
    which key built it, not only the digest."""
    text = (EXAMPLES / "ulb_creditcard_example.csv").read_text().splitlines()
    path = settings.paths.incoming_path / "ulb_creditcard" / "twice.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join([*text, text[1]]) + "\n")
    result = ingest_file(path, settings, source="ulb_creditcard")
    assert result.rows_rejected == 1
    rejected = pd.read_csv(result.rejected_to, dtype=str, encoding="utf-8-sig")
    reason = rejected.loc[0, "reason"]
    assert reason.startswith("duplicate transaction_id '")
    assert reason.endswith(
        "(first at line 2) (sources/ulb_creditcard.yaml: ids.transaction_id)"
    )


def test_a_file_missing_a_mapped_column_is_quarantined(settings):
    frame = pd.read_csv(EXAMPLES / "sparkov_example.csv", dtype=str)
    path = settings.paths.incoming_path / "sparkov" / "no_amount.csv"
    path.parent.mkdir(parents=True)
    frame.drop(columns="amt").to_csv(path, index=False)
    result = ingest_file(path, settings, source="sparkov")
    assert result.status == "quarantined"
    assert "'amt' (amount.column)" in result.detail
    # The header it found is in the error.txt, not in every summary line.
    assert "'trans_num'" not in result.detail
    archived = Path(result.archived_to)
    assert archived.parent == settings.paths.quarantine_path / "sparkov"
    advice = archived.with_name("no_amount.error.txt").read_text(encoding="utf-8")
    assert "Found: 22 columns: " in advice and "'trans_num'" in advice
    assert "or sources/sparkov.yaml where the file is right" in advice
    assert "'Writing a mapping, step by step'" in advice
    assert_accounting(settings)


def test_a_file_without_the_label_column_loads_without_labels(settings):
    frame = _example_frame()
    path = settings.paths.incoming_path / "sparkov" / "unlabelled.csv"
    path.parent.mkdir(parents=True)
    frame.drop(columns="is_fraud").to_csv(path, index=False)
    result = ingest_file(path, settings, source="sparkov")
    assert (result.rows_loaded, result.rows_rejected) == (65, 0)
    assert query(settings, "select count(*) from reported_labels") == [(0,)]


def test_label_values_match_whatever_their_case(settings, tmp_path):
    """A label written `Yes`/`No` (TabFormer's "Is Fraud?") and mapped as
    `yes`/`no` is read as values.map reads values: case, accents and extra
    spaces ignored. Compared exactly, every row was rejected with "label
    'No' is neither fraud nor legitimate" beside a mapping that says no."""
    mapping = PAYSIM_LIKE.replace(
        "  column: isFraud\n",
        '  column: "Is Fraud?"\n  fraud: ["yes"]\n  legitimate: [" NO "]\n',
    )
    settings = _settings_with_sources(settings, tmp_path, cards=mapping)
    path = _lines_file(
        settings.paths.incoming_path / "cards",
        "labels.csv",
        [
            "step,type,amount,nameOrig,nameDest,Is Fraud?",
            "1,TRANSFER,181.00,C1305486145,C553264065,Yes",
            "2,PAYMENT,9839.64,C1231006815,M1979787155,No",
            "3,PAYMENT,12.00,C1231006815,M1979787155,maybe",
        ],
    )
    result = ingest_file(path, settings, source="cards")
    assert (result.rows_loaded, result.rows_rejected) == (2, 1), result.detail
    labels = query(settings, "select count(*), sum(is_fraud) from reported_labels")
    assert labels == [(2, 1)]


def test_a_cp1252_file_read_as_utf8_is_quarantined_with_the_key(settings, tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    text = (SOURCES / "internet_banking_br.yaml").read_text(encoding="utf-8")
    (sources / "bank.yaml").write_text(
        text.replace("encoding: cp1252", "encoding: utf-8"), encoding="utf-8"
    )
    settings = settings.model_copy(
        update={"paths": settings.paths.model_copy(update={"sources_dir": sources})}
    )
    path = _drop(settings, "bank", EXAMPLES / "internet_banking_br_example.csv")
    result = ingest_file(path, settings, source="bank")
    assert result.status == "quarantined"
    assert "not utf-8 text" in result.detail and "file.encoding" in result.detail


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("format:", "fromat:"),
            "sources/broken.yaml: time.fromat: unknown key (a typo?)",
        ),
        (
            lambda t: t.replace("timezone: America/Bahia", "timezone: Salvador"),
            "sources/broken.yaml: time: timezone 'Salvador' is not an IANA zone",
        ),
        (
            lambda t: t.replace("  transaction_id: trans_num", "  txn: trans_num"),
            "sources/broken.yaml: columns: 'txn' is not a contract column",
        ),
        (
            lambda t: t.replace('  decimal: "."', '  decimal: ";"'),
            "sources/broken.yaml: amount.decimal: Input should be '.' or ','",
        ),
        (
            lambda t: t.replace("  channel: credit", "  channel: cartao"),
            "sources/broken.yaml: constants.channel: channel 'cartao' is not one "
            "of pix, credit, debit, boleto",
        ),
        (
            lambda t: t.replace('"*_pos": present', '"*_pos": presencial'),
            "sources/broken.yaml: values.entry_mode.patterns.*_pos: entry_mode "
            "'presencial' is not one of present, not_present",
        ),
    ],
)
def test_a_mistake_in_a_mapping_names_the_file_and_key(tmp_path, edit, message):
    text = (SOURCES / "sparkov.yaml").read_text(encoding="utf-8")
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "broken.yaml").write_text(edit(text), encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_source("broken", sources)
    assert message in str(caught.value)


def test_an_unknown_source_lists_the_known_ones():
    known = r"no source mapping sources/nope\.yaml.*sparkov"
    with pytest.raises(SourceError, match=known):
        load_source("nope", SOURCES)


def test_a_folder_without_a_mapping_quarantines_its_files(settings):
    path = _drop(settings, "mystery", EXAMPLES / "sparkov_example.csv")
    result = ingest_file(path, settings, source="mystery")
    assert result.status == "quarantined"
    assert "no source mapping sources/mystery.yaml" in result.detail


def test_routing_by_folder(settings):
    incoming = settings.paths.incoming_path
    assert source_of(incoming / "x.csv", incoming) is None
    assert source_of(incoming / "sparkov" / "x.csv", incoming) == "sparkov"
    with pytest.raises(ValueError, match="not deeper"):
        source_of(incoming / "a" / "b" / "x.csv", incoming)


def test_a_one_shot_ingest_leaves_the_users_file_where_it_is(settings, tmp_path):
    mine = tmp_path / "mine" / "export.csv"
    mine.parent.mkdir()
    shutil.copy(EXAMPLES / "sparkov_example.csv", mine)
    result = ingest_file(mine, settings, source="sparkov", keep_original=True)
    assert result.rows_loaded == 65
    assert mine.exists() and Path(result.archived_to).read_bytes() == mine.read_bytes()


def test_foreign_places_get_no_bairro_and_no_travel_alert(settings):
    """A US card used in two cities 100 km apart a minute later: outside the
    region, so impossible travel does not judge it, and the coverage says so."""
    frame = _example_frame()
    two = frame.iloc[:2].copy()
    two["cc_num"] = frame.loc[0, "cc_num"]
    for column in ("first", "last", "street", "zip"):
        two[column] = frame.loc[0, column]
    two["category"] = "grocery_pos"
    two["trans_date_trans_time"] = ["2021-03-01 10:00:00", "2021-03-01 10:01:00"]
    two["merch_lat"] = ["39.80", "40.70"]
    path = settings.paths.incoming_path / "sparkov" / "hop.csv"
    path.parent.mkdir(parents=True)
    two.to_csv(path, index=False)
    assert ingest_file(path, settings, source="sparkov").rows_loaded == 2
    params = sql_params(settings)
    with SQLiteWarehouse(settings.warehouse_path).transaction() as conn:
        incremental.rebuild(conn, SILVER, params)
        incremental.rebuild(conn, GOLD, params)
        flags = conn.fetchall(
            "select sum(is_impossible_travel), count(bairro) from silver_transactions"
        )[0]
        coverage = conn.query("gold/rule_coverage.sql", params)
    assert flags == (0, 0)
    travel = coverage.set_index("rule").loc["impossible_travel"]
    assert (travel["rows_applicable"], travel["rows_not_judged"]) == (2, 2)


def _lines_file(folder: Path, name: str, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_labels_file_is_stored_apart_and_the_latest_report_wins(settings):
    labels = settings.paths.incoming_path / "labels"
    first = _lines_file(
        labels,
        "med_1.csv",
        [
            "transaction_id,is_fraud,fraud_type,reported_at",
            "tx-1,1,falsa central,2026-10-05T10:00:00-03:00",
            "tx-2,sim,,2026-10-05T10:00:00-03:00",
            "tx-3,talvez,,",
            ",1,,",
        ],
    )
    result = ingest_file(first, settings, source="labels")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 2, 2)
    assert "2 labels for transactions not in Bronze yet" in result.detail
    rejected = pd.read_csv(result.rejected_to, dtype=str)
    assert rejected["reason"].tolist() == [
        "is_fraud 'talvez' is not a yes/no value (1/0, true/false, sim/não)",
        "missing transaction_id",
    ]
    later = _lines_file(
        labels,
        "med_2.csv",
        [
            "transaction_id;is_fraud;reported_at",
            "tx-1;0;2026-10-09T10:00:00-03:00",  # reviewed: not fraud after all
            "tx-2;0;2026-10-01T10:00:00-03:00",  # an older report: ignored
        ],
    )
    result = ingest_file(later, settings, source="labels")
    assert (result.rows_loaded, result.rows_duplicate) == (1, 1)
    stored = dict(
        query(settings, "select transaction_id, is_fraud from reported_labels")
    )
    assert stored == {"tx-1": 0, "tx-2": 1}
    assert query(settings, "select count(*) from bronze_transactions") == [(0,)]
    assert_accounting(settings)


@pytest.mark.parametrize("engine", ["sqlite", "duckdb"])
def test_labels_merge_set_by_set_and_count_what_is_new_or_changed(settings, engine):
    """A file of labels is merged as one set on every engine: new ones go in,
    a later differing report replaces the stored one, an older or the same
    verdict changes nothing; the count is of labels new or changed."""
    settings = settings.model_copy(update={"engine": engine})
    labels = settings.paths.incoming_path / "labels"
    first = _lines_file(
        labels,
        "stream_1.csv",
        ["transaction_id,is_fraud,fraud_type,reported_at"]
        + [f"tx-{i},{i % 2},,2026-10-05T10:00:00-03:00" for i in range(50)],
    )
    assert ingest_file(first, settings, source="labels").rows_loaded == 50
    second = _lines_file(
        labels,
        "stream_2.csv",
        [
            "transaction_id,is_fraud,fraud_type,reported_at",
            "tx-0,1,falsa central,2026-10-09T10:00:00-03:00",  # changed, later
            "tx-1,0,,2026-10-01T10:00:00-03:00",  # older report: ignored
            "tx-2,0,,2026-10-09T10:00:00-03:00",  # the same verdict: unchanged
            "tx-50,1,golpe do pix,",  # new
            "tx-51,0,,",  # new
        ],
    )
    result = ingest_file(second, settings, source="labels")
    assert (result.rows_loaded, result.rows_duplicate) == (3, 2)
    with open_warehouse(settings).transaction() as session:
        stored = {
            row[0]: row[1:]
            for row in session.fetchall(
                "select transaction_id, is_fraud, fraud_type, batch_id "
                "from reported_labels"
            )
        }
    assert len(stored) == 52
    assert stored["tx-0"][:2] == (1, "falsa central")
    assert stored["tx-1"][:2] == (1, None)
    assert stored["tx-50"][:2] == (1, "golpe do pix")
    assert stored["tx-51"][:2] == (0, None)
    assert stored["tx-1"][2] == stored["tx-3"][2] != stored["tx-0"][2]


def test_detection_never_reads_the_labels():
    """Only the evaluation reads labels: no Silver or Gold model names them,
    as rendered (a macro it imports would count)."""
    readers = {
        relative
        for layer in ("silver", "gold")
        for path in (SQL_DIR / layer).glob("*.sql")
        for relative in [path.relative_to(SQL_DIR).as_posix()]
        if any(
            table in base.strip_comments(base.sql_text(relative))
            for table in ("reported_labels", "ground_truth_labels")
        )
    }
    assert readers == {"gold/evaluation_rows.sql"}


@pytest.mark.skipif(
    not EXTERNAL_FILE.exists(),
    reason=f"the external development set is not at {EXTERNAL_FILE} "
    "(../shared/data/external beside the repository): skipped",
)
def test_the_external_labelled_file_loads_whole(settings, tmp_path):
    path = settings.paths.incoming_path / "sparkov" / "card_transactions_2021.csv"
    path.parent.mkdir(parents=True)
    with gzip.open(EXTERNAL_FILE) as packed, path.open("wb") as out:
        shutil.copyfileobj(packed, out)
    result = ingest_file(path, settings, source="sparkov")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (
        222_508,
        222_508,
        0,
    )
    assert query(settings, "select count(*), sum(is_fraud) from reported_labels") == [
        (222_508, 2_441)
    ]
    assert_accounting(settings)


def test_a_first_foreign_export_starts_a_warehouse(tmp_path, prefect_harness):
    """A data folder with no synthetic month: the first drop creates the
    warehouse, and Silver, Gold, the exports and the report run on it."""
    from flows.ingest import ingest_drops
    from tests.drops import settings_for

    settings = settings_for(tmp_path / "data")
    mine = tmp_path / "export.csv"
    shutil.copy(EXAMPLES / "sparkov_example.csv", mine)
    result = asyncio.run(ingest_drops([str(mine)], settings, source="sparkov"))
    assert result["rows_loaded"] == 65 and mine.exists()
    refreshed = result["refresh"]
    assert refreshed["refreshed"] is True
    paths = settings.paths
    for export in (paths.gold_anomalies_csv, paths.detection_report_md):
        assert export.exists()
    report = paths.detection_report_md.read_text(encoding="utf-8")
    assert "| reported    |     65 |              65 |            5 |" in report
    assert "not applicable: no Pix rows" in report
    assert "Gold risk score" in report


def test_every_shipped_mapping_has_an_example_in_the_readme():
    """A shipped mapping is loaded whole by the test above and listed in the
    README's table with its example."""
    shipped = sorted(p.stem for p in SOURCES.glob("*.yaml"))
    assert shipped == [
        "banksim",
        "ieee_cis",
        "internet_banking_br",
        "paysim",
        "sparkov",
        "tabformer",
        "ulb_creditcard",
        "xente",
    ]
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for name in shipped:
        assert (EXAMPLES / f"{name}_example.csv").is_file()
        assert f"\n| `{name}` | " in readme, name


def test_the_watcher_routes_source_and_labels_folders(settings, prefect_harness):
    """A bank export in its source folder and a MED report in labels/, one
    refresh: the report judges those rows against the reported labels."""
    from flows.watcher import in_process_refresh
    from ssa.intake.watcher import Watcher
    from tests.drops import wait_for

    incoming = settings.paths.incoming_path
    bank = EXAMPLES / "internet_banking_br_example.csv"
    ids = pd.read_csv(bank, sep=";", encoding="cp1252", header=3, dtype=str)[
        "Identificador"
    ]
    with Watcher(settings, in_process_refresh(settings)) as watcher:
        assert (incoming / "internet_banking_br").is_dir()  # made by the watcher
        target = incoming / "internet_banking_br" / "outubro.csv"
        tmp = target.with_name(".outubro.csv.part")
        shutil.copy(bank, tmp)
        tmp.rename(target)
        med = ["transaction_id,is_fraud,fraud_type"]
        med += [
            f"{i},{int(n == 0)},{'falsa central' if n == 0 else ''}"
            for n, i in enumerate(ids)
        ]
        _lines_file(incoming / "labels", "med.csv", med)
        wait_for(lambda: len(watcher.results) == 2, timeout=120)
        judged = "| reported    |     40 |              40 |            1 |"
        report = settings.paths.detection_report_md
        wait_for(
            lambda: report.exists() and judged in report.read_text(encoding="utf-8"),
            timeout=120,
        )
    statuses = sorted((r.file_name, r.status, r.rows_loaded) for r in watcher.results)
    assert statuses == [("med.csv", "loaded", 40), ("outubro.csv", "loaded", 40)]
    text = report.read_text(encoding="utf-8")
    assert "not judged: no card_id or entry_mode" in text
    assert_accounting(settings)


def test_a_demo_drop_carries_its_planted_labels(settings, tmp_path):
    from flows.make_drop import make_drop

    planted = settings.model_copy(
        update={"fraud": settings.fraud.model_copy(update={"new_device_rate": 0.3})}
    )
    path = make_drop(planted, 3_000, tmp_path / "drops")
    labels = pd.read_csv(tmp_path / "drops" / "labels" / f"{path.stem}.labels.csv")
    rows = pd.read_csv(path, dtype=str)
    assert labels["transaction_id"].tolist() == rows["transaction_id"].tolist()
    fraud = labels[labels["is_fraud"] == 1]
    assert len(fraud) > 0 and fraud["fraud_type"].notna().all()


@pytest.mark.parametrize(
    ("spec", "cells", "cents"),
    [
        (
            {"decimal": ",", "thousands": ".", "negative": "absolute"},
            ["-R$ 1.234,56", "R$ -1.234,56", "1.234", "12,5", "  7,00 ", "99-"],
            [123456, 123456, 123400, 1250, 700, 9900],
        ),
        (
            {"decimal": ".", "currency": "USD", "to_brl": 5.4},
            ["$43.92", "US$ 1", "0.0125", "13.010000"],
            [round(4392 * 5.4), 540, 7, round(1301 * 5.4)],
        ),
    ],
)
def test_amounts_follow_the_declared_separators(spec, cells, cents):
    from ssa.intake.mapped_drop import _parse_amount
    from ssa.intake.source_mapping import AmountSpec

    source = load_source("sparkov", SOURCES)
    parsed, problem = _parse_amount(
        pd.Series(cells, dtype="str"), AmountSpec(column="x", **spec), source
    )
    assert problem.isna().all(), problem.tolist()
    assert parsed.tolist() == cents


def test_amount_problems_name_the_key():
    from ssa.intake.mapped_drop import _parse_amount
    from ssa.intake.source_mapping import AmountSpec

    source = load_source("sparkov", SOURCES)
    cells = pd.Series(["abc", "", "0,00", "-5,00", "1.23.4"], dtype="str")
    _, problem = _parse_amount(
        cells, AmountSpec(column="x", decimal=",", thousands="."), source
    )
    assert problem.tolist() == [
        "amount 'abc' is not a number with ',' for decimals and '.' for thousands "
        "(1234,56) (sources/sparkov.yaml: amount)",
        "missing amount (sources/sparkov.yaml: amount.column)",
        "amount '0,00' must be more than zero (sources/sparkov.yaml: amount.column)",
        "amount '-5,00' is negative (sources/sparkov.yaml: amount.negative)",
        "amount '1.23.4' is not a number with ',' for decimals and '.' for "
        "thousands (1234,56) (sources/sparkov.yaml: amount)",
    ]


def test_an_amount_under_a_centavo_in_reais_says_the_rate_made_it_so():
    """Uganda's shilling, Indonesia's rupiah: a real payment of 2 units is
    0.2 centavos at the declared rate. The file says 2, so 'must be more
    than zero' would be wrong; the reason names the rate that made it 0."""
    from ssa.intake.mapped_drop import _parse_amount
    from ssa.intake.source_mapping import AmountSpec

    source = load_source("sparkov", SOURCES)
    cells = pd.Series(["2", "10", "0"], dtype="str")
    cents, problem = _parse_amount(
        cells, AmountSpec(column="x", currency="UGX", to_brl=0.00103), source
    )
    assert cents.tolist()[1] == 1
    assert problem.tolist()[0] == (
        "amount '2' is R$ 0.00206 at 0.00103 reais per UGX, less than one "
        "centavo (sources/sparkov.yaml: amount.to_brl)"
    )
    assert problem.tolist()[2] == (
        "amount '0' must be more than zero (sources/sparkov.yaml: amount.column)"
    )


def test_an_amount_with_more_decimals_than_read_says_so():
    """A float written in full (pandas' to_csv): zeros past the fourth
    decimal are exact, other digits are not rounded away on a guess, and the
    reason says what is wrong rather than 'is not a number'."""
    from ssa.intake.mapped_drop import _parse_amount
    from ssa.intake.source_mapping import AmountSpec

    source = load_source("sparkov", SOURCES)
    cells = pd.Series(["13.010000", "29.950000000000003"], dtype="str")
    cents, problem = _parse_amount(cells, AmountSpec(column="x"), source)
    assert cents.tolist()[0] == 1301 and pd.isna(problem.tolist()[0])
    assert problem.tolist()[1] == (
        "amount '29.950000000000003' has more than 4 decimals that are not 0; "
        "they are not rounded away (sources/sparkov.yaml: amount.column)"
    )


def test_the_watcher_makes_a_folder_per_source_and_for_labels(settings):
    from ssa.intake.watcher import Watcher

    Watcher(settings, lambda pending: None).claim()
    incoming = settings.paths.incoming_path
    made = {p.name for p in incoming.iterdir() if p.is_dir()}
    assert made == {
        "labels",
        "sparkov",
        "internet_banking_br",
        "ieee_cis",
        "paysim",
        "ulb_creditcard",
        "tabformer",
        "banksim",
        "xente",
    }


def test_the_watcher_warns_at_start_of_a_mapping_that_cannot_load(
    settings, tmp_path, caplog
):
    from ssa.intake.watcher import Watcher

    sources = tmp_path / "sources"
    sources.mkdir()
    text = (SOURCES / "sparkov.yaml").read_text(encoding="utf-8")
    (sources / "sparkov.yaml").write_text(text, encoding="utf-8")
    (sources / "broken.yaml").write_text(
        text.replace("format:", "fromat:"), encoding="utf-8"
    )
    settings = settings.model_copy(
        update={"paths": settings.paths.model_copy(update={"sources_dir": sources})}
    )
    with caplog.at_level("WARNING", logger="ssa.intake.watcher"):
        Watcher(settings, lambda pending: None).claim()
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1
    assert "incoming/broken will be quarantined" in warned[0]
    assert "sources/broken.yaml: time.fromat: unknown key" in warned[0]


def _time_of(spec: dict, cells: list[str]) -> tuple[list, list]:
    """Epoch seconds and problems of cells read by a time section."""
    from ssa.intake.mapped_drop import parse_time
    from ssa.intake.source_mapping import TimeSpec

    source = load_source("sparkov", SOURCES)
    time_spec = TimeSpec(**spec)
    raw = pd.DataFrame({"t": pd.Series(cells, dtype="str")})
    epoch, problem = parse_time(raw, time_spec, source)
    return epoch.tolist(), [None if pd.isna(p) else p for p in problem]


@pytest.mark.parametrize(
    ("unit", "cells", "epochs"),
    [
        ("hours", ["1", "720"], [1_735_700_400 + 3_600, 1_735_700_400 + 720 * 3_600]),
        ("milliseconds", ["1999", "3000"], [1_735_700_400 + 1, 1_735_700_400 + 3]),
        ("days", ["2"], [1_735_700_400 + 2 * 86_400]),
    ],
)
def test_an_epoch_column_counts_in_its_declared_unit(unit, cells, epochs):
    """PaySim's step is an hour index, an event stream's time milliseconds:
    read as seconds, 30 days of PaySim would load as 12 minutes."""
    spec = {
        "epoch_column": "t",
        "epoch_unit": unit,
        "epoch_offset_seconds": 1_735_700_400,
    }
    got, problems = _time_of(spec, cells)
    assert got == epochs
    assert problems == [None] * len(cells)


@pytest.mark.parametrize(
    ("spec", "cells", "epochs"),
    [
        # BankSim's step is a day: day 0 is the local midnight of the date
        # given, 03:00 UTC in Salvador, not 00:00 UTC (21:00 the day before).
        (
            {"epoch_unit": "days", "epoch_start": "2014-01-01"},
            ["0", "2"],
            [1_388_545_200, 1_388_545_200 + 2 * 86_400],
        ),
        # PaySim's hours from a local midnight: its mapping's hand-made figure.
        (
            {"epoch_unit": "hours", "epoch_start": "2025-01-01"},
            ["0", "25"],
            [1_735_700_400, 1_735_700_400 + 25 * 3_600],
        ),
        # A local time of day, and a start with its own offset (no timezone).
        (
            {"epoch_unit": "minutes", "epoch_start": "2025-01-01T06:30"},
            ["1"],
            [1_735_700_400 + 6 * 3_600 + 31 * 60],
        ),
        (
            {
                "epoch_unit": "seconds",
                "epoch_start": "2017-11-30T00:00:00Z",
                "timezone": None,
            },
            ["86400"],
            [1_512_000_000 + 86_400],
        ),
    ],
)
def test_an_epoch_start_is_a_local_date_or_time(spec, cells, epochs):
    """The instant of 0 as people know it (a date, read in the declared
    zone) instead of a UTC figure worked out by hand."""
    spec = {"epoch_column": "t", "timezone": "America/Bahia", **spec}
    got, problems = _time_of({k: v for k, v in spec.items() if v is not None}, cells)
    assert got == epochs
    assert problems == [None] * len(cells)


def test_days_from_an_epoch_start_are_calendar_days_in_its_zone():
    """Madrid left summer time on 26 October 2014: day 2 from 25 October is
    27 October's midnight, an hour later than 2 x 86,400 s, which would be
    23:00 of the 26th, the wrong day."""
    spec = {
        "epoch_column": "t",
        "epoch_unit": "days",
        "epoch_start": "2014-10-25",
        "timezone": "Europe/Madrid",
    }
    got, _ = _time_of(spec, ["0", "2"])
    local = pd.to_datetime(got, unit="s", utc=True).tz_convert("Europe/Madrid")
    assert [str(t) for t in local] == [
        "2014-10-25 00:00:00+02:00",
        "2014-10-27 00:00:00+01:00",
    ]


def test_an_epoch_that_is_not_whole_in_its_unit_names_the_unit():
    spec = {"epoch_column": "t", "epoch_unit": "hours"}
    _, problems = _time_of(spec, ["1.5"])
    assert problems == [
        "created_at '1.5' is not a whole number of hours "
        "(sources/sparkov.yaml: time.epoch_column)"
    ]


def test_a_format_with_an_offset_reads_each_cells_own_offset():
    """ISO-8601 with offsets, as APIs export them, mixed in one file: each
    cell's offset decides its instant; a cell without one is rejected."""
    spec = {"column": "t", "format": "%Y-%m-%dT%H:%M:%S%z"}
    cells = ["2025-03-01T10:00:00-03:00", "2025-03-01T13:00:00Z", "2025-03-01T10:00:00"]
    got, problems = _time_of(spec, cells)
    assert got[:2] == [1_740_834_000, 1_740_834_000]
    assert problems[:2] == [None, None]
    assert problems[2] == (
        "created_at '2025-03-01T10:00:00' does not match '%Y-%m-%dT%H:%M:%S%z' "
        "(sources/sparkov.yaml: time.format)"
    )


@pytest.mark.parametrize(
    ("time", "message"),
    [
        (
            {"column": "t", "format": "%Y-%m-%dT%H:%M:%S%z", "timezone": "UTC"},
            "time: the format reads the UTC offset (%z): leave out timezone",
        ),
        (
            {"epoch_column": "t", "epoch_unit": "weeks"},
            "time.epoch_unit: Input should be 'milliseconds', 'seconds', "
            "'minutes', 'hours' or 'days'",
        ),
        (
            {"epoch_column": "t", "epoch_start": "2014-01-01"},
            "time: epoch_start '2014-01-01' is a local date or time: give "
            "timezone, the zone it is read in",
        ),
        (
            {
                "epoch_column": "t",
                "epoch_start": "2014-01-01",
                "timezone": "UTC",
                "epoch_offset_seconds": 3600,
            },
            "time: give epoch_start or epoch_offset_seconds, not both",
        ),
        (
            {"epoch_column": "t", "timezone": "UTC"},
            "time: timezone goes with column and format, or with epoch_start",
        ),
        (
            {"epoch_column": "t", "epoch_start": "1st of May", "timezone": "UTC"},
            "time: epoch_start '1st of May' is not a date (2014-01-01) or a "
            "time (2014-01-01T06:00, an offset such as -03:00 allowed)",
        ),
        (
            {
                "epoch_column": "t",
                "epoch_start": "2014-01-01T00:00-03:00",
                "timezone": "UTC",
            },
            "time: epoch_start '2014-01-01T00:00-03:00' carries its UTC "
            "offset: leave out timezone",
        ),
    ],
)
def test_a_time_section_that_cannot_work_names_its_key(tmp_path, time, message):
    import yaml

    mapping = yaml.safe_load((SOURCES / "sparkov.yaml").read_text(encoding="utf-8"))
    mapping["time"] = time
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "broken.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_source("broken", sources)
    assert f"sources/broken.yaml: {message}" in str(caught.value)


PAYSIM_LIKE = """\
description: a mobile-money layout with no place at all (PaySim's columns)
columns:
  customer_id: nameOrig
  payee_id: nameDest
  category: type
constants:
  channel: pix
ids:
  transaction_id:
    from: [step, nameOrig, nameDest, amount]
time:
  epoch_column: step
  epoch_unit: hours
  epoch_offset_seconds: 1735700400
amount:
  column: amount
label:
  column: isFraud
places: none
"""


def _settings_with_sources(settings: Settings, tmp_path: Path, **mappings: str):
    sources = tmp_path / "sources"
    sources.mkdir(exist_ok=True)
    for name, text in mappings.items():
        (sources / f"{name}.yaml").write_text(text, encoding="utf-8")
    return settings.model_copy(
        update={"paths": settings.paths.model_copy(update={"sources_dir": sources})}
    )


def test_a_source_with_no_place_loads_its_rows_without_one(settings, tmp_path):
    """PaySim, IEEE-CIS and a Pix export name no place: declared, their rows
    load with none (every row was rejected before), and the report says the
    place rules could not judge them rather than judging a made-up place."""
    settings = _settings_with_sources(settings, tmp_path, paysim=PAYSIM_LIKE)
    path = _lines_file(
        settings.paths.incoming_path / "paysim",
        "step.csv",
        [
            "step,type,amount,nameOrig,nameDest,isFraud",
            "1,TRANSFER,181.00,C1305486145,C553264065,1",
            "2,PAYMENT,9839.64,C1231006815,M1979787155,0",
        ],
    )
    result = ingest_file(path, settings, source="paysim")
    assert (result.rows_loaded, result.rows_rejected) == (2, 0), result.detail
    rows = query(
        settings,
        "select created_at_epoch, bairro, lat, lon from bronze_transactions "
        "order by created_at_epoch",
    )
    assert rows == [
        (1_735_700_400 + 3_600, None, None, None),
        (1_735_700_400 + 7_200, None, None, None),
    ]
    params = sql_params(settings)
    with SQLiteWarehouse(settings.warehouse_path).transaction() as conn:
        incremental.rebuild(conn, SILVER, params)
        coverage = conn.query("gold/rule_coverage.sql", params)
    travel = coverage.set_index("rule").loc["impossible_travel"]
    assert (travel["rows_applicable"], travel["rows_not_judged"]) == (2, 2)


def test_a_document_column_stored_in_clear_is_refused(settings, tmp_path):
    """A payer's CPF renamed into customer_id would reach the warehouse and
    every export: the file is quarantined, naming the key and the fix; the
    same column hashed through ids loads."""
    cpfs = make_cpfs(np.random.default_rng(3), 3)
    lines = ["step,type,amount,cpf,nameDest,isFraud"] + [
        f"{i + 1},PAYMENT,{10 * (i + 1)}.00,{cpf},M1979787155,0"
        for i, cpf in enumerate(cpfs)
    ]
    clear = PAYSIM_LIKE.replace("  customer_id: nameOrig\n", "  customer_id: cpf\n")
    clear = clear.replace("nameOrig", "cpf")
    settings = _settings_with_sources(settings, tmp_path, paysim=clear)
    path = _lines_file(settings.paths.incoming_path / "paysim", "cpf.csv", lines)
    result = ingest_file(path, settings, source="paysim")
    assert result.status == "quarantined" and result.rows_loaded == 0
    assert "columns.customer_id stores 'cpf' as it is, and 100% of its" in (
        result.detail
    )
    assert cpfs[0] not in result.detail  # the message masks it too
    hashed = clear.replace("  customer_id: cpf\n", "").replace(
        "ids:\n", "ids:\n  customer_id: {from: [cpf]}\n", 1
    )
    settings = _settings_with_sources(settings, tmp_path, paysim=hashed)
    again = _lines_file(settings.paths.incoming_path / "paysim", "cpf2.csv", lines)
    assert ingest_file(again, settings, source="paysim").rows_loaded == 3
    stored = {
        row[0] for row in query(settings, "select customer_id from bronze_transactions")
    }
    assert stored.isdisjoint(set(cpfs))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("places: none\n", ""),
            "places: the mapping gives no place (bairro, or lat and lon): map one, "
            "or say places: none",
        ),
        (
            lambda t: t.replace(
                "  channel: pix\n", "  channel: pix\n  bairro: Comércio\n"
            ),
            "places: none, but the mapping gives bairro",
        ),
    ],
)
def test_a_mapping_says_whether_its_source_has_places(tmp_path, edit, message):
    """Without a place every row would be rejected: said once, up front."""
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "paysim.yaml").write_text(edit(PAYSIM_LIKE), encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_source("paysim", sources)
    assert f"sources/paysim.yaml: {message}" in str(caught.value)


PIX_LIKE = """\
description: a Pix export naming the payer's and the payee's documents
file: {delimiter: ";"}
columns:
  transaction_id: id_transacao
constants:
  channel: pix
ids:
  customer_id: {from: [documento_pagador]}
  payee_id: {from: [documento_recebedor]}
same:
  is_same_owner: [documento_pagador, documento_recebedor]
time: {column: data_hora, format: "%d/%m/%Y %H:%M:%S", timezone: America/Bahia}
amount: {column: valor, decimal: ",", thousands: "."}
places: none
"""


def test_same_owner_is_whether_payer_and_payee_documents_agree(settings, tmp_path):
    """The Pix network rules and the night limit need is_same_owner; a Pix
    export has the two documents, never the flag."""
    settings = _settings_with_sources(settings, tmp_path, pix=PIX_LIKE)
    path = _lines_file(
        settings.paths.incoming_path / "pix",
        "pix.csv",
        [
            "id_transacao;data_hora;valor;documento_pagador;documento_recebedor",
            "E1;01/03/2025 10:00:00;100,00;123.456.789-09;123.456.789-09",
            "E2;01/03/2025 10:05:00;1.250,00;123.456.789-09;987.654.321-00",
            "E3;01/03/2025 10:09:00;9,90;123.456.789-09;",
        ],
    )
    result = ingest_file(path, settings, source="pix")
    assert (result.rows_loaded, result.rows_rejected) == (3, 0), result.detail
    flags = query(
        settings,
        "select transaction_id, is_same_owner from bronze_transactions "
        "order by transaction_id",
    )
    assert flags == [("E1", 1), ("E2", 0), ("E3", None)]


def test_same_sets_only_a_flag_of_the_contract(tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    text = PIX_LIKE.replace("  is_same_owner: [", "  payer_type: [")
    (sources / "pix.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_source("pix", sources)
    assert (
        "sources/pix.yaml: same: 'payer_type' is not a flag of the contract; "
        "expected is_same_owner"
    ) in str(caught.value)


def test_a_date_column_and_a_time_column_are_read_as_one_time():
    """Brazilian statements print Data and Hora apart: joined by one space,
    then read by the format; a bad cell names the joined text."""
    from ssa.intake.mapped_drop import parse_time
    from ssa.intake.source_mapping import SourceMapping, TimeSpec

    source = load_source("sparkov", SOURCES)
    spec = TimeSpec(
        column=["Data", "Hora"], format="%d/%m/%Y %H:%M:%S", timezone="America/Bahia"
    )
    raw = pd.DataFrame(
        {"data": ["01/03/2025", "01/03/2025"], "hora": ["10:00:00", "25:00:00"]},
        dtype="str",
    )
    epoch, problem = parse_time(raw, spec, source)
    assert epoch.tolist()[0] == 1_740_834_000
    assert problem.tolist()[1] == (
        "created_at '01/03/2025 25:00:00' does not match '%d/%m/%Y %H:%M:%S' "
        "(sources/sparkov.yaml: time.format)"
    )
    mapping = SourceMapping.model_validate(
        {**_yaml(SOURCES / "sparkov.yaml"), "time": spec.model_dump()}
    )
    assert mapping.source_columns()["Hora"] == "time.column"


def _yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_rejected_rows_keep_the_header_as_the_file_spelled_it(settings):
    """Names match whatever their case, but what goes back to the sender is
    their file: a script reading 'TransactionAmt' must find it there."""
    lines = (EXAMPLES / "ieee_cis_example.csv").read_text(encoding="utf-8").splitlines()
    cells = lines[1].split(",")
    cells[3] = "abc"  # TransactionAmt
    path = settings.paths.incoming_path / "ieee_cis" / "one_bad.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    result = ingest_file(path, settings, source="ieee_cis")
    assert result.rows_rejected == 1
    header = Path(result.rejected_to).read_text(encoding="utf-8-sig").split("\n")[0]
    assert header.split(",") == ["source_line", "reason", *lines[0].split(",")]


QUOTED_LIKE = """\
description: a layout whose text values are quoted with ' (BankSim's)
file:
  quote: "'"
columns:
  customer_id: customer
  category: category
constants:
  channel: debit
ids:
  transaction_id:
    from: [step, customer, amount]
time:
  epoch_column: step
  epoch_unit: days
  epoch_offset_seconds: 1388545200
amount:
  column: amount
label:
  column: fraud
places: none
"""


def test_a_declared_quote_character_is_read_and_written_back(settings, tmp_path):
    """BankSim writes 'C1093826151' and 'es_transportation' in single
    quotes: without file.quote the quotes were stored, shown and named in
    reasons as part of each value. The rows that go back to the sender are
    quoted the same way, so the mapping that read the file reads its fix."""
    settings = _settings_with_sources(settings, tmp_path, quoted=QUOTED_LIKE)
    path = _lines_file(
        settings.paths.incoming_path / "quoted",
        "bs.csv",
        [
            "step,customer,category,amount,fraud",
            "0,'C1093826151','es_transportation',4.55,0",
            "1,'C352968107','es_travel, abroad',939.68,1",
            "2,'C352968107','es_food',abc,0",
        ],
    )
    result = ingest_file(path, settings, source="quoted")
    assert (result.rows_loaded, result.rows_rejected) == (2, 1), result.detail
    rows = query(
        settings,
        "select customer_id, category from bronze_transactions order by category",
    )
    assert rows == [
        ("C1093826151", "es_transportation"),
        ("C352968107", "es_travel, abroad"),
    ]
    back = Path(result.rejected_to).read_text(encoding="utf-8").splitlines()
    assert back[1].endswith(",2,C352968107,es_food,abc,0")
    fixed = _lines_file(
        settings.paths.incoming_path / "quoted",
        "bs_fixed.csv",
        [back[0], back[1].replace(",abc,", ",12.00,")],
    )
    assert ingest_file(fixed, settings, source="quoted").rows_loaded == 1


def test_a_quote_character_that_is_the_delimiter_is_refused(tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    text = QUOTED_LIKE.replace('quote: "\'"', 'quote: ","')
    (sources / "broken.yaml").write_text(text, encoding="utf-8")
    expected = "sources/broken.yaml: file: quote ',' is also the delimiter"
    with pytest.raises(SourceError, match=re.escape(expected)):
        load_source("broken", sources)


def test_a_labels_file_may_give_report_times_day_first(settings):
    """A MED export saved from a spreadsheet writes dd/mm/aaaa hh:mm, in
    local time; ISO-8601 still reads as before, and text that is neither is
    rejected saying both."""
    path = _lines_file(
        settings.paths.incoming_path / "labels",
        "med_planilha.csv",
        [
            "transaction_id;is_fraud;reported_at",
            "tx-1;sim;13/03/2025 22:06",
            "tx-2;sim;14/03/2025",
            "tx-3;não;2025-03-15T09:00:00-03:00",
            "tx-4;sim;03-13-2025",
        ],
    )
    result = ingest_file(path, settings, source="labels")
    assert (result.rows_loaded, result.rows_rejected) == (3, 1)
    stored = dict(
        query(settings, "select transaction_id, reported_at_epoch from reported_labels")
    )
    local = pd.Timedelta(hours=3)  # America/Bahia is UTC-3
    epoch = pd.Timestamp("1970-01-01")
    assert (
        stored["tx-1"]
        == (pd.Timestamp("2025-03-13 22:06") + local - epoch).total_seconds()
    )
    assert (
        stored["tx-2"] == (pd.Timestamp("2025-03-14") + local - epoch).total_seconds()
    )
    reason = pd.read_csv(result.rejected_to, dtype=str, sep=";")["reason"].tolist()
    assert reason == [
        "reported_at '03-13-2025' is not an ISO-8601 date and time"
        " nor dd/mm/aaaa [hh:mm[:ss]] (local time)"
    ]


PAYSIM_SKIPPING = (
    PAYSIM_LIKE
    + """\
skip:
  type: [CASH_IN, "DEP*"]
"""
)


def test_skipped_rows_are_counted_listed_and_never_reach_bronze(settings, tmp_path):
    """Rows the mapping says are not payments (money coming in) load as
    nothing and are rejected as nothing: counted in the log line and in
    ingestion_log, listed beside the archived file with the key that left
    them out. Matched as values.map matches (case and spaces ignored), or
    as a pattern; a skipped row is never checked, so one with a bad amount
    is still skipped, while a payment with one is rejected. A row of the
    wrong shape has no column to trust: rejected, whatever it says."""
    settings = _settings_with_sources(settings, tmp_path, paysim=PAYSIM_SKIPPING)
    path = _lines_file(
        settings.paths.incoming_path / "paysim",
        "steps.csv",
        [
            "step,type,amount,nameOrig,nameDest,isFraud",
            "1,TRANSFER,181.00,C1305486145,C553264065,1",
            "1,CASH_IN,5000.00,C1305486145,M1979787155,0",
            "2, cash_in ,120.00,C1231006815,M1979787155,1",
            "2,PAYMENT,9839.64,C1231006815,M1979787155,0",
            "3,DEPOSIT,oops,C1231006815,M1979787155,0",
            "3,PAYMENT,oops,C1231006815,M1979787155,0",
            "4,CASH_OUT,229133.94,C905080434,C476402209,0",
            "5,CASH_IN,1.00,C905080434,M1979787155,0,1",
        ],
    )
    result = ingest_file(path, settings, source="paysim")
    counts = (
        result.rows_read,
        result.rows_loaded,
        result.rows_rejected,
        result.rows_duplicate,
        result.rows_skipped,
    )
    assert counts == (8, 3, 2, 0, 3), result.detail
    line = result.summary()
    assert "read=8 loaded=3 rejected=2 duplicates=0 skipped=3" in line
    assert "skipped by sources/paysim.yaml: skip" in line
    # A skipped row's label is not stored either: said, with how many.
    assert "(1 of them labelled fraud: their labels are not stored)" in line
    categories = query(settings, "select category from bronze_transactions")
    assert sorted(c for (c,) in categories) == ["CASH_OUT", "PAYMENT", "TRANSFER"]
    assert query(settings, "select count(*) from reported_labels") == [(3,)]
    logged = query(
        settings,
        "select rows_read, rows_loaded, rows_rejected, rows_skipped from ingestion_log",
    )
    assert logged == [(8, 3, 2, 3)]
    assert_accounting(settings)

    listed_at = Path(str(result.archived_to)).with_name("steps.skipped.csv")
    assert listed_at.parent.parent.parent == settings.paths.processed_path
    assert str(listed_at) in result.detail
    listed = pd.read_csv(listed_at, dtype=str, keep_default_na=False)
    assert listed["source_line"].tolist() == ["3", "4", "6"]
    assert listed["reason"].tolist() == [
        "type 'CASH_IN' is not a payment (sources/paysim.yaml: skip.type)",
        "type 'cash_in' is not a payment (sources/paysim.yaml: skip.type)",
        "type 'DEPOSIT' is not a payment (sources/paysim.yaml: skip.type)",
    ]
    assert list(listed.columns)[2:] == [
        "step",
        "type",
        "amount",
        "nameOrig",
        "nameDest",
        "isFraud",
    ]
    rejected = pd.read_csv(result.rejected_to, dtype=str)
    assert rejected["source_line"].tolist() == ["7", "9"]


def test_a_skip_column_the_file_lacks_quarantines_it_naming_the_key(settings, tmp_path):
    """Columns named only in skip are read: a file without one is refused
    whole, as for any column the mapping reads, rather than loading the
    rows skip was written to leave out."""
    mapping = PAYSIM_LIKE + "skip:\n  status: [REJEITADA, CANCELADA]\n"
    settings = _settings_with_sources(settings, tmp_path, paysim=mapping)
    path = _lines_file(
        settings.paths.incoming_path / "paysim",
        "steps.csv",
        [
            "step,type,amount,nameOrig,nameDest,isFraud",
            "1,TRANSFER,181.00,C1305486145,C553264065,1",
        ],
    )
    result = ingest_file(path, settings, source="paysim")
    assert result.status == "quarantined"
    assert "'status' (skip.status) that sources/paysim.yaml reads" in result.detail
    assert query(settings, "select count(*) from bronze_transactions") == [(0,)]


@pytest.mark.parametrize(
    ("skip", "message"),
    [
        ("skips:\n  type: [CASH_IN]\n", "skips: unknown key (a typo?)"),
        (
            "skip:\n  amount: [0.00]\n",
            "skip: amount: quote each value as the file writes it: YAML read "
            "one as the number 0.0",
        ),
        ("skip:\n  type: []\n", "skip: type: give the values to skip"),
        ("skip:\n  type: ['']\n", "skip: type: an empty value would skip"),
        (
            "file: {skip_columns: [type]}\nskip:\n  type: [CASH_IN]\n",
            "skip.type: 'type' is in file.skip_columns, so it is never read",
        ),
    ],
)
def test_a_mistake_in_skip_names_the_file_and_key(tmp_path, skip, message):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "paysim.yaml").write_text(PAYSIM_LIKE + skip, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_source("paysim", sources)
    assert f"sources/paysim.yaml: {message}" in str(caught.value)


def test_a_single_skip_value_needs_no_list(tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    text = PAYSIM_LIKE + "skip:\n  type: CASH_IN\n"
    (sources / "paysim.yaml").write_text(text, encoding="utf-8")
    assert load_source("paysim", sources).mapping.skip == {"type": ("CASH_IN",)}


@pytest.mark.parametrize("engine", ["sqlite", "duckdb"])
def test_skipped_rows_are_logged_alike_on_every_engine(settings, engine):
    """The same drop gives the same ingestion_log accounting and the same
    arrivals panel rows on SQLite and DuckDB."""
    settings = settings.model_copy(update={"engine": engine})
    path = _drop(settings, "paysim", EXAMPLES / "paysim_example.csv")
    result = ingest_file(path, settings, source="paysim")
    assert result.rows_skipped == 12
    with open_warehouse(settings).transaction() as session:
        logged = session.fetchall(
            "select rows_read, rows_loaded, rows_rejected, rows_duplicate, "
            "rows_skipped from ingestion_log"
        )
        arrivals = session.query("gold/dashboard_arrivals.sql", {"arrival_rows": 5})
    assert [tuple(r) for r in logged] == [(60, 48, 0, 0, 12)]
    assert arrivals[["rows_loaded", "rows_skipped"]].astype(int).values.tolist() == [
        [48, 12]
    ]


def test_killed_after_commit_the_rerun_lists_the_skipped_rows(settings, monkeypatch):
    """The skipped rows' list is written after the commit, like the rejected
    rows: a process killed in between writes it when it sees the file again,
    with the skipped count the log kept."""
    path = _drop(settings, "paysim", EXAMPLES / "paysim_example.csv")

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt  # the process dies right after the commit

    monkeypatch.setattr("ssa.intake.ingest.write_rejected", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest_file(path, settings, source="paysim")
    monkeypatch.undo()
    assert path.exists()
    result = ingest_file(path, settings, source="paysim")
    assert "resumed" in result.detail
    assert (result.rows_loaded, result.rows_skipped) == (48, 12)
    listed = Path(str(result.archived_to)).with_name("paysim_example.skipped.csv")
    assert len(pd.read_csv(listed, dtype=str)) == 12
    assert query(settings, "select count(*) from ingestion_log") == [(1,)]
    assert_accounting(settings)
