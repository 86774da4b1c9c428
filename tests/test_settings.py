"""Bad settings fail before any work, naming the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

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
    lite.require_sqlite("the watcher")
    with pytest.raises(ValueError, match="engine='duckdb': the watcher"):
        duck.require_sqlite("the watcher")
