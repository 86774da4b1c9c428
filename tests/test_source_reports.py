"""A source's reported fraud in its own layout (``reports:`` in its mapping).

The shipped report example loads through ``flows.ingest`` and through the
watcher, its verdicts stored with their source, its open cases counted and
listed aside, its bad rows rejected naming line and key; a source that
builds its transaction id from several columns gets its reports' ids built
alike, so they join Bronze; mistakes in the section stop with file and key;
a report for a source that has no such section is quarantined, not lost.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ssa.intake.ingest import IngestResult, ingest_file, source_of
from ssa.intake.source_mapping import SourceError, load_source
from ssa.intake.staging import stage, staged_root
from ssa.intake.watcher import Watcher, in_reach
from ssa.settings import REPO_ROOT, Settings
from tests.drops import assert_accounting, log_rows, query, wait_for

SOURCES = REPO_ROOT / "sources"
EXAMPLES = SOURCES / "examples"
BANK = EXAMPLES / "internet_banking_br_example.csv"
REPORTS = EXAMPLES / "internet_banking_br_reports_example.csv"
MAPPING = "sources/internet_banking_br.yaml"
# The example's verdicts: Pix end-to-end ids and card NSUs of BANK's rows.
FRAUD = {
    "E18236120202610040446fd42e044": "falsa central",
    "E1823612020261005181712fad802": "falso parente",
    "NSU982476537": "cartão clonado",
    "E18236120202610072323faf8dfcd": "conta invadida",
}
LEGITIMATE = {
    "E1823612020261008100122c91b83",
    "NSU558799885",
    "E1823612020261009113446773aad",
    "NSU663459577",
}
PENDING = 3


def _bank_ids() -> set[str]:
    frame = pd.read_csv(BANK, sep=";", encoding="cp1252", header=3, dtype=str)
    return set(frame["Identificador"])


def _load_bank(settings: Settings) -> None:
    folder = settings.paths.incoming_path / "internet_banking_br"
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(shutil.copy(BANK, folder / BANK.name))
    assert ingest_file(path, settings, source="internet_banking_br").rows_loaded == 40


def _stored(settings: Settings) -> dict[str, tuple]:
    rows = query(
        settings,
        "select r.transaction_id, r.is_fraud, r.fraud_type, r.source, "
        "b.transaction_id is not null from reported_labels as r "
        "left join bronze_transactions as b on b.transaction_id = r.transaction_id",
    )
    return {row[0]: row[1:] for row in rows}


def _assert_example_stored(settings: Settings, file_name: str) -> None:
    stored = _stored(settings)
    assert set(stored) == set(FRAUD) | LEGITIMATE
    assert set(stored) <= _bank_ids()
    lineage = f"file:internet_banking_br/labels/{file_name}"
    for tx, kind in FRAUD.items():
        assert stored[tx] == (1, kind, lineage, 1), tx
    for tx in LEGITIMATE:
        # A refuted claim keeps no fraud type.
        assert stored[tx] == (0, None, lineage, 1), tx


def test_the_example_report_loads_through_flows_ingest(
    settings, tmp_path, prefect_harness
):
    from flows.ingest import ingest_drops

    _load_bank(settings)
    mine = tmp_path / "exports" / "contestacoes.csv"
    mine.parent.mkdir()
    shutil.copy(REPORTS, mine)
    result = asyncio.run(
        ingest_drops(
            [],
            settings,
            refresh=False,
            source="internet_banking_br",
            labels=[str(mine)],
        )
    )
    assert result["problems"] == []
    [report] = result["files"]
    assert (
        report["status"],
        report["rows_read"],
        report["rows_loaded"],
        report["rows_rejected"],
        report["rows_skipped"],
    ) == ("loaded", 11, 8, 0, PENDING), report["detail"]
    _assert_example_stored(settings, "contestacoes.csv")
    assert mine.read_bytes() == REPORTS.read_bytes()  # the user's file stays
    archived = Path(report["archived_to"])
    assert archived.parent.parent.name == "internet_banking_br"
    assert archived.parent.name == "labels"
    assert archived.read_bytes() == REPORTS.read_bytes()
    # The open cases: listed beside the archived file, with line and key.
    aside = pd.read_csv(
        archived.with_name("contestacoes.skipped.csv"), sep=";", dtype=str
    )
    assert aside["source_line"].tolist() == ["11", "12", "13"]
    assert aside["Situação"].tolist() == [
        "Em análise",
        "Aguardando documentos do cliente",
        "Em análise",
    ]
    assert all(
        r.endswith(f"an open case, not a verdict ({MAPPING}: reports.outcome.pending)")
        for r in aside["reason"]
    )
    assert f"{PENDING} pending reports" in report["detail"]
    [log] = [r for r in log_rows(settings) if r["file_name"] == "contestacoes.csv"]
    assert log["archived_to"] == str(archived)
    assert_accounting(settings)


def test_bad_report_rows_are_rejected_naming_line_and_key(settings, tmp_path):
    text = REPORTS.read_bytes().decode("cp1252")
    text += "\r\n".join(
        [
            "MED-1;12/10/2026;;0001/100877-1;R$ 1,00;Conta invadida;"
            "Fraude confirmada;12/10/2026 10:00",
            "MED-2;12/10/2026;NSU198277534;0001/100877-1;R$ 1,00;Conta invadida;"
            "Fraude confirmda;12/10/2026 10:00",
            "MED-3;12/10/2026;NSU415015750;0001/100877-1;R$ 1,00;;;12/10/2026 10:00",
            "MED-4;12/10/2026;NSU546390105;0001/100877-1;R$ 1,00;;"
            "Improcedente;31/02/2026 10:00",
            # A later row for a case of line 7 (Improcedente): it wins.
            "MED-5;12/10/2026;E1823612020261008100122c91b83;0001/100877-1;"
            "R$ 1,00;Conta invadida;Fraude confirmada;20/10/2026 10:00",
        ]
    )
    path = settings.paths.incoming_path / "internet_banking_br" / "labels" / "r.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes((text + "\r\n").encode("cp1252"))
    result = ingest_file(path, settings, source=source_of(path, path.parents[2]))
    assert (
        result.rows_read,
        result.rows_loaded,
        result.rows_rejected,
        result.rows_skipped,
    ) == (16, 8, 5, PENDING)
    assert "8 labels for transactions not in Bronze yet" in result.detail
    # In the report's own layout: cp1252, its title line above the header.
    rejected = pd.read_csv(
        result.rejected_to, sep=";", dtype=str, encoding="cp1252", header=1
    )
    assert rejected["source_line"].tolist() == ["7", "14", "15", "16", "17"]
    assert rejected["reason"].tolist() == [
        "a later row of this file labels the same transaction",
        f"missing transaction_id ({MAPPING}: reports.transaction_id)",
        "outcome Situação 'Fraude confirmda' is in none of fraud, legitimate, "
        f"pending ({MAPPING}: reports.outcome)",
        f"missing outcome ({MAPPING}: reports.outcome.column)",
        "reported_at '31/02/2026 10:00' does not match '%d/%m/%Y %H:%M' "
        f"({MAPPING}: reports.time.format)",
    ]
    assert Path(result.rejected_to).parent.name == "labels"
    assert Path(result.rejected_to).parent.parent.name == "internet_banking_br"
    stored = _stored(settings)
    assert stored["E1823612020261008100122c91b83"][:2] == (1, "conta invadida")
    assert len(stored) == 8
    assert_accounting(settings)


def test_the_watcher_reads_a_sources_reports_folder(settings, incoming):
    """A report left in incoming/<source>/labels/ before the start and one
    dropped there while watching are read with the source's reports."""
    left = incoming / "internet_banking_br" / "labels" / "antes.csv"
    left.parent.mkdir(parents=True)
    shutil.copy(REPORTS, left)
    os.utime(left, (1.0e9, 1.0e9))  # left there long ago: read first, at once
    refreshes: list = []
    with Watcher(settings, refreshes.append) as watcher:
        bank = incoming / "internet_banking_br" / "outubro.csv"
        shutil.copy(BANK, bank.with_name(".outubro.csv.part"))
        bank.with_name(".outubro.csv.part").rename(bank)
        later = left.with_name("depois.csv")
        update = (
            REPORTS.read_bytes()
            .decode("cp1252")
            .replace(
                "Em análise;18/10/2026 10:00", "Fraude confirmada;21/10/2026 09:00"
            )
        ) + "MED-9;21/10/2026;NSU198277534;0001/100877-1;R$ 51,94;;Fraude;\r\n"
        left.with_name(".depois.csv.part").write_bytes(update.encode("cp1252"))
        left.with_name(".depois.csv.part").rename(later)
        wait_for(lambda: len(watcher.results) == 3, timeout=60)
    got = {r.file_name: r for r in watcher.results}
    first, second = got["antes.csv"], got["depois.csv"]
    assert (first.status, first.rows_loaded, first.rows_skipped) == (
        "loaded",
        8,
        PENDING,
    )
    # The same verdicts again change nothing; the case closed since is new.
    assert (
        second.rows_loaded,
        second.rows_duplicate,
        second.rows_skipped,
        second.rows_rejected,
    ) == (1, 8, PENDING - 1, 1)
    rejected = pd.read_csv(
        second.rejected_to, sep=";", dtype=str, encoding="cp1252", header=1
    )
    assert rejected[["source_line", "reason"]].values.tolist() == [
        [
            "14",
            "outcome Situação 'Fraude' is in none of fraud, legitimate, pending "
            f"({MAPPING}: reports.outcome); missing reported_at ({MAPPING}: "
            "reports.time.column)",
        ]
    ]
    assert Path(second.rejected_to).parent == (
        settings.paths.quarantine_path / "internet_banking_br" / "labels"
    )
    assert got["outubro.csv"].rows_loaded == 40
    stored = _stored(settings)
    assert stored["E182361202026101016156776fd34"] == (
        1,
        "falsa central",
        "file:internet_banking_br/labels/depois.csv",
        1,
    )
    assert all(found for *_, found in stored.values())
    processed = Path(first.archived_to).parent
    assert processed.relative_to(settings.paths.processed_path).parts[1:] == (
        "internet_banking_br",
        "labels",
    )
    assert not list(left.parent.glob("*.csv"))
    assert_accounting(settings)


