"""The one source of truth for every path, size, rate and threshold.

Flows take a ``Settings`` as their parameter so the Prefect UI shows (and lets a
user edit) every value; tasks receive the object and never read a global. Each
threshold says where its default comes from; ``docs`` is the fact sheet in
``../shared/reference`` summarised in the README ("Where the numbers come from").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    create_model,
    field_validator,
    model_validator,
)

from ssa.engines.names import (
    DEFAULT_ENGINE,
    OWN_DATA_DIR,
    WAREHOUSE_FOLDER,
    WAREHOUSE_SUFFIX,
    EngineName,
)
from ssa.rules import DETECTION_RULES

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = REPO_ROOT / "data" / "reference"


class _Model(BaseModel):
    """Strict base: unknown keys are a typo, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class PathSettings(_Model):
    """Where the warehouse and the exports live (relative paths are to the repo)."""

    data_dir: Path = Field(
        Path("data"), description="Folder for the warehouse and all exports."
    )
    warehouse_file: str = Field(
        "ssa.db",
        min_length=1,
        description="The warehouse's file name inside data_dir (the default "
        "engine's); other engines use its stem with their own suffix "
        "(ssa.duckdb).",
    )
    bairros_csv: Path = Field(
        REFERENCE_DIR.relative_to(REPO_ROOT) / "salvador_bairros.csv",
        description="Reference table of Salvador's 170 bairros (a relative "
        "path is inside the project).",
    )
    bairros_map: Path = Field(
        REFERENCE_DIR.relative_to(REPO_ROOT) / "salvador_bairros_map.geojson",
        description="The 170 bairro polygons the dashboard's map draws "
        "(data/reference/SOURCES.md).",
    )
    cache_dir: Path = Field(
        Path(".cache"),
        description="Files a run can make again, kept to save seconds (the "
        "dashboard's JavaScript bundle); a relative path is inside the project.",
    )
    sources_dir: Path = Field(
        Path("sources"),
        description="Source mappings, one <name>.yaml per upstream system "
        "(README, 'Bring your own data'); a relative path is to the repo.",
    )
    incoming_dir: Path = Field(
        Path("incoming"),
        description="Watched folder for raw CSV drops (README, 'Watched folder'); "
        "a relative path is inside data_dir.",
    )
    processed_dir: Path = Field(
        Path("processed"),
        description="Ingested drops, one subfolder per local day; a relative "
        "path is inside data_dir.",
    )
    quarantine_dir: Path = Field(
        Path("quarantine"),
        description="Unusable files and rejected rows, each with its reason; a "
        "relative path is inside data_dir.",
    )
    models_dir: Path = Field(
        Path("models"),
        description="Trained risk models, one versioned file each; a relative "
        "path is inside data_dir.",
    )

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else REPO_ROOT / path

    def in_data(self, path: Path) -> Path:
        return path if path.is_absolute() else self.data_path / path

    @property
    def sources_path(self) -> Path:
        return self.resolve(self.sources_dir)

    @property
    def incoming_path(self) -> Path:
        return self.in_data(self.incoming_dir)

    @property
    def processed_path(self) -> Path:
        return self.in_data(self.processed_dir)

    @property
    def quarantine_path(self) -> Path:
        return self.in_data(self.quarantine_dir)

    @property
    def models_path(self) -> Path:
        return self.in_data(self.models_dir)

    @property
    def data_path(self) -> Path:
        return self.resolve(self.data_dir)

    @property
    def silver_csv(self) -> Path:
        return self.data_path / "silver_processed.csv"

    @property
    def gold_anomalies_csv(self) -> Path:
        return self.data_path / "gold_anomalies.csv"

    @property
    def gold_customer_csv(self) -> Path:
        return self.data_path / "gold_customer_risk.csv"

    @property
    def gold_bairro_daily_csv(self) -> Path:
        return self.data_path / "gold_bairro_daily.csv"

    @property
    def gold_sheets_csv(self) -> Path:
        return self.data_path / "gold_anomalies_sheets.csv"

    @property
    def cache_path(self) -> Path:
        return self.resolve(self.cache_dir)

    @property
    def dashboard_html(self) -> Path:
        return self.data_path / "dashboard.html"

    @property
    def dashboard_live_js(self) -> Path:
        """The small feed beside the page that its live mode polls."""
        return self.data_path / "dashboard-live.js"

    @property
    def detection_report_csv(self) -> Path:
        return self.data_path / "detection_report.csv"

    @property
    def detection_report_md(self) -> Path:
        return self.data_path / "detection_report.md"


# The longest synthetic period: a year, a leap one included.
GENERATOR_MAX_DAYS = 366


