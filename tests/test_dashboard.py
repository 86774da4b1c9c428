"""The dashboard as a person opens it: headless Chromium, network blocked.

A small synthetic month is built without Prefect (the flow test checks that
every run writes the page); the page must load with no request leaving it,
no script error, every bairro drawn on both maps and its tables filled.
The screenshot lands in bench/results/ui/ (or $SSA_SCREENSHOTS).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from scripts.setup_test_deps import find_chromium
from ssa.documents import mask_name
from ssa.generator import generate
from ssa.report import dashboard
from ssa.report.dashboard.charts import load_map
from ssa.report.dashboard.data import NO_MODEL, read_data
from ssa.report.dashboard.page import _kpis, _report_tables
from ssa.report.dashboard.words import (
    FLAGGED_TITLE,
    LEARNED_LABEL,
    RULE_LABELS,
    br_number,
    report_header,
)
from ssa.rules import RULES
from ssa.settings import REPO_ROOT, Settings
from ssa.wording import brl
from tasks.bronze import _load
from tasks.gold import _build as build_gold
from tasks.silver import _build as build_silver

BAIRROS = 170
REPORT = {
    "rules": pd.DataFrame(
        {
            "rule": ["impossible_travel", "card_testing"],
            "flagged": [12, 3],
            "precision": [0.9167, 1.0],
            "recall": [0.8462, 0.75],
        }
    ),
    "score": {"precision_at_100": 0.93, "average_precision": 0.812},
}


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Settings, dict]:
    settings = Settings(
        paths={"data_dir": tmp_path_factory.mktemp("data")},
        generator={"n_customers": 400, "n_merchants": 80, "days": 7},
    )
    _load(generate(settings), settings)
    build_silver(settings, None)
    build_gold(settings)
    return settings, dashboard.write_dashboard(settings, REPORT)


def test_names_are_masked_like_the_cpf() -> None:
    assert mask_name("André da Mota Cirino") == "André M. C."
    assert mask_name("Ana Clara Costa") == "Ana C. C."
    assert mask_name("Bruno") == "Bruno"


def test_brazilian_number_formats() -> None:
    assert br_number(1234567) == "1.234.567"
    assert br_number(0.9126, 3) == "0,913"
    assert br_number(float("nan")) == "—"


def test_the_page_is_self_contained(written) -> None:
    settings, out = written
    html = settings.paths.dashboard_html.read_text(encoding="utf-8")
    assert out["bytes"] == settings.paths.dashboard_html.stat().st_size
    # No script or stylesheet from elsewhere; the data sits in the page.
    assert not re.search(r"<(script|link)[^>]+(src|href)=", html)
    assert "bairros-poligonos" in html
    # Names masked by default; the page never prints a full CPF.
    assert not re.search(r"\d{3}\.\d{3}\.\d{3}-\d{2}", html)


def test_names_in_clear_only_when_a_setting_says_so(written) -> None:
    settings, _ = written
    shown = settings.model_copy(
        update={
            "exports": settings.exports.model_copy(
                update={"mask_customer_names": False}
            )
        }
    )
    masked = read_data(settings).top["Cliente"]
    clear = read_data(shown).top["Cliente"]
    assert (masked.str.len() < clear.str.len()).any()
    assert masked.tolist() == [mask_name(n) for n in clear]


def test_the_map_file_is_the_one_shipped_with_attribution() -> None:
    features = load_map(REPO_ROOT / Settings().paths.bairros_map)
    assert len(features) == BAIRROS
    reference = pd.read_csv(REPO_ROOT / Settings().paths.bairros_csv)
    assert {f["properties"]["bairro"] for f in features} == set(reference["name"])
    sources = (REPO_ROOT / "data/reference/SOURCES.md").read_text(encoding="utf-8")
    assert "salvador_bairros_map.geojson" in sources
    assert "Prefeitura Municipal do Salvador" in sources


def test_a_missing_map_names_the_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nope.geojson")):
        load_map(tmp_path / "nope.geojson")


def _chromium() -> Path:
    found = find_chromium()
    if found is None:
        message = "no Chromium: run `python scripts/setup_test_deps.py`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@contextmanager
def _offline_page(
    allowed: Callable[[str], bool], requests: list[str], errors: list[str]
) -> Iterator[Any]:
    """A page in headless Chromium with the network blocked but for the URLs
    ``allowed`` passes; every request and every page or console error is
    recorded."""
    from playwright.sync_api import sync_playwright

    from tests.integration.conftest import CHROMIUM_ARGS

    def route(r) -> None:
        requests.append(r.request.url)
        if allowed(r.request.url):
            r.continue_()
        else:
            r.abort()

    with (
        tempfile.TemporaryDirectory(prefix="ssa-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(_chromium()),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1300, "height": 900},
            offline=True,
        )
        try:
            page = context.new_page()
            page.route("**/*", route)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "console",
                lambda m: errors.append(m.text) if m.type == "error" else None,
            )
            yield page
        finally:
            context.close()


def test_the_page_renders_offline_in_chromium(written) -> None:
    settings, _ = written
    url = settings.paths.dashboard_html.resolve().as_uri()
    shots = Path(os.environ.get("SSA_SCREENSHOTS", REPO_ROOT / "bench/results/ui"))
    shots.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []
    with _offline_page(lambda u: u == url, requests, errors) as page:
        page.goto(url)
        page.wait_for_function("window.ssaCharts !== undefined")
        page.evaluate("window.ssaCharts.then(() => true)")
        layers = page.evaluate(
            """() => [...document.querySelectorAll('#mapa g.mark-shape')]
            .map(g => [...g.querySelectorAll('path')]
                .filter(p => (p.getAttribute('fill') || 'none') !== 'none')
                .length)"""
        )
        top_rows = page.locator("#top-anomalias tbody tr").count()
        report_rows = page.locator("#relatorio-0 tbody tr").count()
        kpis = page.inner_text("#kpis")
        bars = page.locator("#por-dia g.mark-rect path").count()
        page.screenshot(path=shots / "dashboard.png", full_page=True)
    assert requests == [url], requests  # not live: not even the feed
    assert errors == []
    data = read_data(settings)
    with_transactions = int((data.bairros["transactions"] > 0).sum())
    with_residents = int(data.bairros["per_1000_residents"].notna().sum())
    # Per map: every bairro drawn (grey underneath), coloured where it has a rate.
    assert layers == [BAIRROS, with_transactions, BAIRROS, with_residents]
    assert with_transactions > BAIRROS // 2
    alerts = int(data.kpis["alerts"])
    assert top_rows == min(alerts, settings.exports.dashboard_top_rows) > 0
    assert report_rows == len(REPORT["rules"])
    assert bars == len(data.daily) > 0
    assert f"{alerts:,}".replace(",", ".") in kpis and "R$" in kpis
    assert json.loads(json.dumps(data.kpis, default=str))  # plain values


@pytest.fixture
def fed(written, tmp_path) -> Settings:
    """A copy of the month's warehouse that the watched folder has fed one
    file, its dashboard written: live mode redraws after a second reload."""
    import sqlite3

    from ssa.intake.ingest import ingest_file
    from tests.drops import sample, write

    month, _ = written
    settings = month.model_copy(
        update={
            "paths": month.paths.model_copy(update={"data_dir": tmp_path}),
            "exports": month.exports.model_copy(
                update={
                    "dashboard_live_poll_seconds": 0.5,
                    "dashboard_live_reload_seconds": 1.0,
                }
            ),
        }
    )
    with (
        sqlite3.connect(month.warehouse_path) as source,
        sqlite3.connect(settings.warehouse_path) as copy,
    ):
        source.backup(copy)
    drop = write(settings.paths.incoming_path / "lote-1.csv", sample(30))
    assert ingest_file(drop, settings).rows_loaded == 30
    dashboard.write_dashboard(settings, REPORT)
    return settings


def test_live_mode_shows_the_files_arriving_then_redraws(fed) -> None:
    """Opened as dashboard.html#ao-vivo: the page reads the feed beside it,
    changes the latest files in place when a refresh writes a new one, then
    reloads once to redraw (keeping the scroll), and asks for nothing else."""

    from ssa.intake.ingest import ingest_file
    from tests.drops import sample, write

    settings = fed
    url = settings.paths.dashboard_html.resolve().as_uri()
    feed = settings.paths.dashboard_live_js.resolve().as_uri()
    requests: list[str] = []
    errors: list[str] = []

    def allowed(u: str) -> bool:
        return u == url or u.startswith(f"{feed}?t=")

    with _offline_page(allowed, requests, errors) as page:
        page.goto(f"{url}#ao-vivo")
        page.wait_for_function("window.ssaLiveFeeds >= 1")
        first = page.locator("#chegando-tabela tbody tr").all_inner_texts()
        state = page.inner_text("#ao-vivo-estado")
        page.evaluate("window.ssaCharts.then(() => window.scrollTo(0, 600))")
        page.evaluate("window.beforeReload = true")
        # A second file and the refresh's new page and feed.
        later = sample(40, start=date(2026, 10, 12))
        drop = write(settings.paths.incoming_path / "lote-2.csv", later)
        assert ingest_file(drop, settings).rows_loaded == 40
        dashboard.write_dashboard(settings, REPORT)
        page.wait_for_function(
            "window.beforeReload === undefined && window.ssaLiveFeeds >= 1",
            timeout=30_000,
        )
        page.evaluate("window.ssaCharts.then(() => true)")
        page.wait_for_function("window.scrollY > 0")
        second = page.locator("#chegando-tabela tbody tr").all_inner_texts()
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=_shots() / "dashboard-live.png")
        page.evaluate("window.afterReload = true")
        page.wait_for_timeout(2500)  # feeds keep coming, no second reload
        still = page.evaluate("window.afterReload === true")
    assert errors == []
    assert "Ao vivo: Gold de" in state and "desligar" in state
    assert len(first) == 1
    assert first[0].startswith("lote-1.csv\tcontrato nativo\tcarregado\t30")
    assert [row.split("\t")[:4] for row in second] == [
        ["lote-2.csv", "contrato nativo", "carregado", "40"],
        ["lote-1.csv", "contrato nativo", "carregado", "30"],
    ]
    assert still
    assert requests.count(url) == 2  # the first load and the one redraw
    assert all(r == url or r.startswith(f"{feed}?t=") for r in requests), requests


def _shots() -> Path:
    shots = Path(os.environ.get("SSA_SCREENSHOTS", REPO_ROOT / "bench/results/ui"))
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def test_the_shipped_map_is_what_the_script_makes_of_the_shared_polygons() -> None:
    from scripts import simplify_bairros

    if not simplify_bairros.SOURCE.is_file():
        pytest.skip(f"{simplify_bairros.SOURCE} absent (../shared not beside the repo)")
    made = simplify_bairros.simplify(simplify_bairros.SOURCE)
    shipped = json.loads(simplify_bairros.TARGET.read_text(encoding="utf-8"))
    assert json.loads(json.dumps(made)) == shipped


def test_every_rule_has_a_portuguese_label_and_reason() -> None:
    from ssa.report.exports import REASONS, REASONS_PT

    assert set(RULE_LABELS) == set(RULES) == set(REASONS_PT)
    # The same features fill both sentences.
    fields = re.compile(r"\{(\w+)")
    for rule in RULES:
        assert set(fields.findall(REASONS_PT[rule])) == set(
            fields.findall(REASONS[rule])
        ), rule


def _with(settings: Settings, **groups: dict[str, Any]) -> Settings:
    """A copy of ``settings`` with some fields of some groups changed."""
    return settings.model_copy(
        update={
            group: getattr(settings, group).model_copy(update=fields)
            for group, fields in groups.items()
        }
    )


def _csv_alerts(settings: Settings) -> pd.DataFrame:
    from tasks.gold import _export

    _export(settings)
    return pd.read_csv(settings.paths.gold_anomalies_csv, dtype=str)


def test_the_headline_counts_the_alert_queue_beside_the_rule_flags(written) -> None:
    """The headline is gold_anomalies.csv, what an analyst opens: on this
    month the anomaly score alone raises alerts no rule flagged."""
    settings, out = written
    alerts = _csv_alerts(settings)
    flagged = int((alerts["anomaly_flag"] != "Normal").sum())
    assert len(alerts) > flagged > 0  # the case the headline must not miss
    kpis = read_data(settings).kpis
    assert (kpis["alerts"], kpis["flagged"]) == (len(alerts), flagged)
    assert (out["alerts"], out["flagged"]) == (len(alerts), flagged)
    tiles = {t["label"]: t["value"] for t in _kpis(kpis)}
    headline = next(label for label in tiles if label.startswith("Alertas ("))
    assert tiles[headline] == br_number(len(alerts))
    assert headline.endswith(f"{br_number(flagged)} pelas regras")
    cents = alerts["amount_cents"].astype(int).sum()
    assert tiles["Valor em alerta"] == brl(cents / 100)
    critical = int((alerts["risk_level"] == "critical").sum())
    assert tiles["Alertas críticos"] == br_number(critical)


def test_the_daily_chart_counts_the_alert_queue_by_signal(written) -> None:
    """Each day's bars add up to that day's alerts, the learned voice's own
    under a signal of their own."""
    settings, _ = written
    alerts = _csv_alerts(settings)
    daily = read_data(settings).daily
    assert daily["anomalies"].sum() == len(alerts)
    learned = daily.loc[daily["flag"] == LEARNED_LABEL, "anomalies"].sum()
    assert learned == int((alerts["anomaly_flag"] == "Normal").sum()) > 0


@pytest.mark.parametrize("month", ["written", "modelled"])
def test_the_map_and_the_hour_chart_count_the_alert_queue(month, request) -> None:
    """Per bairro, and per hour and channel, the alerts are the rows of
    gold_anomalies.csv there, as the headline counts them: those no rule
    flagged (the anomaly score's alone on the month without a model, the
    model's or the anomaly score's with one) among them, the rule flags
    beside them."""
    settings = request.getfixturevalue(month)[0]
    alerts = _csv_alerts(settings)
    flagged = alerts[alerts["anomaly_flag"] != "Normal"]
    assert len(alerts) > len(flagged) > 0  # alerts no rule flagged, and rules'
    data = read_data(settings)

    shown = data.bairros.set_index("bairro")
    for column, rows in (("alerts", alerts), ("flagged", flagged)):
        counted = shown.loc[shown[column] > 0, column]
        assert counted.to_dict() == rows.groupby("bairro").size().to_dict(), column
    assert (shown["alerts"] > shown["flagged"]).any()
    rate = (
        shown["alerts"] * 1000 / shown["transactions"].where(shown["transactions"] > 0)
    )
    assert shown["per_1000_transactions"].equals(rate.round(2))
    residents = shown["alerts"] * 1000 / shown["population_2022"]
    assert shown["per_1000_residents"].dropna().equals(residents.round(2).dropna())

    heat = data.hour_channel.set_index(["local_hour", "channel"])
    for column, rows in (("alerts", alerts), ("flagged", flagged)):
        hour = rows["created_at"].str[11:13].astype(int).rename("local_hour")
        counted = heat.loc[heat[column] > 0, column]
        assert counted.to_dict() == rows.groupby([hour, "channel"]).size().to_dict()
    assert heat["alerts"].sum() == len(alerts)
    assert heat["transactions"].sum() == data.kpis["transactions"]
    rate = heat["alerts"] * 1000 / heat["transactions"]
    assert heat["per_1000_transactions"].equals(rate.round(2))


def test_the_map_and_the_hour_chart_say_alerts(written) -> None:
    """Their titles and tooltips name what they count: alerts, and the rule
    flags by that name; never 'Anomalias', their word when they counted the
    rule flags."""
    _, out = written
    specs = json.dumps(out["specs"], ensure_ascii=False)
    for title in (
        "Alertas por 1.000 transações",
        "Alertas por 1.000 moradores (Censo 2022)",
        "Alertas por hora do dia e canal",
        FLAGGED_TITLE,
    ):
        assert f'"{title}"' in specs, title
    assert "Anomalias" not in specs


def test_without_a_model_the_page_says_what_scored_it(written) -> None:
    settings, _ = written
    html = settings.paths.dashboard_html.read_text(encoding="utf-8")
    assert read_data(settings).scoring == NO_MODEL
    assert f'<p class="note" id="modelo">{NO_MODEL}</p>' in html


def test_the_anomaly_scores_reasons_are_in_portuguese(written) -> None:
    """Every alert listed (the list made long enough to hold the alerts the
    anomaly score alone raised): its reasons in Portuguese, as many as the
    CSV gives in English."""
    settings, _ = written
    every = _with(settings, exports={"dashboard_top_rows": 1000})
    top = read_data(every).top
    english = _csv_alerts(settings)["reasons"].fillna("")
    assert len(top) == len(english)
    said = top["Motivos"].fillna("")
    assert said.str.count("; ").tolist() == english.str.count("; ").tolist()
    unusual = english.str.contains("unusual: ")
    assert unusual.sum() > 0
    assert said.str.contains("incomum: ").tolist() == unusual.tolist()
    for words in ("unusual", "typical amount", "spent in 24 h", "within the hour"):
        assert not said.str.contains(words).any(), words
    alone = top[english.str.startswith("unusual: ").to_numpy()]
    assert len(alone) and alone["Motivos"].str.startswith("incomum: ").all()


@pytest.fixture(scope="module")
def modelled(labelled_month) -> tuple[Settings, dict, dict]:
    """A month Gold scored with a trained model, its real detection report
    and its page."""
    from ssa.risk import risk_model, training
    from tasks.report import _evaluate

    settings, rows = labelled_month
    model = training.fit_and_evaluate(rows, settings)
    risk_model.save(model, settings.paths.models_path)
    build_gold(settings)
    report = _evaluate(settings)
    dashboard.write_dashboard(settings, report)
    return settings, model, report


def test_the_page_names_the_model_that_scored_gold_and_its_windows(
    modelled,
) -> None:
    settings, model, _ = modelled
    html = settings.paths.dashboard_html.read_text(encoding="utf-8")
    note = re.search(r'<p class="note" id="modelo">(.*?)</p>', html, re.S)[1]
    assert f"modelo de risco v{model['version']}," in note
    for window in ("training", "calibration"):
        for end in ("from", "until"):
            day = date.fromisoformat(model["windows"][window][end])
            assert day.strftime("%d/%m/%Y") in note, (window, end)
    assert "outro modelo" not in note and "sem modelo" not in note


def test_a_model_that_did_not_score_gold_is_not_named_as_if_it_had(
    modelled, written, tmp_path
) -> None:
    settings, model, _ = modelled
    newer = tmp_path / "risk-model-v0099.json"
    newer.write_text(json.dumps({**model, "version": 99}), encoding="utf-8")
    # Gold scored by v1; the settings now name v99.
    note = read_data(_with(settings, model={"model_file": newer})).scoring
    assert f"modelo de risco v{model['version']}" in note
    assert "outro modelo" in note and "v99" in note
    # Gold scored with no model; a model file has appeared since.
    unscored, _ = written
    note = read_data(_with(unscored, model={"model_file": newer})).scoring
    assert "sem modelo" in note and "v99" in note
    assert note != NO_MODEL


def test_the_models_reasons_are_in_portuguese(modelled) -> None:
    """The model's sentences (stored in English) read back into Portuguese:
    none of the English ones is left."""
    from ssa.risk.model_scoring import MODEL_REASONS
    from ssa.wording import _template_pattern

    settings, _, _ = modelled
    top = read_data(settings).top
    said = top["Motivos"].fillna("")
    assert said.str.contains("modelo: ").sum() > 0
    assert not said.str.contains("model: |unusual: ").any()
    english = [
        _template_pattern(s.en)[0] for s in MODEL_REASONS.values() if s.en != s.pt
    ]
    parts = [p for text in said for p in text.split("; ")]
    left = [p for p in parts if any(e.fullmatch(p) for e in english)]
    assert left == []


def _headers(html: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)[1]
    return re.findall(r"<th>(.*?)</th>", table)


def _first_cells(html: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)[1]
    return re.findall(r"<tr><td[^>]*>(.*?)</td>", table)


def test_the_detection_report_panel_is_in_portuguese(modelled) -> None:
    """A real report's keys and words, as the page shows them: no key of
    the report is left in English, nor the label sets, statuses or scorers."""
    from markupsafe import escape

    from ssa.report import evaluation

    settings, _, report = modelled
    html = settings.paths.dashboard_html.read_text(encoding="utf-8")
    rules, score = report["rules"], report["score"]
    keys = {*rules.columns, *score}
    assert {"status", "label_set", "fraud_to_catch", "scorer", "alerts_per_day"} <= keys
    assert any(re.fullmatch(r"precision_at_\d+_real_prevalence", k) for k in keys)
    shown = _headers(html, "relatorio-0") + _first_cells(html, "relatorio-1")
    assert len(shown) == len(rules.columns) + len(score)
    assert not keys & set(shown), keys & set(shown)
    english = {
        *evaluation.LABEL_SETS,
        *rules["status"],
        *(evaluation.SCORERS[c] for c in ("risk_score", "rules_score")),
        score["scorer"],
    }
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html)
    assert not english & set(cells), english & set(cells)
    assert str(escape("pontuação de risco de Gold (combinada)")) in cells
    assert any(c.startswith("julgada") for c in cells)


def test_report_keys_unknown_to_the_page_keep_their_name() -> None:
    assert report_header("precision_at_250") == "Precisão nos 250 primeiros"
    assert report_header("a_new_figure") == "a_new_figure"
    tables = _report_tables({"score": {"a_new_figure": 1.5, "scorer": "a new scorer"}})
    assert tables[0]["frame"].to_dict("records") == [
        {"Medida": "a_new_figure", "Valor": "1,500"},
        {"Medida": "Pontuação", "Valor": "a new scorer"},
    ]


# A fintech's own export: the generator's payments with no place at all.
PLACELESS_MAPPING = """\
description: payments from a system that records no place
columns:
  transaction_id: transaction_id
  customer_id: customer_id
  payer_type: payer_type
  channel: channel
  payee_id: payee_id
  payee_type: payee_type
  is_same_owner: is_same_owner
  merchant_id: merchant_id
  category: category
  card_id: card_id
  entry_mode: entry_mode
  auth_status: auth_status
  device_id: device_id
