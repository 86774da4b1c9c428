"""The detection rules: one entry each, in the order of their default strength.

Everything the project knows about a rule beyond its SQL lives in its
entry: the Silver model that flags it (with how a refresh recomputes it),
the features it carries into Silver for its reason, its default weight in
the Gold score and why, the sentence it explains a row with (in English for
the exports, in Portuguese for the dashboard), and what it needs to judge a
row (the detection report's coverage table). The SQL that fans out over the
rules (``silver_rule_flags``, ``silver_transactions``, the Gold models, the
evaluation and the model's features) loops over these entries as Jinja
templates (``ssa/engines/base.py`` renders them), and RiskSettings makes one
``weight_<name>`` field per entry. Adding a rule is its SQL file and one
entry here (README, "Add a rule").

The name ties the pieces together: the Silver flag column ``is_<name>``, the
planted scenario of the same name (``ssa/generator/scenarios.py``), the
setting ``risk.weight_<name>`` and the order of ``anomaly_flag`` (the
strongest rule that fired names the row).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ssa.model_spec import (
    BY_ACCOUNT,
    BY_ACCOUNT_PAYING,
    BY_CUSTOMER,
    BY_DEVICE,
    BY_ID,
    BY_PAYEE,
    CUSTOMERS,
    Model,
    Partition,
)

Scope = Literal["all", "pix", "card", "in_person"]

# What each scope says in the coverage table, and the column of its totals
# (sql/gold/rule_coverage.sql) that counts the rows it applies to.
SCOPES: dict[str, tuple[str, str]] = {
    "all": ("all rows", "all_rows"),
    "pix": ("Pix rows", "pix_rows"),
    "card": ("card rows (credit, debit)", "card_rows"),
    "in_person": ("in-person rows (not online card payments)", "in_person_rows"),
}


@dataclass(frozen=True)
class Rule:
    """One detection rule.

    ``model``: the Silver model that flags it. A *sparse* rule's model holds
    only the rows it flagged (with ``flag_column`` 1 and the ``carries``
    features) and reaches silver_transactions through silver_rule_flags, one
    join for all of them; a dense one (``sparse=False``) has a row for every
    transaction it judged and is joined on its own. No model: the rule is a
    condition on the customer windows, written in silver_transactions.

    ``scope`` and ``needs``: the rows the rule applies to, and the fields
    it cannot judge a row without (each with a gap column, ``no_<field>``,
    in rule_coverage.sql): a row in scope that lacks any is not judged, and
    the report names the ones a file lacked, not all the rule reads. A rule
    that compares a payment with the customer's others needs
    ``customer_id``: a source with no customer (``customers: none``) leaves
    it empty.

    ``warm_up``: for a rule that tests a device's age, the parameter with
    the age it tests, in seconds. Where a device's first use is derived and
    not known yet (silver_device_first_use.sql), the rows younger than that
    are not judged, and the coverage table says why.
    """

    name: str
    weight: int
    weight_why: str
    label_pt: str
    reason: str
    reason_pt: str
    scope: Scope
    needs: tuple[str, ...]
    model: Model | None = None
    sparse: bool = True
    flag_column: str = ""
    carries: tuple[str, ...] = ()
    warm_up: str | None = None

    @property
    def flag(self) -> str:
        """The model's column that says the rule fired."""
        return self.flag_column or f"is_{self.name}"

    @property
    def table(self) -> str | None:
        return self.model.table if self.model else None

    @property
    def applies_to(self) -> str:
        return SCOPES[self.scope][0]

    @property
    def rows_column(self) -> str:
        return SCOPES[self.scope][1]

    @property
    def need_columns(self) -> tuple[str, ...]:
        """The fields it needs as rule_coverage.sql names their gaps."""
        return tuple(field_column(f) for f in self.needs)


def field_column(field: str) -> str:
    """A needed field's name in SQL: lat/lon is one field, the place."""
    return "place" if field == "lat/lon" else field


def fields_said(fields: list[str] | tuple[str, ...]) -> str:
    """'payee_id, payer_type or is_same_owner': the fields in words."""
    if len(fields) < 2:
        return "".join(fields)
    return ", ".join(fields[:-1]) + " or " + fields[-1]