class GeneratorSettings(_Model):
    """Size and shape of the synthetic month (the Bronze source)."""

    seed: int = Field(42, ge=0, description="Same seed and settings, same bytes.")
    n_customers: int = Field(3_000, ge=1, le=5_000_000)
    n_merchants: int = Field(600, ge=1, le=1_000_000)
    chunk_customers: int = Field(
        20_000,
        ge=100,
        le=5_000_000,
        description="Customers generated and loaded at once: a bigger month is "
        "made in chunks of this many, each a town of its own (its own random "
        "stream; the month's merchants shared), so memory follows the chunk "
        "(about 1.3M rows, under 1 GiB), not the month. Above the 1M-row "
        "benchmark's 15,150 customers, so it and the default month are one chunk.",
    )
    days: int = Field(30, ge=1, le=GENERATOR_MAX_DAYS)
    start_date: date = Field(date(2026, 10, 1), description="First local day.")
    tx_per_customer_day: float = Field(
        2.2,
        gt=0,
        le=100,
        description="Mean non-cash payments per person per day (BCB, Q4 2024: "
        "about 790 a year).",
    )
    pix_share: float = Field(
        0.561,
        ge=0,
        le=1,
        description="Pix share by count; Febraban 2024: Pix 63.8 bi of 113.7 bi.",
    )
    credit_share: float = Field(0.174, ge=0, le=1, description="Credit 19.8 bi.")
    debit_share: float = Field(
        0.228, ge=0, le=1, description="Debit 16.7 bi + prepaid 9.2 bi."
    )
    boleto_share: float = Field(0.037, ge=0, le=1, description="Boleto 4.2 bi.")
    pix_pf_to_pf_share: float = Field(
        0.56, ge=0, le=1, description="PF to PF share of Pix (BCB, 06/09/2023)."
    )
    pix_pf_to_pj_share: float = Field(
        0.33, ge=0, le=1, description="PF to PJ share of Pix (BCB, Aug 2023)."
    )
    card_not_present_share: float = Field(
        0.2, ge=0, le=1, description="Share of card payments made online."
    )
    night_22h_share: float = Field(
        0.1, ge=0, le=1, description="Customers who moved the night start to 22h."
    )
    raised_night_limit_share: float = Field(
        0.08, ge=0, le=1, description="Customers who asked for a higher limit."
    )
    legit_max_speed_kmh: float = Field(
        35.0,
        gt=0,
        description="Fastest door-to-door pace of an ordinary day in the "
        "generator (Salvador trips take 40-70 % longer than free flow).",
    )
    jitter_max_km: float = Field(
        0.8, ge=0, le=2, description="Largest offset of a point from its centroid."
    )

    @model_validator(mode="after")
    def _shares_add_up(self) -> GeneratorSettings:
        channels = (
            self.pix_share + self.credit_share + self.debit_share + self.boleto_share
        )
        if abs(channels - 1.0) > 1e-6:
            raise ValueError(
                "pix_share + credit_share + debit_share + boleto_share must be 1, "
                f"got {channels:.4f}"
            )
        if self.pix_pf_to_pf_share + self.pix_pf_to_pj_share > 1.0:
            raise ValueError(
                "pix_pf_to_pf_share + pix_pf_to_pj_share must be at most 1"
            )
        return self


class FraudSettings(_Model):
    """Planted incidents, as the share of customers hit once in the period."""

    impossible_travel_rate: float = Field(
        0.01, ge=0, le=1, description="Cloned card used far away minutes later."
    )
    velocity_burst_rate: float = Field(
        0.005, ge=0, le=1, description="Account takeover: a burst of transfers."
    )
    amount_spike_rate: float = Field(
        0.01, ge=0, le=1, description="One payment far above the customer's own."
    )
    night_pix_limit_rate: float = Field(
        0.01, ge=0, le=1, description="Night PF to PF Pix over the running limit."
    )
    card_testing_rate: float = Field(
        0.005, ge=0, le=1, description="Run of tiny online card payments."
    )
    new_device_rate: float = Field(
        0.01, ge=0, le=1, description="Stolen phone: Pix over R$ 200 on day one."
    )
    structuring_rate: float = Field(
        0.01, ge=0, le=1, description="Night Pix kept just under the limit."
    )
    mule_rate: float = Field(
        0.003, ge=0, le=1, description="Mule accounts: fan-in, then pass-through."
    )
    first_time_payee_rate: float = Field(
        0.01, ge=0, le=1, description="Falsa central: outsized Pix to a stranger."
    )
    # Legitimate look-alikes (labelled is_fraud = 0), by default as frequent
    # as the fraud they resemble: without them precision measures nothing.
    lookalike_fast_trip_rate: float = Field(
        0.01, ge=0, le=1, description="A car to the airport at night (45-75 km/h)."
    )
    lookalike_big_purchase_rate: float = Field(
        0.01, ge=0, le=1, description="A one-off big purchase, card in hand."
    )
    lookalike_night_company_rate: float = Field(
        0.01, ge=0, le=1, description="Night Pix to a company or own account."
    )
    lookalike_new_payee_large_rate: float = Field(
        0.01, ge=0, le=1, description="Rent or a used car to a new payee."
    )
    lookalike_market_stall_rate: float = Field(
        0.002, ge=0, le=1, description="A stall paid by many new payers."
    )
    lookalike_new_phone_rate: float = Field(
        0.01, ge=0, le=1, description="A new phone, used normally."
    )


