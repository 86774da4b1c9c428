"""The training flow under Prefect's test harness, and its command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows import train
from ssa.engines import open_warehouse
from ssa.generator import generate
from ssa.risk import risk_model, training
from ssa.settings import REPO_ROOT, Settings, sql_params
from tasks.bronze import _load
from tests.conftest import RATES


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    settings = Settings(
        paths={"data_dir": tmp_path_factory.mktemp("train")},
        generator={"n_customers": 500, "n_merchants": 100, "days": 28, "seed": 9},
        fraud=RATES,
        model={"delay_days": 3, "max_rounds": 60},
    )
    _load(generate(settings), settings)
    warehouse = open_warehouse(settings)
    warehouse.build_silver(sql_params(settings))
    warehouse.build_gold(sql_params(settings))
    return settings


def test_the_flow_saves_a_version_and_publishes_its_figures(
    settings, prefect_harness
) -> None:
    result = asyncio.run(train.train_risk_model(settings))
    path = settings.paths.models_path / "risk-model-v0001.json"
    assert result["model_file"] == str(path)
    model = risk_model.load(path)
    assert set(model["metrics"]) == {
        "model",
        "rules_only",
        "anomaly_only",
        "gold_without_model",
        "gold_with_model",
        "baseline_amount_p99",
        "baseline_amount_vs_median",
    }
    assert (
        model["windows"]["training"]["until"] < model["windows"]["evaluation"]["from"]
    )

    async def keys() -> set[str]:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(
                        any_=[
                            "risk-model",
                            "risk-model-evaluation",
                            "risk-model-precision-recall",
                        ]
                    )
                )
            )
        return {a.key for a in found}

    assert asyncio.run(keys()) == {
        "risk-model",
        "risk-model-evaluation",
        "risk-model-precision-recall",
    }
    assert set(model["curves"]) == set(model["metrics"])


def test_the_command_line_names_what_is_missing(
    tmp_path, capsys, prefect_harness
) -> None:
    empty = tmp_path / "empty"
    assert train.main(["--data-dir", str(empty)]) == 1
    assert f"no warehouse at {empty / 'ssa.db'}" in capsys.readouterr().err
    assert not empty.exists()


def test_the_command_line_rejects_a_bad_label_source(capsys) -> None:
    with pytest.raises(SystemExit):
        train.parse_settings(["--labels", "everything"])
    assert "--labels" in capsys.readouterr().err


def test_the_command_line_trains_on_the_engine_the_folder_holds(tmp_path) -> None:
    """A folder of a DuckDB (or Spark) warehouse trains on it without
    --engine, as the ingest and the rebuild of that folder do."""
    (tmp_path / "ssa.duckdb").write_bytes(b"")
    assert train.parse_settings(["--data-dir", str(tmp_path)]).engine == "duckdb"
    chosen = train.parse_settings(["--data-dir", str(tmp_path), "--engine", "sqlite"])
    assert chosen.engine == "sqlite"


def test_a_refusal_is_one_line_before_prefect_starts(settings, capsys) -> None:
    """No reported labels in a synthetic month: the command says so in one
    line, with no flow run and no traceback."""
    code = train.main(
        ["--data-dir", str(settings.paths.data_path), "--labels", "reported"]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.err.startswith(
        "cannot train: no labelled transactions for label_source='reported'"
    )
    assert "Starting Prefect" not in captured.out


@pytest.mark.parametrize(
    ("window", "update"),
    [
        ("training", {"min_fraud_rows": 10_000}),
        ("evaluation", {"evaluation_start": "2026-10-28", "delay_days": 0}),
    ],
)
def test_the_preflight_names_a_window_without_fraud_labels(
    settings, window, update
) -> None:
    model = settings.model.model_validate({**settings.model.model_dump(), **update})
    checked = settings.model_copy(update={"model": model})
    if window == "evaluation":
        # Labels of the last day only, all legitimate: nothing to judge on.
        with open_warehouse(settings).transaction() as session:
            labels = risk_model.read_labels(session, checked)
        split = risk_model.time_split(labels, checked)
        later = labels["created_at_epoch"] >= split.evaluation_start
        labels.loc[later, "is_fraud"] = 0
        with pytest.raises(
            risk_model.ModelError, match="evaluation window has 0 fraud labels"
        ):
            risk_model.check_windows(labels, split, checked)
        return
    with pytest.raises(risk_model.ModelError, match=r"training window has \d+ fraud"):
        training.preflight(checked)


def test_the_preflight_returns_the_split_training_uses(settings) -> None:
    split = training.preflight(settings)
    with open_warehouse(settings).transaction() as session:
        rows = risk_model.read_rows(session, settings)
    assert split == risk_model.time_split(rows[rows["is_fraud"].notna()], settings)


def test_the_last_line_sets_the_model_beside_gold_and_the_baselines(
    settings, capsys, prefect_harness
) -> None:
    """Whether the model helps shows in the command's last line: its PR-AUC
    beside the rules-only and Gold scores and both baselines'."""
    code = train.main(
        [
            "--data-dir",
            str(settings.paths.data_path),
            "--set",
            "model.delay_days=3",
            "--set",
            "model.max_rounds=60",
        ]
    )
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    model = risk_model.load(Path(last.split(" -> ", 1)[1].split(";", 1)[0]))
    for key, name in training.LINE_NAMES.items():
        figure = model["metrics"][key]["average_precision"]
        assert f"{name} {figure:.3f}" in last, (name, last)
    assert last.index("model ") < last.index("rules alone") < last.index("amount")


def test_a_score_without_fraud_to_rank_shows_n_a() -> None:
    metrics = {
        "model": {"average_precision": 0.5, "prevalence": 0.01},
        "baseline_amount_p99": {"average_precision": None},
    }
    model = {
        "metrics": metrics,
        "windows": {"evaluation": {"from": "2026-10-20", "until": "2026-10-27"}},
    }
    assert training.comparison_line(model) == (
        "held back 2026-10-20 to 2026-10-27, PR-AUC model 0.500, amount > p99 "
        "n/a (prevalence 0.0100)"
    )


def test_a_folder_of_files_loaded_without_refresh_is_told_to_rebuild(
    tmp_path, capsys, prefect_harness
) -> None:
    """flows.ingest --no-refresh leaves Bronze without Silver; such a folder
    holds no generated month, so flows.medallion is not the way to build it."""
    from flows import ingest

    folder = tmp_path / "data"
    example = REPO_ROOT / "sources" / "examples" / "sparkov_example.csv"
    assert (
        ingest.main(
            [
                "--source",
                "sparkov",
                "--data-dir",
                str(folder),
                "--no-refresh",
                str(example),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert train.main(["--data-dir", str(folder)]) == 1
    assert (
        f"has Bronze but no Silver features yet: build them with python -m "
        f"flows.rebuild --data-dir {folder}"
    ) in capsys.readouterr().err