def test_a_sources_reports_folder_is_in_reach_and_routed(settings, incoming):
    assert source_of(incoming / "paysim" / "labels" / "x.csv", incoming) == (
        "paysim/labels"
    )
    assert source_of(incoming / "labels" / "x.csv", incoming) == "labels"
    for deeper in ("labels/labels/x.csv", "paysim/other/x.csv", "a/labels/b/x.csv"):
        with pytest.raises(ValueError, match="not deeper"):
            source_of(incoming / deeper, incoming)
    assert in_reach(incoming / "paysim" / "labels" / "x.csv", incoming)
    assert not in_reach(incoming / "paysim" / "other" / "x.csv", incoming)
    assert not in_reach(incoming / "labels" / "labels" / "x.csv", incoming)
    assert not in_reach(incoming / ".staged" / "labels" / "x.csv", incoming)
    Watcher(settings, lambda pending: None).claim()
    # Only a mapping that says how its reports read gets a reports folder.
    made = sorted(p.parent.name for p in incoming.glob("*/labels"))
    assert made == ["internet_banking_br"]
    # Staged for a refresh run (an engine one process opens), it keeps its
    # route.
    report = incoming / "internet_banking_br" / "labels" / "y.csv"
    shutil.copy(REPORTS, report)
    staged = stage(report, incoming)
    assert source_of(staged, staged_root(incoming)) == "internet_banking_br/labels"