class RuleSettings(_Model):
    """Detection thresholds, bound into the SQL files as named parameters."""

    hop_min_distance_km: float = Field(
        3.0,
        gt=0,
        description="Below this a move stays inside a bairro and its neighbours "
        "(largest bairro radius is about 2 km).",
    )
    hop_max_speed_kmh: float = Field(
        80.0,
        gt=0,
        description="CTB art. 61: 80 km/h is the top urban limit (expressways); "
        "no door-to-door trip in Salvador averages more.",
    )
    velocity_window_seconds: int = Field(
        600, gt=0, description="Half-width of the burst window (either side)."
    )
    velocity_min_count: int = Field(
        5, ge=2, description="Transactions inside the window that make a burst."
    )
    spike_history_rows: int = Field(
        20, ge=1, description="Previous transactions that form the baseline."
    )
    spike_min_history: int = Field(
        5, ge=1, description="Fewer previous transactions: no baseline, no flag."
    )
    spike_ratio: float = Field(
        8.0, gt=1, description="Amount over the rolling average that is a spike."
    )
    spike_min_amount_cents: int = Field(
        100_000, ge=0, description="Spikes below R$ 1.000 are not worth a case."
    )
    spike_device_max_age_seconds: int = Field(
        7 * 86_400,
        ge=0,
        description="A spike counts only from a device younger than this.",
    )
    night_start_hour_default: int = Field(
        20, ge=0, le=23, description="Res. BCB 142/2021: night runs 20h-6h."
    )
    night_end_hour: int = Field(6, ge=0, le=23, description="Res. BCB 142/2021.")
    night_limit_cents_default: int = Field(
        100_000,
        ge=0,
        description="Res. BCB 142/2021: R$ 1.000 running total of PF to PF Pix.",
    )
    card_testing_max_cents: int = Field(
        500, ge=1, description="Card-testing probes are cents to a few reais."
    )
    card_testing_window_seconds: int = Field(
        1800, gt=0, description="Half-width of the card-testing window."
    )
    card_testing_min_probes: int = Field(
        3, ge=2, description="Tiny online card payments that make a run."
    )
    new_device_window_seconds: int = Field(
        86_400, gt=0, description="Res. BCB 403/2024: a device's first day."
    )
    new_device_max_tx_cents: int = Field(
        20_000, ge=0, description="Res. BCB 403/2024: R$ 200 per transaction."
    )
    new_device_max_day_cents: int = Field(
        100_000, ge=0, description="Res. BCB 403/2024: R$ 1.000 per day."
    )
    device_history_min_seconds: int = Field(
        30 * 86_400,
        gt=0,
        description="Where a source gives no device_first_seen_at, a device's "
        "first row in the warehouse is its first use only if the warehouse saw "
        "the customer this long before it (otherwise the first use is not known "
        "yet, and the device-age rules do not judge its first days). The "
        "customer's last 30 days, as the features' month (handbook): a phone "
        "in use for Pix shows up in a month of a customer's payments. Chosen, "
        "not measured: Res. BCB 403/2024 does not say how far back a bank must "
        "look.",
    )
    structuring_min_transfers: int = Field(
        3, ge=2, description="Night PF to PF Pix that make a pattern."
    )
    structuring_min_share: float = Field(
        0.9,
        gt=0,
        le=1,
        description="Night total at or above this share of the limit, not over.",
    )
    fan_in_window_seconds: int = Field(
        3_600, gt=0, description="Fan-in window (the fact sheet: an hour)."
    )
    fan_in_min_new_payers: int = Field(
        5, ge=2, description="Payers who never paid this payee before."
    )
    fan_in_min_total_cents: int = Field(
        200_000,
        ge=0,
        description="What they sent in the window; a market stall's many small "
        "payments stay below it.",
    )
    pass_through_window_seconds: int = Field(
        3_600,
        gt=0,
        description="Inflows in the hour before an outgoing Pix (and the "
        "account's outflows an hour either side) are compared.",
    )
    pass_through_min_share: float = Field(
        0.8, gt=0, le=1, description="Share of the recent inflow sent on."
    )
    pass_through_min_inflow_cents: int = Field(
        100_000, ge=0, description="Ignore small inflows (R$ 1.000)."
    )
    first_payee_ratio: float = Field(
        10.0, gt=1, description="Amount over the payer's Pix average."
    )
    first_payee_min_cents: int = Field(
        100_000, ge=0, description="Outsized means at least R$ 1.000."
    )
    first_payee_min_history: int = Field(
        5, ge=1, description="Previous Pix needed for a baseline."
    )
    first_payee_window_seconds: int = Field(
        86_400, gt=0, description="Window for the payee's other new payers."
    )
    first_payee_min_payers: int = Field(
        2,
        ge=1,
        description="Outsized first payments the payee collects in the window: "
        "a gang's mule gets several, a landlord one.",
    )
    utc_offset_seconds: int = Field(
        -10_800,
        description="America/Bahia is UTC-3 with no daylight saving since 2012.",
    )


# One weight per rule, ``weight_<rule>``, made from the rules' entries (the
# default and why it is what it is live there): a new rule gets its setting
# from its entry.
RuleWeights = create_model(
    "RuleWeights",
    __base__=_Model,
    __doc__="Points each rule adds to the Gold risk score when it fires.",
    **{
        f"weight_{rule.name}": (
            int,
            Field(rule.weight, ge=0, le=100, description=rule.weight_why),
        )
        for rule in DETECTION_RULES
    },
)


