"""The training flow under Prefect's test harness, and its command line."""

from __future__ import annotations

import asyncio

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows import train
from ssa.engines import incremental
from ssa.engines.sqlite_warehouse import SQLiteWarehouse
from ssa.generator import generate
from ssa.models import GOLD, SILVER
from ssa.risk import risk_model
from ssa.settings import Settings
from tasks.bronze import _load
from tasks.silver import sql_params
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
    with SQLiteWarehouse(settings.warehouse_path).transaction() as conn:
        incremental.rebuild(conn, SILVER, sql_params(settings))
        incremental.rebuild(conn, GOLD, sql_params(settings))
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
                    key=ArtifactFilterKey(any_=["risk-model", "risk-model-evaluation"])
                )
            )
        return {a.key for a in found}

    assert asyncio.run(keys()) == {"risk-model", "risk-model-evaluation"}


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