def test_a_report_for_a_source_without_reports_is_quarantined(settings):
    path = settings.paths.incoming_path / "sparkov" / "labels" / "chargebacks.csv"
    path.parent.mkdir(parents=True)
    shutil.copy(REPORTS, path)
    result = ingest_file(path, settings, source=source_of(path, path.parents[2]))
    assert result.status == "quarantined"
    assert (
        "sources/sparkov.yaml: reports: no such section, so a reported-fraud "
        "file of source 'sparkov' cannot be read"
    ) in result.detail
    kept = Path(result.archived_to)
    assert kept.parent == settings.paths.quarantine_path / "sparkov" / "labels"
    assert kept.read_bytes() == REPORTS.read_bytes()  # nothing lost
    error = kept.with_name("chargebacks.error.txt").read_text(encoding="utf-8")
    assert "a reports: section in sources/sparkov.yaml" in error
    assert not path.exists()
    assert query(settings, "select count(*) from reported_labels") == [(0,)]
    assert_accounting(settings)


def test_flows_ingest_refuses_labels_for_a_source_without_reports(settings, capsys):
    from flows.ingest import main

    code = main(
        [
            "--source",
            "sparkov",
            "--labels",
            str(REPORTS),
            "--data-dir",
            str(settings.paths.data_path),
        ]
    )
    assert code == 2
    assert "sources/sparkov.yaml: reports: no such section" in capsys.readouterr().err