class RiskSettings(RuleWeights):
    """Gold risk score: points per rule, context bonuses and level cut-offs."""

    bonus_new_device: int = Field(
        10,
        ge=0,
        le=100,
        description="A flagged payment from a device first seen less than "
        "new_device_seconds before.",
    )
    new_device_seconds: int = Field(
        86_400,
        gt=0,
        description="A device first seen (its first use known) less than this "
        "before a payment is new: the payment earns bonus_new_device when a "
        "rule flagged it, and the anomaly score counts it as context. A day, "
        "the new-device rule's window (rules.new_device_window_seconds, Res. "
        "BCB 403/2024: a device's first day).",
    )
    bonus_recent_flag: int = Field(
        10,
        ge=0,
        le=100,
        description="A flagged payment of a customer flagged at most "
        "recent_flag_seconds before.",
    )
    recent_flag_seconds: int = Field(
        86_400,
        gt=0,
        description="How long after a customer's flag another flag earns "
        "bonus_recent_flag: a day, as for a new device (new_device_seconds), "
        "the span in which a stolen card or a taken-over account is worked. "
        "Chosen, not measured.",
    )
    level_critical: int = Field(80, ge=0, le=100)
    level_high: int = Field(60, ge=0, le=100)
    level_medium: int = Field(40, ge=0, le=100)
    top_anomalies: int = Field(
        20, ge=1, le=1000, description="Rows in the Prefect top-anomalies table."
    )
    # The anomaly score: what Gold says of a row without labels, from the
    # customer-relative features (sql/gold/gold_transaction_risk.sql). Chosen
    # on the Salvador month and Sparkov's January-September only, never on a
    # held-back period (README, "The anomaly score").
    anomaly_min_history: int = Field(
        5,
        ge=1,
        description="Earlier payments a customer needs before the score judges "
        "them, as for the spike rule (rules.spike_min_history): no history, "
        "no anomaly.",
    )
    anomaly_amount_ratio: float = Field(
        3.0,
        gt=1,
        description="Amount over the customer's typical (geometric-mean) amount "
        "from which it counts: about halfway to the spike rule's 8x "
        "(rules.spike_ratio) in log terms, so the score grades what the rule's "
        "all-or-nothing cut leaves out.",
    )
    anomaly_day_ratio: float = Field(
        3.0,
        gt=1,
        description="Last 24 h's spending over the customer's usual day from "
        "which it counts: a stolen card is emptied in a day, a salary day "
        "rarely triples the usual.",
    )
    anomaly_burst_count: int = Field(
        4,
        ge=2,
        description="Payments within the hour (this one included) from which "
        "a burst counts; one below the velocity rule's 5 within ten minutes "
        "(rules.velocity_min_count), over a whole hour.",
    )
    anomaly_night_share_max: float = Field(
        0.1,
        ge=0,
        le=1,
        description="A night payment (Res. BCB 142/2021 hours) counts as an "
        "unusual hour for a customer who paid at night less often than this "
        "before.",
    )
    anomaly_rare_hour_share: float = Field(
        0.02,
        ge=0,
        le=1,
        description="For a payment with no customer (a source that names "
        "none), an unusual hour is one its file has less than this share of "
        "payments at: under half of an even spread over 24 hours.",
    )
    anomaly_points_per_doubling: int = Field(
        4,
        ge=0,
        le=100,
        description="Points for every doubling of a signal above its threshold "
        "(a piece of context counts one doubling): 8x the typical amount is "
        "12 points; an alert (level_medium, 40) takes ten doublings, about the "
        "rarest 0.1 % of the Salvador month's rows, a few a day, well inside "
        "the daily alert budget (model.alerts_per_day).",
    )
    anomaly_max_points: int = Field(
        44,
        ge=0,
        le=100,
        description="Ceiling of the anomaly score: below the lightest rule "
        "weight (45), so every row a rule flagged ranks above every row that is "
        "only unusual (a rule names a fraud pattern, an anomaly only says "
        "'not like this customer'), and an anomaly alone is at most a medium "
        "alert.",
    )

    @model_validator(mode="after")
    def _levels_ordered(self) -> RiskSettings:
        if not self.level_medium <= self.level_high <= self.level_critical:
            raise ValueError("level_medium <= level_high <= level_critical")
        return self


class FeatureSettings(_Model):
    """Windows of the customer-relative features the risk model learns from
    (sql/silver/silver_customer_features.sql). Only rows before the current
    one feed them; the defaults are the fraud-detection handbook's baseline
    windows (../shared/reference/model-evaluation.md: counts and mean
    amounts over the last 1, 7 and 30 days) plus the hour a burst lives in."""

    feature_hour_seconds: int = Field(
        3_600, gt=0, description="Short burst window: counts and sums of the last hour."
    )
    feature_day_seconds: int = Field(
        86_400, gt=0, description="Handbook: the customer's last day."
    )
    feature_week_seconds: int = Field(
        7 * 86_400, gt=0, description="Handbook: the customer's last 7 days."
    )
    feature_month_seconds: int = Field(
        30 * 86_400, gt=0, description="Handbook: the customer's last 30 days."
    )


class ModelCandidate(_Model):
    """One set of boosting settings the training search tries; a field left
    None keeps the model section's own value."""

    num_leaves: int | None = Field(None, ge=2, le=4096)
    min_child_samples: int | None = Field(None, ge=1)
    l2_regularization: float | None = Field(None, ge=0)
    feature_fraction: float | None = Field(None, gt=0, le=1)

    def overrides(self) -> dict[str, Any]:
        """The model settings this candidate changes."""
        return self.model_dump(exclude_none=True)


# Each one a question a modeller asks of any labelled source, not of one
# file: are the default trees right (as configured), would shallower ones
# generalise better from a few hundred fraud rows (and score faster), does
# a large source carry more interactions than 31 leaves hold (with bigger
# leaves, so they stay patterns), and do many correlated window features
# want trees that each see a part of them.
DEFAULT_SEARCH: tuple[ModelCandidate, ...] = (
    ModelCandidate(),
    ModelCandidate(num_leaves=15),
    ModelCandidate(num_leaves=63, min_child_samples=100),
    ModelCandidate(feature_fraction=0.7),
)


def evaluation_start_from(text: str) -> date | datetime:
    """``model.evaluation_start`` as written: a date (``2013-09-02``, its
    local midnight) or a date-time (``2013-09-02T12:00``, on the local clock
    unless it carries an offset). The two are told apart by how they are
    written, not by whether the time is midnight: a date stays a date in
    the model file and in the Prefect UI."""
    text = text.strip()
    try:
        return (
            date.fromisoformat(text)
            if len(text) == 10
            else datetime.fromisoformat(text)
        )
    except ValueError:
        raise ValueError(
            f"evaluation start {text!r}: expected a date (YYYY-MM-DD) or a local "
            "date-time (YYYY-MM-DDTHH:MM, optionally with an offset such as -03:00)"
        ) from None


