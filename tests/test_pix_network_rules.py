"""The Pix network rules on hand-built rows: new device, mule fan-in,
pass-through and first-time payee. Each runs its real sql/ file."""

from __future__ import annotations

from tests.rows import at, pix, run_models, tx

TRANSFERS = ("silver/silver_customer_windows", "silver/silver_pix_transfers")


def _flagged(models: tuple[str, ...], rows: list[dict]) -> set[str]:
    return set(run_models(rows, models).index)


class TestNewDevice:
    MODEL = (
        "silver/silver_customer_since",
        "silver/silver_device_first_use",
        "silver/silver_rule_new_device",
    )

    def _new(self, tid: str, minute: int, cents: int, **kw) -> dict:
        return pix(
            tid,
            at(10, minute),
            amount_cents=cents,
            device_id="dev-new",
            device_first_seen_epoch=at(9),
            **kw,
        )

    def test_r200_is_allowed_one_centavo_more_is_not(self) -> None:
        assert _flagged(self.MODEL, [self._new("a", 0, 20_000)]) == set()
        assert _flagged(self.MODEL, [self._new("a", 0, 20_001)]) == {"a"}

    def test_first_day_total_over_r1000(self) -> None:
        rows = [self._new(f"p{i}", i, 20_000) for i in range(5)]
        assert _flagged(self.MODEL, rows) == set()  # exactly R$ 1.000
        rows.append(self._new("p5", 6, 1))
        assert _flagged(self.MODEL, rows) == {"p5"}

    def test_after_the_first_day_the_limit_is_gone(self) -> None:
        row = pix(
            "a",
            at(9, day=1),
            amount_cents=500_000,
            device_id="dev-new",
            device_first_seen_epoch=at(9),
        )
        assert _flagged(self.MODEL, [row]) == set()

    def test_an_old_device_or_an_unknown_first_use_is_not_judged(self) -> None:
        rows = [
            pix("old", at(10), amount_cents=500_000),
            pix("unknown", at(11), amount_cents=500_000, device_first_seen_epoch=None),
        ]
        assert _flagged(self.MODEL, rows) == set()

    def test_cards_are_not_pix(self) -> None:
        row = self._new("card", 0, 90_000) | {"channel": "credit", "payee_type": "PJ"}
        assert _flagged(self.MODEL, [row]) == set()


class TestMuleFanIn:
    MODELS = (*TRANSFERS, "silver/silver_rule_mule_fan_in")

    @staticmethod
    def _payers(n: int, cents: int = 50_000) -> list[dict]:
        return [
            pix(
                f"v{i}",
                at(15, 5 * i),
                customer_id=f"P{i}",
                payee_id="MULE",
                amount_cents=cents,
            )
            for i in range(n)
        ]

    def test_five_new_payers_within_the_hour_flag_every_inflow(self) -> None:
        assert _flagged(self.MODELS, self._payers(5)) == {f"v{i}" for i in range(5)}

    def test_four_new_payers_are_one_below(self) -> None:
        assert _flagged(self.MODELS, self._payers(4)) == set()

    def test_a_market_stall_many_small_payments_is_not_a_mule(self) -> None:
        assert _flagged(self.MODELS, self._payers(12, cents=1_800)) == set()

    def test_a_payer_who_paid_before_is_not_new(self) -> None:
        rows = self._payers(4)
        rows.append(pix("old", at(8), customer_id="P0", payee_id="MULE"))
        rows.append(
            pix(
                "again",
                at(15, 30),
                customer_id="P0",
                payee_id="MULE",
                amount_cents=50_000,
            )
        )
        assert _flagged(self.MODELS, rows) == set()

    def test_payers_spread_over_hours_do_not_add_up(self) -> None:
        rows = [
            pix(
                f"v{i}",
                at(8 + 3 * i),
                customer_id=f"P{i}",
                payee_id="MULE",
                amount_cents=50_000,
            )
            for i in range(5)
        ]
        assert _flagged(self.MODELS, rows) == set()


class TestPassThrough:
    MODELS = (*TRANSFERS, "silver/silver_rule_pass_through")

    @staticmethod
    def _inflow(cents: int = 100_000) -> dict:
        return pix("in", at(14), customer_id="P1", payee_id="C1", amount_cents=cents)

    def test_eighty_percent_sent_on_within_minutes(self) -> None:
        rows = [
            self._inflow(),
            pix("out", at(14, 5), payee_id="X", amount_cents=80_000),
        ]
        assert _flagged(self.MODELS, rows) == {"out"}

    def test_one_centavo_under_the_share(self) -> None:
        rows = [
            self._inflow(),
            pix("out", at(14, 5), payee_id="X", amount_cents=79_999),
        ]
        assert _flagged(self.MODELS, rows) == set()

    def test_split_forwards_are_all_flagged(self) -> None:
        rows = [
            self._inflow(),
            pix("out1", at(14, 5), payee_id="X", amount_cents=40_000),
            pix("out2", at(14, 6), payee_id="Y", amount_cents=45_000),
        ]
        assert _flagged(self.MODELS, rows) == {"out1", "out2"}

    def test_just_outside_the_window(self) -> None:
        inside = [
            self._inflow(),
            pix("out", at(15), payee_id="X", amount_cents=90_000),
        ]
        outside = [
            self._inflow(),
            pix("out", at(15, 0, 1), payee_id="X", amount_cents=90_000),
        ]
        assert _flagged(self.MODELS, inside) == {"out"}
        assert _flagged(self.MODELS, outside) == set()

    def test_small_inflows_are_ignored(self) -> None:
        rows = [
            self._inflow(99_999),
            pix("out", at(14, 5), payee_id="X", amount_cents=99_999),
        ]
        assert _flagged(self.MODELS, rows) == set()