# -- a source that builds its transaction id from several columns ----------

HASHED_SOURCE = """\
description: A card processor's export whose id is branch and NSU together.
file:
  delimiter: ";"
columns:
  customer_id: conta
constants:
  channel: debit
ids:
  transaction_id:
    from: [agencia, nsu]
time:
  column: data
  format: "%d/%m/%Y %H:%M"
  timezone: America/Bahia
amount:
  column: valor
  decimal: ","
places: none
reports:
  file:
    delimiter: ";"
  transaction_id: [Agência, Número da transação]
  outcome:
    column: Parecer
    fraud: [Fraude*]
    legitimate: [Legítima]
"""


def _hashed_settings(settings: Settings, tmp_path: Path, text: str) -> Settings:
    sources = tmp_path / "sources"
    sources.mkdir(exist_ok=True)
    (sources / "processadora.yaml").write_text(text, encoding="utf-8")
    paths = settings.paths.model_copy(update={"sources_dir": sources})
    return settings.model_copy(update={"paths": paths})


def _load_payments(settings: Settings, *rows: str) -> None:
    """The processadora's payments (agencia;nsu;conta;data;valor), every
    row loaded: the reports below name them."""
    payments = settings.paths.incoming_path / "processadora" / "lote.csv"
    payments.parent.mkdir(parents=True)
    payments.write_text(
        "agencia;nsu;conta;data;valor\n" + "".join(rows), encoding="utf-8"
    )
    loaded = ingest_file(payments, settings, source="processadora")
    assert loaded.rows_loaded == len(rows), loaded.detail


def _drop_report(settings: Settings, name: str, text: str) -> IngestResult:
    """A report of the processadora in its labels folder, ingested as the
    watcher routes it."""
    incoming = settings.paths.incoming_path
    report = incoming / "processadora" / "labels" / name
    report.parent.mkdir(exist_ok=True)
    report.write_text(text, encoding="utf-8")
    return ingest_file(report, settings, source=source_of(report, incoming))