class ModelSettings(_Model):
    """The risk model: which labels it learns from, how it is split in time
    and how hard it trains (flows/train.py). Defaults follow the fraud
    detection handbook (../shared/reference/model-evaluation.md): train on an
    earlier period, leave a delay for labels still on their way, judge on a
    later one."""

    label_source: Literal["reported", "synthetic", "all"] = Field(
        "all",
        description="The detection report's label sets: reported (reported "
        "fraud, for rows not generated), synthetic (the planted ground truth of "
        "generated rows), or all of them.",
    )
    evaluation_start: datetime | date | None = Field(
        None,
        description="Start of the held-back evaluation period: a date (from its "
        "local midnight) or a date-time (2013-09-02T12:00, on the local clock, "
        "rules.utc_offset_seconds, unless it carries an offset). None: the last "
        "evaluation_share of the labelled span, from a local midnight, or from "
        "a local hour where the span is too short for whole days "
        "(ssa/risk/risk_model.py, time_split).",
    )
    evaluation_share: float = Field(
        0.25,
        gt=0,
        lt=1,
        description="Share of the labelled time span held back for evaluation "
        "when evaluation_start is not given (a year: the last three months, "
        "as the development set's README splits it).",
    )
    delay_days: float = Field(
        7.0,
        ge=0,
        le=366,
        description="Handbook: a week between training and evaluation, for the "
        "labels that were not reported yet when the model was trained. A "
        "labelled span too short for it (a two-day export) is refused with the "
        "delay that would fit; a fraction is part of a day (0.25: six hours).",
    )
    calibration_share: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Latest share of the training window kept apart to stop the "
        "boosting and to calibrate its probabilities (time-ordered too).",
    )
    min_lift: float = Field(
        2.0,
        gt=0,
        description="A held-back PR-AUC under this many times the prevalence "
        "(what ranking at random gets) is said as a warning: the model then "
        "ranks about as chance does, and the features do not tell this fraud "
        "apart (a source's own signal may need declaring as features).",
    )
    min_fraud_rows: int = Field(
        20,
        ge=1,
        description="Fewer fraud labels in a window than this: no model, an error "
        "that says how many there were.",
    )
    unreported_legitimate_after_days: float | None = Field(
        None,
        ge=0,
        description="Chargeback and MED files list fraud only. When set, an "
        "ingested transaction this many days older than the warehouse's latest "
        "one, with no report, counts as legitimate for training and the "
        "detection report ('reported' label set): the window in which a fraud "
        "would have been reported has passed; newer ones are not judged, "
        "reported or not. None: only labelled rows count.",
    )
    min_legitimate_rows: int = Field(
        20,
        ge=1,
        description="Fewer legitimate labels in the training or calibration window "
        "than this: no model. A chargeback or MED file lists fraud only; a model "
        "fitted on it calls every payment fraud.",
    )
    learning_rate: float = Field(
        0.1,
        gt=0,
        le=1,
        description="LightGBM default; boosting stops early on the calibration window.",
    )
    legit_row_share: float = Field(
        0.1,
        gt=0,
        le=1,
        description="Share of the legitimate rows each boosting round samples "
        "(every fraud row is kept): at 1 % prevalence the rest add time, not "
        "signal; the calibration, on every row, puts the probabilities back on "
        "the real scale.",
    )
    l2_regularization: float = Field(
        1.0,
        ge=0,
        description="LightGBM lambda_l2 (default 0): rows a rule already singles "
        "out are nearly separable, and without it their leaves grow without "
        "bound until probabilities saturate and ties ruin the ranking.",
    )
    max_delta_step: float = Field(
        1.0,
        ge=0,
        description="Largest change of a leaf's log-odds in one round (0: no "
        "limit); XGBoost's advice for imbalanced logistic regression, 1-10.",
    )
    max_bins: int = Field(
        63,
        ge=4,
        le=1023,
        description="Histogram bins per feature (LightGBM default 255): 63 trains "
        "about twice as fast, LightGBM's own advice where speed matters.",
    )
    num_leaves: int = Field(31, ge=2, le=4096, description="LightGBM default.")
    feature_fraction: float = Field(
        1.0,
        gt=0,
        le=1,
        description="Share of the features each tree may split on (LightGBM "
        "default 1: all of them).",
    )
    search: tuple[ModelCandidate, ...] = Field(
        DEFAULT_SEARCH,
        description="Boosting settings tried before the model is fitted, each "
        "judged by its average precision on the calibration window (inside "
        "the training period, never the evaluation one); empty: no search, "
        "the settings as they are.",
    )
    search_tolerance_se: float = Field(
        1.0,
        ge=0,
        description="Candidates within this many standard errors of the best "
        "one's calibration-window average precision are the same within "
        "noise: the smallest of them (fewest leaves in all, the cheapest to "
        "score) is chosen. One standard error: the usual one-SE rule.",
    )
    min_child_samples: int = Field(
        50,
        ge=1,
        description="Rows a leaf needs (LightGBM default 20): at 1 % prevalence a "
        "leaf of 20 can hold a single fraud episode.",
    )
    max_rounds: int = Field(
        400, ge=1, le=10_000, description="Boosting rounds at most."
    )
    early_stopping_rounds: int = Field(
        40,
        ge=1,
        description="Stop when the calibration window's average precision has "
        "not improved by early_stopping_min_gain for this many rounds.",
    )
    early_stopping_min_gain: float = Field(
        5e-4,
        ge=0,
        le=0.1,
        description="Gains in average precision smaller than this do not count: "
        "past them more rounds cost time and buy noise.",
    )
    seed: int = Field(42, ge=0, description="Same data and settings, same model.")
    alerts_per_day: int = Field(
        100,
        ge=1,
        description="Handbook: the k alerts investigators can check in a day, for "
        "precision top-k per day and recall at that budget.",
    )
    model_file: Path | None = Field(
        None,
        description="Score with this model file; None: the newest version in "
        "paths.models_dir.",
    )

    @field_validator("evaluation_start", mode="before")
    @classmethod
    def _evaluation_start_as_written(cls, value: Any) -> Any:
        return evaluation_start_from(value) if isinstance(value, str) else value