DETECTION_RULES: tuple[Rule, ...] = (
    Rule(
        "impossible_travel",
        weight=70,
        weight_why="Two in-person payments too far apart for the time between "
        "them: a cloned card or a stolen phone, hardly ever innocent.",
        label_pt="Deslocamento impossível",
        reason="moved {distance_km:.1f} km in {minutes_since_prev:.1f}"
        " min ({implied_speed_kmh:.0f} km/h) since the previous payment",
        reason_pt="deslocou-se {distance_km:.1f} km em "
        "{minutes_since_prev:.1f} min ({implied_speed_kmh:.0f} km/h) desde o "
        "pagamento anterior",
        scope="in_person",
        needs=("customer_id", "lat/lon"),
        model=Model(
            "silver/silver_rule_impossible_travel",
            CUSTOMERS,
            indexes=BY_ID,
            by_customer=True,
        ),
        sparse=False,
        carries=(
            "prev_created_at_epoch",
            "prev_bairro",
            "next_created_at_epoch",
            "next_bairro",
            "distance_km",
            "minutes_since_prev",
            "implied_speed_kmh",
        ),
    ),
    Rule(
        "mule_pass_through",
        weight=65,
        weight_why="Money sent on within the hour it arrived: the mule "
        "account's defining move (Febraban's typologies).",
        label_pt="Conta de passagem",
        reason="sent on {recent_outflow_cents:reais} of"
        " {recent_inflow_cents:reais} received within the hour",
        reason_pt="repassou {recent_outflow_cents:reais} de "
        "{recent_inflow_cents:reais} recebidos na última hora",
        scope="pix",
        needs=("customer_id", "payee_id", "payer_type", "payee_type", "is_same_owner"),
        model=Model(
            "silver/silver_rule_pass_through",
            Partition(
                "silver_pix_transfers",
                BY_ACCOUNT,
                scope=BY_ACCOUNT_PAYING,
                window="pass_through_window_seconds",
            ),
        ),
        flag_column="is_pass_through",
        carries=("recent_inflow_cents", "recent_outflow_cents"),
    ),
    Rule(
        "card_testing",
        weight=60,
        weight_why="A burst of tiny online charges on one card: a stolen "
        "card being tried before it is used (Febraban's typologies).",
        label_pt="Teste de cartão",
        reason="{probes_in_window:.0f} tiny online payments on this card"
        " ({declines_in_window:.0f} declined)",
        reason_pt="{probes_in_window:.0f} pagamentos online ínfimos neste "
        "cartão ({declines_in_window:.0f} recusados)",
        scope="card",
        needs=("card_id", "entry_mode"),
        model=Model(
            "silver/silver_rule_card_testing",
            Partition(
                "bronze_transactions",
                "card_id in (select key from temp.touched_cards)",
                window="card_testing_window_seconds",
            ),
            table_order=True,
        ),
        carries=("probes_in_window", "declines_in_window"),
    ),
    Rule(
        "mule_fan_in",
        weight=60,
        weight_why="A payee collecting from many new payers within the hour: "
        "the receiving end of a scam, seen from the payee.",
        label_pt="Conta laranja (recebe de muitos)",
        reason="payee received from {new_payers_in_window:.0f} new payers"
        " ({new_payer_cents_in_window:reais}) within the hour",
        reason_pt="o recebedor recebeu de {new_payers_in_window:.0f} pagadores "
        "novos ({new_payer_cents_in_window:reais}) em uma hora",
        scope="pix",
        needs=("customer_id", "payee_id", "payer_type", "payee_type", "is_same_owner"),
        model=Model(
            "silver/silver_rule_mule_fan_in",
            Partition("silver_pix_transfers", BY_PAYEE, window="fan_in_window_seconds"),
        ),
        carries=("new_payers_in_window", "new_payer_cents_in_window"),
    ),
    Rule(
        "first_time_payee",
        weight=60,
        weight_why="An outsized first payment to a payee who collects several "
        "such in a day: the social-engineering Pix scam.",
        label_pt="Primeiro Pix a desconhecido",
        reason="first payment to this payee, {amount_to_baseline:.1f}x"
        " the payer's recent average; the payee collected"
        " {payee_outsized_first_payments:.0f} such payments in a day",
        reason_pt="primeiro pagamento a este recebedor, "
        "{amount_to_baseline:.1f}x a média recente do pagador; o recebedor "
        "juntou {payee_outsized_first_payments:.0f} pagamentos assim em um dia",
        scope="pix",
        needs=("customer_id", "payee_id", "payer_type", "payee_type", "is_same_owner"),
        model=Model(
            "silver/silver_rule_first_time_payee",
            Partition(
                "silver_pix_transfers", BY_PAYEE, window="first_payee_window_seconds"
            ),
        ),
        carries=("payer_baseline_cents", "payee_outsized_first_payments"),
    ),
    Rule(
        "night_pix_limit",
        weight=55,
        weight_why="Over the Banco Central's night limit for Pix between "
        "people (Res. BCB 142/2021): a bank should have refused it.",
        label_pt="Limite noturno do Pix",
        reason="night Pix to people totals {night_running_cents:reais},"
        " over the {night_limit_cents:reais} night limit",
        reason_pt="Pix noturnos a pessoas somam {night_running_cents:reais},"
        " acima do limite noturno de {night_limit_cents:reais}",
        scope="pix",
        needs=("customer_id", "payer_type", "payee_type", "is_same_owner"),
        model=Model(
            "silver/silver_rule_night_pix_limit",
            Partition("silver_night_pix", BY_CUSTOMER),
        ),
    ),
    Rule(
        "new_device",
        weight=55,
        weight_why="Over the Banco Central's limits for a device in its first "
        "day (Res. BCB 403/2024): account take-over's first hours.",
        label_pt="Dispositivo novo",
        reason="device first used today; {device_first_day_cents:reais} sent"
        " from it (limit R$ 200 a payment, R$ 1.000 a day)",
        reason_pt="dispositivo usado pela primeira vez hoje; "
        "{device_first_day_cents:reais} enviados dele (limite R$ 200 por "
        "transação, R$ 1.000 por dia)",
        scope="pix",
        needs=("device_id", "device_first_seen_at"),
        model=Model(
            "silver/silver_rule_new_device",
            Partition("silver_device_first_use", BY_DEVICE),
        ),
        carries=("device_first_day_cents",),
        warm_up="new_device_window_seconds",
    ),
    Rule(
        "velocity_burst",
        weight=50,
        weight_why="Many payments within minutes: often fraud, sometimes a "
        "shopping spree, so a step below the rules that name a scheme.",
        label_pt="Rajada de transações",
        reason="{velocity_count:.0f} transactions within minutes of each other",
        reason_pt="{velocity_count:.0f} transações com minutos de intervalo",
        scope="all",
        needs=("customer_id",),
    ),
    Rule(
        "structuring",
        weight=45,
        weight_why="Night Pix split to stay just under the limit: a pattern, "
        "not a breach, so among the lightest.",
        label_pt="Fracionamento noturno",
        reason="night Pix split to stay just under the {night_limit_cents:reais} limit",
        reason_pt="Pix noturnos fracionados para ficar logo abaixo do limite "
        "de {night_limit_cents:reais}",
        scope="pix",
        needs=("customer_id", "payer_type", "payee_type", "is_same_owner"),
        model=Model(
            "silver/silver_rule_structuring",
            Partition("silver_night_pix", BY_CUSTOMER),
        ),
    ),
    Rule(
        "amount_spike",
        weight=45,
        weight_why="An amount far above the customer's own recent average from "
        "a new device: unusual, and often a one-off purchase, so the lightest.",
        label_pt="Valor fora do padrão",
        reason="{amount_cents:reais} is {amount_to_baseline:.1f}x the"
        " customer's recent average, from a new device",
        reason_pt="{amount_cents:reais} é {amount_to_baseline:.1f}x a média "
        "recente do cliente, de um dispositivo novo",
        scope="all",
        needs=("customer_id", "device_first_seen_at"),
        warm_up="spike_device_max_age_seconds",
    ),
)

RULES: tuple[str, ...] = tuple(rule.name for rule in DETECTION_RULES)


def sql_context() -> dict[str, object]:
    """What the SQL templates loop over: every rule in order, and the
    groups that are joined differently into silver_transactions."""
    gaps = {
        (rule.scope, field_column(field)): None
        for rule in DETECTION_RULES
        for field in rule.needs
    }
    return {
        "rules": DETECTION_RULES,
        # Each (scope, field) some rule needs, and every field, for
        # rule_coverage.sql's count of the rows in scope that lack it.
        "coverage_gaps": list(gaps),
        "coverage_fields": list(dict.fromkeys(f for _, f in gaps)),
        "sparse_rules": [r for r in DETECTION_RULES if r.model and r.sparse],
        "dense_rules": [r for r in DETECTION_RULES if r.model and not r.sparse],
        "warm_up_rules": [r for r in DETECTION_RULES if r.warm_up],
    }