def test_reports_of_a_hashed_id_source_join_bronze(settings, tmp_path):
    settings = _hashed_settings(settings, tmp_path, HASHED_SOURCE)
    _load_payments(
        settings,
        "0001;7001;c-1;05/10/2026 10:00;10,00\n",
        "0001;7002;c-2;05/10/2026 11:00;20,00\n",
        "0002;7001;c-3;05/10/2026 12:00;30,00\n",
    )
    result = _drop_report(
        settings,
        "parecer.csv",
        "Agência;Número da transação;Parecer\n"
        "0002;7001;Fraude confirmada\n"
        " 0001 ;7002;legitima\n"  # spaces and accents, as values.map ignores
        "0001;;Fraude confirmada\n"
        "0001;7001;Em análise\n",
    )
    assert (
        result.rows_loaded,
        result.rows_rejected,
        result.rows_skipped,
    ) == (2, 1, 1), result.detail
    assert "not in Bronze" not in result.detail
    joined = query(
        settings,
        "select b.customer_id, r.is_fraud, length(r.transaction_id) "
        "from reported_labels as r inner join bronze_transactions as b "
        "on b.transaction_id = r.transaction_id order by b.customer_id",
    )
    assert joined == [("c-2", 0, 20), ("c-3", 1, 20)]  # digests, not the text
    rejected = pd.read_csv(result.rejected_to, sep=";", dtype=str)
    assert rejected["reason"].tolist() == [
        "transaction id column Número da transação is empty "
        "(sources/processadora.yaml: reports.transaction_id)"
    ]
    assert_accounting(settings)