class EvaluationSettings(_Model):
    """How the detection report weighs what it measured."""

    real_fraud_prevalence: float = Field(
        7e-5,
        gt=0,
        lt=1,
        description="Real Pix fraud is 6-8 per 100,000 transactions (BCB via "
        "press, 2025): precision is also shown reweighted to this rate.",
    )
    top_k: tuple[int, ...] = Field(
        (100, 1000), description="Cut-offs for the risk score's precision at k."
    )
    baseline_amount_quantile: float = Field(
        0.99,
        gt=0,
        lt=1,
        description="Baseline 'amount above the 99th percentile': the first rule "
        "a fraud team writes; a score should beat it "
        "(../shared/reference/model-evaluation.md).",
    )
    baseline_median_ratio: float = Field(
        5.0,
        gt=1,
        description="Baseline 'amount over 5x the customer's running median' of "
        "their earlier payments.",
    )
    baseline_min_history: int = Field(
        3,
        ge=1,
        description="Earlier payments a customer needs before the median "
        "baseline judges them.",
    )


class RegionSettings(_Model):
    """Where the pipeline's places are: a rectangle around the metropolitan
    region. A point outside it gets no bairro, and the rules that compare
    places (impossible travel) do not judge it: a card used abroad or in
    another state is not a Salvador trip."""

    lat_min: float = Field(
        -13.25,
        ge=-90,
        le=90,
        description="South edge. Rectangle around the 13 municipalities of the "
        "Região Metropolitana de Salvador (Vera Cruz to Mata de São João), "
        "rounded outward; Salvador's own 170 bairros span -13.02 to -12.74 "
        "(data/reference polygons).",
    )
    lat_max: float = Field(-12.20, ge=-90, le=90, description="North edge.")
    lon_min: float = Field(
        -38.90,
        ge=-180,
        le=180,
        description="West edge; the bairros span -38.66 to -38.30.",
    )
    lon_max: float = Field(-37.85, ge=-180, le=180, description="East edge.")

    @model_validator(mode="after")
    def _ordered(self) -> RegionSettings:
        if not (self.lat_min < self.lat_max and self.lon_min < self.lon_max):
            raise ValueError("lat_min < lat_max and lon_min < lon_max")
        return self

    def contains(self, lat: Any, lon: Any) -> Any:
        """Inside the rectangle; works on floats and on pandas/numpy arrays."""
        return (
            (lat >= self.lat_min)
            & (lat <= self.lat_max)
            & (lon >= self.lon_min)
            & (lon <= self.lon_max)
        )


class LimitSettings(_Model):
    """What a row may hold and still be taken for a real payment. Above or
    outside these a value that parses is an export fault (a placeholder
    date, a slipped decimal, a swapped pair), and the row is rejected with
    its reason instead of reaching Gold as if it were real."""

    max_pix_cents: int = Field(
        1_000_000_000,
        gt=0,
        description="Sanity bound, not a rule: Pix has no maximum set by the "
        "Banco Central (each institution sets its own limits, Res. BCB 1/2020), "
        "so R$ 10.000.000,00 is a bound no retail or small-business Pix "
        "reaches, far below the R$ 999.999.999.999,99 of a broken export; "
        "raise it for corporate treasury data.",
    )
    max_credit_cents: int = Field(
        100_000_000,
        gt=0,
        description="Sanity bound: R$ 1.000.000,00, above the credit limit of "
        "the highest personal card tiers; a larger single card payment is an "
        "export fault.",
    )
    max_debit_cents: int = Field(
        100_000_000,
        gt=0,
        description="Sanity bound: R$ 1.000.000,00, as for credit (a debit is "
        "also capped by the account's balance and daily limit).",
    )
    max_boleto_cents: int = Field(
        9_999_999_999,
        gt=0,
        description="R$ 99.999.999,99: the boleto bar code (Febraban layout, 44 "
        "digits) carries the amount in 10 digits, 2 of them centavos.",
    )
    min_created_at: date = Field(
        date(1994, 7, 1),
        description="The real (R$) became Brazil's currency on 1 July 1994 "
        "(Plano Real, Lei 9.069/1995): an amount in reais is not older. Also "
        "the floor for device_first_seen_at.",
    )
    pix_first_day: date = Field(
        date(2020, 11, 3),
        description="Pix began operating on 3 November 2020 (restricted launch; "
        "open to all on 16 November, BCB): no Pix is older.",
    )
    future_tolerance_seconds: int = Field(
        86_400,
        ge=0,
        le=7 * 86_400,
        description="How far past the moment a file is read its times may lie: a "
        "naive local time from the far east (UTC+14) read as Salvador time "
        "(UTC-3) is 17 h ahead, plus clock drift; a day covers both.",
    )
    period_half_width_days: int = Field(
        366,
        ge=1,
        le=36_600,
        description="A row whose created_at is more than this from the median "
        "time of its file's rows is a typo (2016 for 2026, a 1999-12-31 "
        "placeholder). The median is the file's robust centre: a file spanning "
        "up to a year (a bank's yearly export, the Sparkov 2021 dev set) has "
        "every row within a year of it, however its rows are spread.",
    )

    def max_cents(self) -> dict[str, int]:
        """The ceiling of each channel, by the contract's channel name."""
        return {
            "pix": self.max_pix_cents,
            "credit": self.max_credit_cents,
            "debit": self.max_debit_cents,
            "boleto": self.max_boleto_cents,
        }