time:
  epoch_column: created_at_epoch
amount:
  column: amount
  decimal: "."
  currency: BRL
places: none
"""
PLACELESS = "semlugar"


def _placeless_drop(folder: Path, seed: int, customers: int, prefix: str) -> Path:
    """A generated month written as that system exports it: no bairro, no
    lat/lon (its customers' ids prefixed, so they are nobody else's)."""
    month = generate(
        Settings(generator={"n_customers": customers, "days": 7, "seed": seed})
    )
    rows = month.transactions.drop(
        columns=["bairro", "lat", "lon", "device_first_seen_epoch"]
    ).astype({"customer_id": "string"})
    rows = rows.assign(
        customer_id=prefix + rows["customer_id"],
        amount=(rows.pop("amount_cents") / 100).map("{:.2f}".format),
    )
    path = folder / PLACELESS / f"{PLACELESS}-{seed}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(path, index=False)
    return path


def _with_placeless_source(data_dir: Path) -> Settings:
    sources = data_dir / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    (sources / f"{PLACELESS}.yaml").write_text(PLACELESS_MAPPING, encoding="utf-8")
    return Settings(
        paths={"data_dir": data_dir, "sources_dir": sources},
        generator={"n_customers": 400, "n_merchants": 80, "days": 7},
    )


@pytest.fixture(scope="module")
def placeless(tmp_path_factory) -> tuple[Settings, dict]:
    """A warehouse fed only by a source with no place (``places: none``)."""
    from ssa.intake.ingest import ingest_file

    settings = _with_placeless_source(tmp_path_factory.mktemp("placeless"))
    drop = _placeless_drop(settings.paths.incoming_path, 3, 400, "S")
    result = ingest_file(drop, settings, source=PLACELESS)
    assert result.rows_loaded > 1000 and result.rows_rejected == 0, result.detail
    build_silver(settings, None)
    build_gold(settings)
    return settings, dashboard.write_dashboard(settings, REPORT)


@pytest.fixture(scope="module")
def mixed(written, tmp_path_factory) -> tuple[Settings, dict]:
    """The synthetic month (every row in a bairro), a placeless source and
    a native drop whose rows give coordinates but no bairro."""
    import sqlite3

    from ssa.intake.ingest import ingest_file
    from tests.drops import sample, write

    month, _ = written
    settings = _with_placeless_source(tmp_path_factory.mktemp("mixed"))
    with (
        sqlite3.connect(month.warehouse_path) as source,
        sqlite3.connect(settings.warehouse_path) as copy,
    ):
        source.backup(copy)
    drop = _placeless_drop(settings.paths.incoming_path, 5, 200, "S")
    assert ingest_file(drop, settings, source=PLACELESS).rows_loaded > 500
    nameless = sample(40).assign(bairro="")
    native = write(settings.paths.incoming_path / "sem-bairro.csv", nameless)
    assert ingest_file(native, settings).rows_loaded == 40
    build_silver(settings, None)
    build_gold(settings)
    return settings, dashboard.write_dashboard(settings, REPORT)


def _stored_alerts(settings: Settings) -> pd.DataFrame:
    """The alert queue's places and lineage, read straight from Gold."""
    import sqlite3

    with sqlite3.connect(settings.warehouse_path) as conn:
        return pd.read_sql_query(
            "select source, bairro, lat, lon from gold_anomalies", conn
        )