# -- mistakes in a reports section -----------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("    fraud:\n", "    frauds:\n"),
            f"{MAPPING}: reports.outcome.fraud: Field required",
        ),
        (
            lambda t: t.replace(
                "      - Não procedente\n", "      - Fraude confirmada\n"
            ),
            f"{MAPPING}: reports.outcome: 'Fraude confirmada' is listed in both "
            "fraud and legitimate",
        ),
        (
            lambda t: t.replace("      - Cancelada pelo cliente", "      - 0"),
            f"{MAPPING}: reports.outcome.legitimate: a value: quote each value",
        ),
        (
            lambda t: t.replace("  outcome:\n    column: Situação", "  outcome:\n"),
            f"{MAPPING}: reports.outcome.column: Field required",
        ),
        (
            lambda t: t.replace(
                "    column: Atualizado em", "    colum: Atualizado em"
            ),
            f"{MAPPING}: reports.time.colum: unknown key",
        ),
        (
            lambda t: t.replace(
                "  transaction_id: Identificador da transação",
                "  transaction_id: [Identificador da transação, Conta]",
            ),
            f"{MAPPING}: reports.transaction_id: the source's transaction_id is "
            "one column (columns.transaction_id: Identificador)",
        ),
        (
            lambda t: t.replace(
                "Cartão clonado: cartão clonado", "Cartão clonado: " + "x" * 65
            ),
            f"{MAPPING}: reports.fraud_type.map.Cartão clonado: "
            f"'{'x' * 65}' is longer than 64 characters",
        ),
    ],
)
def test_a_mistake_in_reports_names_the_file_and_key(tmp_path, edit, message):
    text = (SOURCES / "internet_banking_br.yaml").read_text(encoding="utf-8")
    sources = tmp_path / "sources"
    sources.mkdir()
    changed = edit(text)
    assert changed != text
    (sources / "internet_banking_br.yaml").write_text(changed, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_source("internet_banking_br", sources)
    assert message in str(caught.value)


def test_a_hashed_id_needs_the_reports_columns_for_each_part(tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "processadora.yaml").write_text(
        HASHED_SOURCE.replace("[Agência, Número da transação]", "Número da transação"),
        encoding="utf-8",
    )
    with pytest.raises(SourceError) as caught:
        load_source("processadora", sources)
    assert (
        "sources/processadora.yaml: reports.transaction_id: the source builds "
        "transaction_id from 2 columns (agencia, nsu; ids.transaction_id)"
    ) in str(caught.value)


def test_a_report_lacking_a_column_the_section_reads_is_quarantined(settings, tmp_path):
    text = REPORTS.read_bytes().decode("cp1252").replace("Atualizado em", "Data")
    path = settings.paths.incoming_path / "internet_banking_br" / "labels" / "r.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(text.encode("cp1252"))
    result = ingest_file(path, settings, source="internet_banking_br/labels")
    assert result.status == "quarantined"
    assert (
        f"the header lacks 'Atualizado em' (reports.time.column) that {MAPPING} reads"
    ) in result.detail


def test_a_report_not_about_fraud_is_set_aside_whatever_its_outcome(settings, tmp_path):
    """A chargeback won for goods never delivered (reason 13.1) is no
    verdict on fraud: reports.skip sets it aside, counted, never stored."""
    text = HASHED_SOURCE.replace(
        "    legitimate: [Legítima]\n",
        "    legitimate: [Legítima]\n  skip:\n    Motivo: ['13.*', '4853']\n",
    )
    settings = _hashed_settings(settings, tmp_path, text)
    _load_payments(
        settings,
        "0001;7001;c-1;05/10/2026 10:00;10,00\n",
        "0001;7002;c-2;05/10/2026 11:00;20,00\n",
    )
    result = _drop_report(
        settings,
        "disputas.csv",
        "Agência;Número da transação;Parecer;Motivo\n"
        "0001;7001;Fraude confirmada;10.4\n"
        "0001;7002;Fraude confirmada;13.1\n",
    )
    assert (result.rows_loaded, result.rows_skipped) == (1, 1), result.detail
    assert "disputes not about fraud" in result.detail
    stored = query(settings, "select count(*), sum(is_fraud) from reported_labels")
    assert stored == [(1, 1)]
    archived = Path(str(result.archived_to))
    aside = pd.read_csv(archived.with_name("disputas.skipped.csv"), sep=";", dtype=str)
    assert aside["reason"].tolist() == [
        "Motivo '13.1' is not a fraud report "
        "(sources/processadora.yaml: reports.skip.Motivo)"
    ]


def test_a_file_of_fraud_only_says_so_with_outcome_fraud(settings, tmp_path):
    """A MED export of refunded fraud has no verdict column: every row is
    fraud; the skip section still sets aside disputes not about fraud,
    and a row with no id is still rejected, naming its key."""
    text = HASHED_SOURCE.replace(
        "  outcome:\n    column: Parecer\n    fraud: [Fraude*]\n"
        "    legitimate: [Legítima]\n",
        "  outcome: Fraud\n  skip:\n    Motivo: ['13.*']\n",
    )
    assert "column: Parecer" not in text
    settings = _hashed_settings(settings, tmp_path, text)
    _load_payments(
        settings,
        "0001;7001;c-1;05/10/2026 10:00;10,00\n",
        "0001;7002;c-2;05/10/2026 11:00;20,00\n",
        "0001;7003;c-3;05/10/2026 12:00;30,00\n",
    )
    result = _drop_report(
        settings,
        "med.csv",
        "Agência;Número da transação;Motivo\n"
        "0001;7001;golpe\n"
        "0001;7002;13.1\n"
        "0001;;golpe\n",
    )
    assert (
        result.rows_loaded,
        result.rows_rejected,
        result.rows_skipped,
    ) == (1, 1, 1), result.detail
    assert "disputes not about fraud" in result.detail
    joined = query(
        settings,
        "select b.customer_id, r.is_fraud from reported_labels as r "
        "inner join bronze_transactions as b on b.transaction_id = r.transaction_id",
    )
    assert joined == [("c-1", 1)]
    rejected = pd.read_csv(result.rejected_to, sep=";", dtype=str)
    assert rejected["reason"].str.contains("reports.transaction_id").all()
    assert_accounting(settings)


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (
            "fruad",
            "reports.outcome: 'fruad': a whole file's outcome is "
            "'fraud' or 'legitimate'",
        ),
        ("{column: Parecer}", "reports.outcome.fraud: Field required"),
    ],
)
def test_a_whole_file_outcome_is_a_verdict(tmp_path, outcome, message):
    text = HASHED_SOURCE.replace(
        "  outcome:\n    column: Parecer\n    fraud: [Fraude*]\n"
        "    legitimate: [Legítima]\n",
        f"  outcome: {outcome}\n",
    )
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "processadora.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_source("processadora", sources)
    assert f"sources/processadora.yaml: {message}" in str(caught.value)