class SimulationSettings(_Model):
    """The live simulator: how fast the generator's stream is played into the
    watched folder, and in what pieces (``python -m flows.simulate``)."""

    rate: float | None = Field(
        100.0,
        gt=0,
        le=100_000,
        description="Mean transactions per wall second over a simulated week; "
        "the clock runs as fast as that needs for the generator's customers "
        "(the rhythm of the day makes noon busier and the night quieter). "
        "100/s is a busy demo a laptop watcher keeps up with; give speed "
        "instead to fix the clock.",
    )
    speed: float | None = Field(
        None,
        gt=0,
        le=10_000_000,
        description="Simulated seconds per wall second (60: an hour a minute); "
        "when given, the rate follows from the customers' rhythm instead.",
    )
    duration_seconds: float | None = Field(
        None,
        gt=0,
        description="Wall seconds to run; unset: until SIGINT or SIGTERM.",
    )
    batch_interval_seconds: float = Field(
        1.0,
        ge=0.05,
        le=3600,
        description="Wall seconds of payments per micro-batch file: a second "
        "keeps a file's wait well under the watcher's own refresh, and files "
        "few enough (one a second) that per-file overhead stays small.",
    )
    start: date | None = Field(
        None,
        description="First simulated local day; unset: the day after the "
        "generator's month, so the stream adds history to the customers "
        "Silver already knows.",
    )
    chunk_days: int = Field(
        28,
        ge=7,
        le=366,
        description="Simulated days drawn from the generator at a time (its "
        "planters need a week at least; four weeks cost 0.6 s on 3,000 "
        "customers and keep weekly rhythm and monthly fraud mix).",
    )

    @model_validator(mode="before")
    @classmethod
    def _speed_replaces_rate(cls, data: Any) -> Any:
        """Giving speed alone means: the clock is fixed, the rate follows."""
        speed_alone = isinstance(data, dict) and "rate" not in data
        if speed_alone and data.get("speed") is not None:
            return {**data, "rate": None}
        return data

    @model_validator(mode="after")
    def _rate_or_speed(self) -> SimulationSettings:
        if (self.rate is None) == (self.speed is None):
            raise ValueError("give exactly one of rate and speed")
        return self


class IngestSettings(_Model):
    """Watched-folder ingestion: when a drop is complete, when Gold refreshes."""

    incremental_max_customer_share: float = Field(
        0.4,
        ge=0,
        le=1,
        description="A drop touching more of the customers than this gets the "
        "full parallel rebuild instead (bench/drop_refresh.py, 1M rows: "
        "Silver and Gold for a drop touching 4.3 % of the customers took 2.5 s, "
        "25 % took 15.3 s, a full rebuild 27 s; the two meet near 45 %).",
    )

    stable_seconds: float = Field(
        1.0,
        ge=0,
        le=600,
        description="A file written in place is read once its size and mtime "
        "have not changed for this long; a file renamed into the folder (the "
        "atomic drop convention) is read at once.",
    )
    poll_seconds: float = Field(
        0.2,
        gt=0,
        le=60,
        description="How often files still being written are looked at again.",
    )
    debounce_seconds: float = Field(
        0.25,
        ge=0,
        le=600,
        description="After the folder goes quiet, wait this long for more files "
        "before one Silver/Gold refresh (a burst of drops, one refresh: the "
        "watcher only starts waiting once it has read every file there, so a "
        "burst copied in at once is one refresh even with a short wait).",
    )
    max_refresh_delay_seconds: float = Field(
        60.0,
        gt=0,
        le=86_400,
        description="Refresh anyway once loaded rows have waited this long, even "
        "if a slow file is still being written.",
    )
    rescan_seconds: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="List the folder this often as well: inotify drops events "
        "when its queue overflows, and network shares (NFS, SMB) send none.",
    )
    retry_seconds: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="Wait before retrying a file or a refresh that failed on "
        "I/O (warehouse locked, disk full); the file stays in the folder.",
    )


class ExportSettings(_Model):
    """What leaves the warehouse for people: spreadsheets and the dashboard."""

    mask_customer_names: bool = Field(
        True,
        description="LGPD (Lei 13.709/2018, art. 6, III: only the data "
        "needed): exports and the dashboard show 'André M. C.' instead of the "
        "full name, as the CPF is shown masked. Turn off only where the "
        "readers may see who the customer is.",
    )
    dashboard_top_rows: int = Field(
        50,
        ge=1,
        le=1000,
        description="Riskiest transactions listed on the dashboard.",
    )
    dashboard_arrival_rows: int = Field(
        10,
        ge=1,
        le=200,
        description="Latest files from the watched folder listed on the "
        "dashboard ('Chegando agora'): a screen's height.",
    )
    dashboard_live_poll_seconds: float = Field(
        2.0,
        ge=0.5,
        le=60,
        description="How often the page opened as dashboard.html#ao-vivo "
        "reads the feed beside it: a refresh after a drop takes a few seconds, "
        "so 2 s shows each one soon after it ends.",
    )
    dashboard_live_reload_seconds: float = Field(
        20.0,
        ge=0,
        le=3600,
        description="Live mode redraws the map and charts (a page reload) at "
        "most this often; the headline figures and the latest files change "
        "in place at every refresh. Under a stream a refresh ends every few "
        "seconds, too often to read a map that redraws.",
    )


class SparkLocalSettings(_Model):
    """The Spark Connect server the project starts itself when no
    ``engines.spark_remote`` is given (ssa/engines/spark_server.py)."""

    cores: int = Field(
        2,
        ge=1,
        le=256,
        description="Worker threads of the local server (local[N]); 2 is a "
        "small laptop's cores, Spark's per-core tasks leave the rest idle.",
    )
    driver_memory: str = Field(
        "2g",
        pattern=r"^[0-9]+[kmgt]$",
        description="JVM heap of the local server (spark.driver.memory): the "
        "default month's window sorts run in 2 GiB; raise it with the month.",
    )
    start_timeout_seconds: float = Field(
        180.0,
        gt=0,
        description="How long to wait for the local server to answer: a JVM "
        "start takes 10-20 s on a busy 2-core machine; this allows for a "
        "cold disk cache.",
    )