def test_a_placeless_warehouse_renders_its_note_and_the_panel_by_source(
    placeless,
) -> None:
    """No transaction has a place: no map to draw (an all-grey map would
    read as a city without alerts); the page says why, counts every alert by
    source, and its charts by day and by hour and channel render."""
    settings, out = placeless
    alerts = _stored_alerts(settings)
    assert len(alerts) > 0 and alerts["bairro"].isna().all()
    url = settings.paths.dashboard_html.resolve().as_uri()
    requests: list[str] = []
    errors: list[str] = []
    with _offline_page(lambda u: u == url, requests, errors) as page:
        page.goto(url)
        page.wait_for_function("window.ssaCharts !== undefined")
        page.evaluate("window.ssaCharts.then(() => true)")
        maps = page.locator("#mapa").count()
        said = page.inner_text("#sem-lugar")
        title = page.inner_text("h1")
        headings = page.locator("h2").all_inner_texts()
        by_source = page.locator("#por-fonte-tabela tbody tr").all_inner_texts()
        cells = page.locator("#por-hora g.mark-rect path").count()
        bars = page.locator("#por-dia g.mark-rect path").count()
        page.screenshot(path=_shots() / "dashboard-placeless.png", full_page=True)
    assert errors == [] and requests == [url]
    assert maps == 0 and "mapa" not in out["specs"]
    count = br_number(len(alerts))
    assert said.startswith("Sem mapa: nenhuma das")
    assert title == "SSA-Fintech · Anomalias"  # no row of it is in Salvador
    assert "Lugares" in headings and not any("Mapa" in h for h in headings)
    assert f"nenhum dos {count} alertas" in said
    assert f"{count} de {PLACELESS} sem lugar (o mapeamento diz places: none)" in said
    assert len(by_source) == 1
    row = by_source[0].split("\t")
    assert row[0] == PLACELESS and row[3] == count  # Fonte, …, Alertas
    assert row[5:7] == ["0", count]  # none on the map, all without a place
    assert cells > 0 and bars > 0


