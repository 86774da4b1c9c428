"""Where the held-back period starts: at a date's local midnight, at a local
date-time, or, when none is given, at the last share of the labelled span,
on whole days where they fit it and at an hour where they do not."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from flows import train
from ssa.local_time import day_number, local_day, midnight
from ssa.risk import model_scoring, risk_model
from ssa.settings import Settings
from tests.rows import MIDNIGHT

HOUR = 3_600
DAY = 86_400
OFFSET = Settings().rules.utc_offset_seconds


def _labelled(start: int, hours: float, every: int = 600) -> pd.DataFrame:
    """A labelled row every ``every`` seconds for ``hours`` from ``start``,
    every 7th one fraud."""
    times = np.arange(start, start + int(hours * HOUR) + 1, every)
    return pd.DataFrame(
        {
            "created_at_epoch": times,
            "is_fraud": (np.arange(len(times)) % 7 == 0).astype(int),
        }
    )


def _settings(**model) -> Settings:
    return Settings(model=model)


def test_a_date_time_splits_at_that_instant_of_the_local_clock() -> None:
    rows = _labelled(MIDNIGHT, 10 * 24)
    split = risk_model.time_split(
        rows, _settings(evaluation_start="2026-10-08T12:30", delay_days=0.25)
    )
    # 2026-10-08 is day 7 of the rows (MIDNIGHT is 2026-10-01 00:00 local).
    assert split.evaluation_start == MIDNIGHT + 7 * DAY + 12 * HOUR + 30 * 60
    assert split.train_end == split.evaluation_start - 6 * HOUR
    times = rows["created_at_epoch"]
    training = times < split.train_end
    evaluation = times >= split.evaluation_start
    assert times[training].max() < split.train_end
    assert times[evaluation].min() == split.evaluation_start  # a row at it is held back
    assert not (training & evaluation).any()


def test_an_offset_in_the_date_time_is_honoured() -> None:
    rows = _labelled(MIDNIGHT, 10 * 24)
    local = risk_model.time_split(
        rows, _settings(evaluation_start="2026-10-08T12:00", delay_days=0)
    )
    utc = risk_model.time_split(
        rows, _settings(evaluation_start="2026-10-08T15:00+00:00", delay_days=0)
    )
    assert utc.evaluation_start == local.evaluation_start


def test_a_date_still_splits_at_its_local_midnight() -> None:
    rows = _labelled(MIDNIGHT + 9 * HOUR, 10 * 24)
    split = risk_model.time_split(
        rows, _settings(evaluation_start=date(2026, 10, 8), delay_days=1)
    )
    assert split.evaluation_start == midnight(day_number(date(2026, 10, 8)), OFFSET)
    assert split.train_end == split.evaluation_start - DAY


@pytest.mark.parametrize("days", [3, 7, 28, 365])
def test_without_a_start_a_span_of_days_is_split_on_whole_days(days: int) -> None:
    """As before: the day ``round(span * (1 - share))`` after the first."""
    rows = _labelled(MIDNIGHT + 8 * HOUR, days * 24 - 10, every=3_600)
    split = risk_model.time_split(rows, _settings(delay_days=0))
    first = local_day(MIDNIGHT + 8 * HOUR, OFFSET)
    assert split.evaluation_start == midnight(first + round(days * 0.75), OFFSET)


def test_a_two_day_span_with_the_default_delay_is_refused_with_one_that_fits() -> None:
    rows = _labelled(MIDNIGHT, 48)
    with pytest.raises(risk_model.ModelError) as refused:
        risk_model.time_split(rows, Settings())
    said = str(refused.value)
    assert "(48 h)" in said  # the span
    assert "delay 7.0 days" in said
    # 36 h lie before the evaluation: a delay below 1.5 days fits.
    assert "below 1.5" in said
    assert "model.delay_days=0.75" in said


def test_a_two_day_span_is_split_at_an_hour() -> None:
    rows = _labelled(MIDNIGHT + 5 * HOUR, 48)  # 05:00 on day one to day three
    split = risk_model.time_split(rows, _settings(delay_days=0.25))
    # The last quarter of 48 h: 12 h, from 05:00 on the third day back to
    # 17:00 on the second, not a midnight.
    assert split.evaluation_start == MIDNIGHT + DAY + 17 * HOUR
    assert (split.evaluation_start + OFFSET) % DAY != 0
    assert split.train_end == split.evaluation_start - 6 * HOUR
    held = (split.end - split.evaluation_start) / (split.end - split.start)
    assert held == pytest.approx(0.25)


def test_the_split_said_at_an_hour_is_said_to_the_minute() -> None:
    rows = _labelled(MIDNIGHT + 5 * HOUR, 48)
    settings = _settings(delay_days=0.25, min_fraud_rows=1000)
    split = risk_model.time_split(rows, settings)
    with pytest.raises(risk_model.ModelError, match=r"before 2026-10-02T11:00"):
        risk_model.check_windows(rows, split, settings)


def test_an_evaluation_start_after_every_row_is_refused() -> None:
    rows = _labelled(MIDNIGHT, 48)
    with pytest.raises(risk_model.ModelError, match="no evaluation window after"):
        risk_model.time_split(rows, _settings(evaluation_start=date(2026, 10, 9)))


def test_the_command_line_takes_a_date_or_a_date_time(capsys) -> None:
    day = train.parse_settings(["--evaluation-start", "2013-09-02"])
    assert day.model.evaluation_start == date(2013, 9, 2)
    hour = train.parse_settings(["--evaluation-start", "2013-09-02T12:00"])
    assert hour.model.evaluation_start == datetime(2013, 9, 2, 12, 0)
    with pytest.raises(SystemExit):
        train.parse_settings(["--evaluation-start", "soon"])
    assert "expected a date (YYYY-MM-DD)" in capsys.readouterr().err


def test_a_date_time_survives_the_settings_round_trip() -> None:
    """Prefect hands settings over as JSON: a date stays a date, a date-time
    a date-time."""
    for given in (date(2013, 9, 2), datetime(2013, 9, 2, 12, 0)):
        settings = _settings(evaluation_start=given)
        again = Settings.model_validate(settings.model_dump(mode="json"))
        assert again.model.evaluation_start == given
        assert type(again.model.evaluation_start) is type(given)


@pytest.mark.parametrize(
    ("said", "epoch"),
    [
        ("2026-10-08", midnight(day_number(date(2026, 10, 8)), OFFSET)),
        ("2026-10-08T12:30", MIDNIGHT + 7 * DAY + 12 * HOUR + 30 * 60),
    ],
)
def test_the_report_judges_from_where_the_model_file_says(
    tmp_path, said: str, epoch: int
) -> None:
    """The detection report ranks a model's scores only from its held-back
    start, read back from the model file: a day's midnight or the minute."""
    settings = Settings(paths={"data_dir": tmp_path})
    model = {
        "format": risk_model.FORMAT,
        "features": list(risk_model.FEATURES),
        "windows": {"evaluation": {"from": said}},
    }
    risk_model.save(model, settings.paths.models_path)
    assert model_scoring.held_back(settings) == (1, epoch, said)
