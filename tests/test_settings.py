"""Bad settings fail before any work, naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ssa.engines.names import OWN_DATA_DIR
from ssa.settings import Settings


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"generator": {"n_customers": -5}}, "generator.n_customers"),
        ({"fraud": {"card_testing_rate": 1.5}}, "fraud.card_testing_rate"),
        ({"rules": {"hop_max_speed_kmh": 0}}, "rules.hop_max_speed_kmh"),
        ({"engine": "oracle"}, "engine"),
        ({"generator": {"n_customrs": 10}}, "generator.n_customrs"),
    ],
)
def test_invalid_values_name_the_field(override: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        Settings(**override)
    assert field in str(err.value)


def test_channel_shares_must_add_up() -> None:
    with pytest.raises(ValidationError, match="pix_share"):
        Settings(generator={"pix_share": 0.9})


def test_risk_levels_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="level_medium"):
        Settings(risk={"level_high": 30})


def test_cli_rejects_bad_values_with_the_field(capsys) -> None:
    from flows.medallion import main

    assert main(["--customers", "0"]) == 2
    assert "generator.n_customers" in capsys.readouterr().err


def test_each_engine_has_its_own_warehouse_file(tmp_path) -> None:
    lite = Settings(paths={"data_dir": tmp_path})
    duck = Settings(engine="duckdb", paths={"data_dir": tmp_path})
    assert lite.warehouse_path == tmp_path / "ssa.db"
    assert duck.warehouse_path == tmp_path / "ssa.duckdb"


def test_one_engine_per_data_folder(tmp_path) -> None:
    """Both engines write the same export files: a run on one never replaces
    the exports of the other's warehouse in the same folder."""
    from ssa.engines import WarehouseError, check_data_folder

    lite = Settings(paths={"data_dir": tmp_path})
    duck = Settings(engine="duckdb", paths={"data_dir": tmp_path})
    check_data_folder(lite)
    check_data_folder(duck)
    (tmp_path / "ssa.duckdb").touch()
    check_data_folder(duck)
    with pytest.raises(WarehouseError, match="already holds the duckdb warehouse"):
        check_data_folder(lite)
    (tmp_path / "ssa.duckdb").unlink()
    (tmp_path / "ssa.db").touch()
    with pytest.raises(WarehouseError, match="its own --data-dir"):
        check_data_folder(duck)


def test_duckdb_gets_its_own_data_folder_unless_given_one(tmp_path) -> None:
    duck = Settings(engine="duckdb")
    assert duck.paths.data_dir == Path("data") / "duckdb"
    assert duck.warehouse_path.parent == Settings().warehouse_path.parent / "duckdb"
    mine = Settings(engine="duckdb", paths={"data_dir": tmp_path})
    assert mine.warehouse_path == tmp_path / "ssa.duckdb"
    assert Settings().paths.data_dir == Path("data")


def test_flow_groups_replace_defaults_and_refuse_a_group_given_twice(tmp_path) -> None:
    from ssa.settings import GeneratorSettings, PathSettings, with_groups

    merged = with_groups(
        {"rules": {"hop_max_speed_kmh": 90}},
        generator=GeneratorSettings(days=3),
        paths=PathSettings(data_dir=tmp_path),
    )
    assert (merged.generator.days, merged.rules.hop_max_speed_kmh) == (3, 90)
    assert merged.paths.data_path == tmp_path
    # DuckDB without a data folder keeps its own folder.
    assert with_groups(None, engine="duckdb").paths.data_dir == OWN_DATA_DIR["duckdb"]
    with pytest.raises(ValueError, match="generator given twice"):
        with_groups({"generator": {"days": 5}}, generator=GeneratorSettings())


def test_spark_gets_its_own_data_folder_and_a_checked_remote(tmp_path) -> None:
    from ssa.engines import WarehouseError, check_data_folder

    assert Settings(engine="spark").paths.data_dir == OWN_DATA_DIR["spark"]
    spark = Settings(engine="spark", paths={"data_dir": tmp_path})
    assert spark.warehouse_path == tmp_path / "spark-warehouse"
    assert spark.engines.spark_remote is None  # the run starts a local server
    cluster = Settings(
        engine="spark", engines={"spark_remote": "sc://spark.internal:15002"}
    )
    assert cluster.engines.spark_remote == "sc://spark.internal:15002"
    with pytest.raises(ValidationError, match="spark_remote"):
        Settings(engine="spark", engines={"spark_remote": "spark.internal:15002"})
    spark.warehouse_path.mkdir()
    check_data_folder(spark)
    with pytest.raises(WarehouseError, match="already holds the spark warehouse"):
        check_data_folder(Settings(paths={"data_dir": tmp_path}))