def test_a_placeless_warehouse_gives_the_run_page_its_picture(tmp_path) -> None:
    """The run page's PNG: the daily and hour charts where there is no map."""
    from ssa.intake.ingest import ingest_file
    from ssa.report.dashboard.vega import snapshot_png

    settings = _with_placeless_source(tmp_path)
    drop = _placeless_drop(settings.paths.incoming_path, 4, 60, "S")
    assert ingest_file(drop, settings, source=PLACELESS).rows_loaded > 0
    build_silver(settings, None)
    build_gold(settings)
    specs = dashboard.write_dashboard(settings)["specs"]
    assert "mapa" not in specs
    assert snapshot_png(specs).startswith(b"\x89PNG")


def test_the_mixed_warehouse_counts_what_the_map_cannot_draw(mixed) -> None:
    """The map counts the alerts with a bairro, and its rates only them; the
    note says how many are off it and why; the panel by source counts every
    alert, each system's files added up."""
    from ssa.intake.ingest_log import lineage_source
    from ssa.report.dashboard.places import note

    settings, _ = mixed
    alerts = _stored_alerts(settings)
    placed = alerts["bairro"].notna()
    no_point = alerts["bairro"].isna() & (alerts["lat"].isna() | alerts["lon"].isna())
    assert placed.sum() > 0 and no_point.sum() > 0  # both kinds, to count
    data = read_data(settings)
    places = data.places
    assert places.total("alerts") == len(alerts) == int(data.kpis["alerts"])
    assert places.total("alerts_with_bairro") == placed.sum()
    assert places.total("alerts_without_point") == no_point.sum()
    # The map's rates: over the rows with a bairro, and nothing else.
    assert data.bairros["alerts"].sum() == placed.sum()
    shown = data.bairros.set_index("bairro")
    residents = shown["alerts"] * 1000 / shown["population_2022"]
    assert shown["per_1000_residents"].dropna().equals(residents.round(2).dropna())
    # Per system: the generator's month, the placeless source, the native drop.
    systems = alerts["source"].map(lineage_source)
    by_source = places.by_source.set_index("source")
    assert set(by_source.index) == {"generator", PLACELESS, "native"}
    assert by_source["alerts"].to_dict() == {
        s: int((systems == s).sum()) for s in by_source.index
    }
    assert (
        by_source.loc["generator", "alerts_with_bairro"]
        == (by_source.loc["generator", "alerts"])
    )
    assert by_source.loc[PLACELESS, "alerts_with_bairro"] == 0
    native = by_source.loc["native"]
    assert native["transactions"] == 40 and native["transactions_with_bairro"] == 0
    assert native["transactions_without_point"] == 0  # coordinates, no bairro
    said = note(places)
    total, on_map = br_number(len(alerts)), br_number(int(placed.sum()))
    assert said.startswith(f"O mapa mostra {on_map} dos {total} alertas")
    assert f"{br_number(int(no_point.sum()))} de {PLACELESS} sem lugar" in said
    html = settings.paths.dashboard_html.read_text(encoding="utf-8")
    assert 'id="sem-lugar"' in html and 'id="por-fonte-tabela"' in html
    assert '"mapa"' in html  # the map stays, for the rows it can draw


def test_a_month_in_its_bairros_is_shown_as_before(written) -> None:
    """Every row has a bairro: no note and no panel by source, the map as
    it was."""
    settings, out = written
    data = read_data(settings)
    assert data.places.complete and not data.places.shown_by_source
    html = settings.paths.dashboard_html.read_text(encoding="utf-8")
    assert 'id="sem-lugar"' not in html and "por-fonte" not in html
    assert "mapa" in out["specs"]
    assert "<h1>SSA-Fintech · Anomalias em Salvador</h1>" in html
    assert "<h2>Mapa dos 170 bairros</h2>" in html