class EngineSettings(_Model):
    """Where an engine is and how it may use the machine (the engine itself
    is ``engine``): DuckDB's limits, the Spark cluster's address or the
    local Spark server's size."""

    duckdb_memory_limit: str | None = Field(
        None,
        pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB's memory_limit, such as '6GiB' (None: DuckDB's "
        "own default, 80 % of RAM); past it DuckDB spills to disk.",
    )
    duckdb_threads: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="DuckDB's threads (None: one per core).",
    )
    spark_remote: str | None = Field(
        None,
        pattern=r"^sc://",
        description="Spark Connect address of a cluster (sc://host:15002, "
        "with ;token=... where the cluster wants one; docs/spark.md). None: "
        "start a local server for the run and stop it after.",
    )
    spark_schema: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$",
        description="Schema (or catalog.schema) the Spark tables live in, "
        "created if missing, e.g. hive_metastore.ssa on Databricks "
        "(docs/spark.md). None: the session's current schema.",
    )
    spark_local: SparkLocalSettings = SparkLocalSettings()


class Settings(_Model):
    """Everything a run needs; build it once at the entry point and pass it down."""

    engine: EngineName = Field(
        DEFAULT_ENGINE,
        description="Warehouse engine. sqlite: data/ssa.db, embedded. duckdb: "
        "ssa.duckdb in its own data folder (data/duckdb unless paths.data_dir "
        "is given), embedded, the same SQL files several times faster on big "
        "months (README, 'Speed'). spark: Parquet tables of a Spark warehouse "
        "through Spark Connect (engines.spark_remote, or a local server the run "
        "starts; data/spark unless paths.data_dir is given; docs/spark.md).",
    )
    engines: EngineSettings = EngineSettings()
    paths: PathSettings = PathSettings()
    generator: GeneratorSettings = GeneratorSettings()
    simulation: SimulationSettings = SimulationSettings()
    fraud: FraudSettings = FraudSettings()
    rules: RuleSettings = RuleSettings()
    region: RegionSettings = RegionSettings()
    limits: LimitSettings = LimitSettings()
    risk: RiskSettings = RiskSettings()
    features: FeatureSettings = FeatureSettings()
    model: ModelSettings = ModelSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    ingest: IngestSettings = IngestSettings()
    exports: ExportSettings = ExportSettings()

    @model_validator(mode="before")
    @classmethod
    def _engine_gets_its_own_folder(cls, data: Any) -> Any:
        """An engine with a folder of its own (DuckDB: data/duckdb) writes
        there when given no data folder: one engine per data folder (all
        write the same export files), so `--engine duckdb` works beside the
        SQLite month in data/."""
        if isinstance(data, dict) and data.get("engine") in OWN_DATA_DIR:
            paths = data.get("paths") or {}
            if isinstance(paths, dict) and "data_dir" not in paths:
                own = OWN_DATA_DIR[data["engine"]]
                return {**data, "paths": {**paths, "data_dir": own}}
        return data

    @property
    def warehouse_path(self) -> Path:
        """The warehouse of the chosen engine: a file for SQLite and DuckDB;
        for Spark the local server's folder (its tables, log and scratch),
        unused with engines.spark_remote, whose cluster keeps the tables."""
        folder = WAREHOUSE_FOLDER.get(self.engine)
        if folder is not None:
            return self.paths.data_path / folder
        path = self.paths.data_path / self.paths.warehouse_file
        suffix = WAREHOUSE_SUFFIX.get(self.engine)
        return path.with_suffix(suffix) if suffix else path


def with_groups(
    settings: Settings | Mapping[str, Any] | None, **groups: Any
) -> Settings:
    """``settings`` (or the defaults) with whole groups replaced by those given.

    A flow's form shows a few groups (the daily run: generator, paths,
    engine) and keeps the rest in an optional ``settings``; this puts them
    back into one object. Only the values a user set are kept, so a DuckDB
    run without a data folder still gets its own (data/duckdb).
    """
    if all(value is None for value in groups.values()) and isinstance(
        settings, Settings
    ):
        return settings
    if isinstance(settings, Settings):
        data: dict[str, Any] = settings.model_dump(exclude_unset=True)
    else:
        data = dict(settings or {})
    for name, value in groups.items():
        if value is None:
            continue
        if name in data:
            raise ValueError(
                f"{name} given twice, as a parameter and inside settings: give "
                f"it once, as the {name} parameter"
            )
        data[name] = (
            value.model_dump(exclude_unset=True)
            if isinstance(value, BaseModel)
            else value
        )
    return Settings.model_validate(data)


def local_now(settings: Settings) -> datetime:
    """Now on Salvador's clock (the rules' UTC offset), for names and pages."""
    offset = settings.rules.utc_offset_seconds
    return (datetime.now(UTC) + timedelta(seconds=offset)).replace(tzinfo=None)


def label_params(settings: Settings) -> dict[str, object]:
    """What the label files bind (sql/macros/labels.sql): whether reports
    are taken as complete for the older payments, and from how old."""
    days = settings.model.unreported_legitimate_after_days
    return {
        "settle_unreported": 0 if days is None else 1,
        "unreported_legitimate_after_seconds": round((days or 0) * 86_400),
    }


def sql_params(settings: Settings) -> dict[str, object]:
    """Every threshold a model may bind, from the one settings object."""
    region = {f"region_{k}": v for k, v in settings.region.model_dump().items()}
    return {
        **settings.rules.model_dump(),
        **settings.risk.model_dump(),
        **settings.features.model_dump(),
        **region,
        **label_params(settings),
    }