class TestFirstTimePayee:
    MODELS = (*TRANSFERS, "silver/silver_rule_first_time_payee")

    @staticmethod
    def _history(customer: str) -> list[dict]:
        return [
            pix(
                f"{customer}-h{i}",
                at(9, i),
                customer_id=customer,
                payee_id=f"FRIEND{i}",
                amount_cents=5_000,
            )
            for i in range(5)
        ]

    def _scam(self, customer: str, hour: int, payee: str = "MULE") -> list[dict]:
        return [
            *self._history(customer),
            pix(
                f"{customer}-scam",
                at(hour),
                customer_id=customer,
                payee_id=payee,
                amount_cents=200_000,
            ),
        ]

    def test_two_victims_paying_the_same_stranger_are_flagged(self) -> None:
        rows = self._scam("V1", 11) + self._scam("V2", 16)
        assert _flagged(self.MODELS, rows) == {"V1-scam", "V2-scam"}

    def test_a_single_first_rent_payment_is_not(self) -> None:
        assert _flagged(self.MODELS, self._scam("V1", 11, payee="LANDLORD")) == set()

    def test_a_payee_paid_before_is_not_first_time(self) -> None:
        rows = self._scam("V1", 11) + self._scam("V2", 16)
        rows.append(pix("V1-before", at(8), customer_id="V1", payee_id="MULE"))
        assert _flagged(self.MODELS, rows) == set()

    def test_amount_boundary_against_the_baseline(self) -> None:
        # Baseline R$ 50: 10x is R$ 500, but the floor is R$ 1.000.
        rows = [*self._history("V1"), *self._history("V2")]
        rows += [
            pix(
                "V1-x", at(11), customer_id="V1", payee_id="MULE", amount_cents=100_000
            ),
            pix("V2-x", at(12), customer_id="V2", payee_id="MULE", amount_cents=99_999),
        ]
        assert _flagged(self.MODELS, rows) == set()  # V2 is under the floor
        rows[-1] = pix(
            "V2-x", at(12), customer_id="V2", payee_id="MULE", amount_cents=100_000
        )
        assert _flagged(self.MODELS, rows) == {"V1-x", "V2-x"}


NIGHT = "silver/silver_night_pix"


class TestStructuring:
    MODELS = (NIGHT, "silver/silver_rule_structuring")

    @staticmethod
    def _night(amounts: list[int], **kw) -> list[dict]:
        return [
            pix(f"n{i}", at(22, 10 * i), amount_cents=cents, **kw)
            for i, cents in enumerate(amounts)
        ]

    def test_three_transfers_just_under_the_limit(self) -> None:
        rows = self._night([30_000, 30_000, 30_000])  # R$ 900 = 90 %
        assert _flagged(self.MODELS, rows) == {"n0", "n1", "n2"}

    def test_exactly_at_the_limit_is_still_under(self) -> None:
        rows = self._night([40_000, 30_000, 30_000])
        assert _flagged(self.MODELS, rows) == {"n0", "n1", "n2"}

    def test_over_the_limit_is_the_night_rule_not_structuring(self) -> None:
        rows = self._night([40_000, 30_000, 30_001])
        assert _flagged(self.MODELS, rows) == set()
        assert _flagged((NIGHT, "silver/silver_rule_night_pix_limit"), rows) == {"n2"}

    def test_two_transfers_or_a_small_total_are_not_structuring(self) -> None:
        assert _flagged(self.MODELS, self._night([45_000, 45_000])) == set()
        assert _flagged(self.MODELS, self._night([29_000, 30_000, 30_000])) == set()

    def test_company_payments_do_not_count(self) -> None:
        rows = self._night([30_000, 30_000])
        rows.append(pix("shop", at(23), amount_cents=30_000, payee_type="PJ"))
        assert _flagged(self.MODELS, rows) == set()


class TestCardTestingOnTheCard:
    MODELS = ("silver/silver_rule_card_testing",)

    @staticmethod
    def _online(tid: str, minute: int, cents: int, card: str = "card-1") -> dict:
        return tx(
            tid,
            at(3, minute),
            channel="credit",
            entry_mode="not_present",
            amount_cents=cents,
            card_id=card,
        )

    def test_probes_on_one_card_and_the_escalation(self) -> None:
        rows = [self._online(f"p{i}", i, 199) for i in range(3)]
        rows.append(self._online("buy", 10, 250_000))
        assert _flagged(self.MODELS, rows) == {"p0", "p1", "p2", "buy"}

    def test_probes_on_different_cards_do_not_add_up(self) -> None:
        rows = [self._online(f"p{i}", i, 199, card=f"card-{i}") for i in range(3)]
        assert _flagged(self.MODELS, rows) == set()

    def test_thirty_minute_window_edge(self) -> None:
        rows = [
            self._online("p0", 0, 199),
            self._online("p1", 1, 199),
            self._online("p2", 30, 199),
        ]
        assert _flagged(self.MODELS, rows) == {"p0", "p1", "p2"}
        rows[2] = tx(
            "p2",
            at(3, 30, 1),
            channel="credit",
            entry_mode="not_present",
            amount_cents=199,
            card_id="card-1",
        )
        # p2 is now 30:01 after p0: only p1 still sees all three probes.
        assert _flagged(self.MODELS, rows) == {"p1"}
