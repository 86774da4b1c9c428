"""Each Silver rule on hand-built rows: one that must flag, one that must
not, and the boundary. The rows run through the real sql/ file."""

from __future__ import annotations

from ssa.settings import Settings
from tests.rows import at, customer, flagged, north_km, pix, run_silver, tx


class TestImpossibleTravel:
    def test_12_km_in_4_minutes_is_flagged(self) -> None:
        rows = [tx("a", at(10)), tx("b", at(10, 4), lat=north_km(12))]
        silver = run_silver(rows)
        assert flagged(silver, "impossible_travel") == {"b"}
        assert 11.9 < silver.loc["b", "distance_km"] < 12.1
        assert 175 < silver.loc["b", "implied_speed_kmh"] < 185

    def test_adjacent_bairros_walk_is_not_flagged(self) -> None:
        rows = [tx("a", at(10)), tx("b", at(10, 8), lat=north_km(1.5))]
        assert flagged(run_silver(rows), "impossible_travel") == set()

    def test_car_to_the_airport_at_night_is_not_flagged(self) -> None:
        # 20 km in 18 min is 67 km/h: fast, but under the 80 km/h limit.
        rows = [tx("a", at(3)), tx("b", at(3, 18), lat=north_km(20))]
        assert flagged(run_silver(rows), "impossible_travel") == set()

    def test_speed_boundary_uses_the_setting(self) -> None:
        # 8 km in 6 min is exactly 80 km/h: not above the limit.
        rows = [tx("a", at(10)), tx("b", at(10, 6), lat=north_km(8.0001))]
        silver = run_silver(rows)
        assert flagged(silver, "impossible_travel") == {"b"}
        slower = Settings(rules={"hop_max_speed_kmh": 81})
        assert flagged(run_silver(rows, settings=slower), "impossible_travel") == set()

    def test_same_second_far_away_counts_as_too_fast(self) -> None:
        rows = [tx("a", at(10)), tx("b", at(10), lat=north_km(5))]
        assert flagged(run_silver(rows), "impossible_travel") == {"b"}

    def test_the_real_card_coming_back_is_not_flagged(self) -> None:
        rows = [
            tx("home", at(10)),
            tx("clone", at(10, 3), lat=north_km(15)),
            tx("home-again", at(10, 9), lat=north_km(0.2)),
        ]
        assert flagged(run_silver(rows), "impossible_travel") == {"clone"}

    def test_short_hops_below_the_distance_floor_never_flag(self) -> None:
        rows = [tx("a", at(10)), tx("b", at(10, 0, 30), lat=north_km(2.5))]
        assert flagged(run_silver(rows), "impossible_travel") == set()

    def test_other_customers_do_not_mix(self) -> None:
        rows = [tx("a", at(10)), tx("b", at(10, 2), customer_id="C9", lat=north_km(12))]
        assert flagged(run_silver(rows), "impossible_travel") == set()

    def test_online_payments_have_no_place_and_are_skipped(self) -> None:
        rows = [
            tx("shop", at(10)),
            tx("online", at(10, 1), entry_mode="not_present", lat=north_km(20)),
            tx("shop2", at(10, 4), lat=north_km(0.5)),
        ]
        silver = run_silver(rows)
        assert flagged(silver, "impossible_travel") == set()
        assert silver.loc["shop2", "prev_bairro"] == "Barra"
        assert silver.loc["shop2", "distance_km"] < 0.6
        assert silver["distance_km"].isna().sum() == 2  # first row, online row

    def test_rows_without_coordinates_are_not_judged(self) -> None:
        rows = [tx("a", at(10)), tx("b", at(10, 2), lat=None, lon=None)]
        silver = run_silver(rows)
        assert flagged(silver, "impossible_travel") == set()
        assert silver.loc["b", "anomaly_flag"] == "Normal"


class TestVelocityBurst:
    def test_five_within_ten_minutes_flags_all_five(self) -> None:
        rows = [pix(f"p{i}", at(14, 2 * i)) for i in range(5)]
        assert flagged(run_silver(rows), "velocity_burst") == {
            f"p{i}" for i in range(5)
        }

    def test_four_is_not_a_burst(self) -> None:
        rows = [pix(f"p{i}", at(14, 2 * i)) for i in range(4)]
        assert flagged(run_silver(rows), "velocity_burst") == set()

    def test_window_edge(self) -> None:
        # p0..p3 then p4 exactly 600 s after p0 (inside), p5 601 s after p1.
        rows = [pix(f"p{i}", at(14, 0, i)) for i in range(4)]
        rows.append(pix("p4", at(14, 10)))
        rows.append(pix("late", at(14, 10, 4) + 600))
        assert flagged(run_silver(rows), "velocity_burst") == {
            "p0",
            "p1",
            "p2",
            "p3",
            "p4",
        }


class TestAmountSpike:
    @staticmethod
    def _history(n: int) -> list[dict]:
        return [tx(f"h{i}", at(9, i)) for i in range(n)]

    def test_big_purchase_from_a_new_device_is_flagged(self) -> None:
        rows = [
            *self._history(5),
            tx(
                "big",
                at(12),
                amount_cents=200000,
                device_id="dev-new",
                device_first_seen_epoch=at(11),
                entry_mode="not_present",
            ),
        ]
        silver = run_silver(rows)
        assert flagged(silver, "amount_spike") == {"big"}
        assert silver.loc["big", "amount_to_baseline"] == 40

    def test_big_purchase_from_the_usual_device_is_not(self) -> None:
        rows = [*self._history(5), tx("big", at(12), amount_cents=200000)]
        assert flagged(run_silver(rows), "amount_spike") == set()

    def test_too_little_history_is_no_baseline(self) -> None:
        rows = [
            *self._history(4),
            tx("big", at(12), amount_cents=200000, device_first_seen_epoch=at(11)),
        ]
        assert flagged(run_silver(rows), "amount_spike") == set()

    def test_ratio_boundary(self) -> None:
        # Baseline R$ 500 (history of 50_000 cents): 8x is 400_000.
        history = [tx(f"h{i}", at(9, i), amount_cents=50_000) for i in range(5)]
        new = {"device_first_seen_epoch": at(11)}
        at_ratio = run_silver([*history, tx("eq", at(12), amount_cents=400000, **new)])
        above = run_silver([*history, tx("gt", at(12), amount_cents=400001, **new)])
        assert flagged(at_ratio, "amount_spike") == set()
        assert flagged(above, "amount_spike") == {"gt"}


class TestNightPixLimit:
    def test_total_at_the_limit_is_allowed_one_centavo_over_is_not(self) -> None:
        rows = [
            pix("a", at(21), amount_cents=60_000),
            pix("b", at(22), amount_cents=40_000),
        ]
        assert flagged(run_silver(rows), "night_pix_limit") == set()
        rows[1] = pix("b", at(22), amount_cents=40_001)
        assert flagged(run_silver(rows), "night_pix_limit") == {"b"}

    def test_night_edges_20h_and_6h(self) -> None:
        rows = [
            pix("before", at(19, 59, 59), amount_cents=150_000),
            pix("start", at(20), amount_cents=150_000),
            pix("late", at(5, 59, 59, day=1), amount_cents=10),
            pix("morning", at(6, day=1), amount_cents=150_000),
        ]
        silver = run_silver(rows)
        assert flagged(silver, "night_pix_limit") == {"start", "late"}
        assert silver.loc["late", "night_running_cents"] == 150_010

    def test_each_night_starts_from_zero(self) -> None:
        rows = [
            pix("n1", at(23), amount_cents=90_000),
            pix("n2", at(23, day=1), amount_cents=90_000),
        ]
        assert flagged(run_silver(rows), "night_pix_limit") == set()

    def test_company_and_own_account_do_not_count(self) -> None:
        rows = [
            pix("shop", at(21), amount_cents=300_000, payee_type="PJ", payee_id="M1"),
            pix("own", at(22), amount_cents=300_000, is_same_owner=1, payee_id="C1"),
            pix("friend", at(23), amount_cents=90_000),
        ]
        silver = run_silver(rows)
        assert flagged(silver, "night_pix_limit") == set()
        assert silver.loc["friend", "night_running_cents"] == 90_000

    def test_a_company_paying_at_night_has_no_limit(self) -> None:
        rows = [pix("payroll", at(23), amount_cents=500_000, payer_type="PJ")]
        assert flagged(run_silver(rows), "night_pix_limit") == set()

    def test_an_unknown_payer_type_is_not_judged(self) -> None:
        rows = [pix("a", at(23), amount_cents=500_000, payer_type=None)]
        silver = run_silver(rows)
        assert flagged(silver, "night_pix_limit") == set()
        assert silver["night_running_cents"].isna().all()

    def test_22h_customer_at_2130_is_still_day(self) -> None:
        rows = [
            pix("a", at(21, 30), amount_cents=150_000),
            pix("b", at(22, 30), amount_cents=150_000),
        ]
        late = [customer(night_start_hour=22)]
        assert flagged(run_silver(rows, customers=late), "night_pix_limit") == {"b"}
        assert flagged(run_silver(rows), "night_pix_limit") == {"a", "b"}

    def test_raised_limit_is_respected(self) -> None:
        rows = [pix("a", at(23), amount_cents=250_000)]
        raised = [customer(night_limit_cents=300_000)]
        assert flagged(run_silver(rows, customers=raised), "night_pix_limit") == set()

    def test_unknown_customer_gets_the_regulatory_default(self) -> None:
        rows = [pix("a", at(23), amount_cents=100_001, customer_id="C404")]
        assert flagged(run_silver(rows, customers=[]), "night_pix_limit") == {"a"}


class TestCardTesting:
    @staticmethod
    def _probe(i: int, minute: int, **kw) -> dict:
        return tx(
            f"probe{i}",
            at(3, minute),
            channel="credit",
            entry_mode="not_present",
            amount_cents=199,
            **kw,
        )

    def test_three_tiny_online_probes_and_the_big_buy_are_flagged(self) -> None:
        rows = [self._probe(i, 2 * i, auth_status="declined") for i in range(3)]
        rows.append(
            tx(
                "buy",
                at(3, 12),
                channel="credit",
                entry_mode="not_present",
                amount_cents=250_000,
            )
        )
        assert flagged(run_silver(rows), "card_testing") == {
            "probe0",
            "probe1",
            "probe2",
            "buy",
        }

    def test_two_probes_are_not_a_run(self) -> None:
        rows = [self._probe(i, 2 * i) for i in range(2)]
        assert flagged(run_silver(rows), "card_testing") == set()

    def test_tiny_card_present_payments_do_not_count(self) -> None:
        rows = [
            tx(f"coffee{i}", at(8, 5 * i), channel="credit", amount_cents=450)
            for i in range(4)
        ]
        assert flagged(run_silver(rows), "card_testing") == set()

    def test_probe_boundary_amount(self) -> None:
        rows = [self._probe(i, i) for i in range(2)]
        rows.append(
            tx(
                "edge",
                at(3, 5),
                channel="credit",
                entry_mode="not_present",
                amount_cents=500,
            )
        )
        assert "edge" in flagged(run_silver(rows), "card_testing")
        rows[-1] = tx(
            "edge",
            at(3, 5),
            channel="credit",
            entry_mode="not_present",
            amount_cents=501,
        )
        assert flagged(run_silver(rows), "card_testing") == set()


def test_anomaly_flag_is_the_strongest_and_lists_all() -> None:
    rows = [pix(f"p{i}", at(23, i), amount_cents=30_000) for i in range(5)]
    silver = run_silver(rows)
    assert silver.loc["p4", "anomaly_flag"] == "night_pix_limit"
    assert silver.loc["p4", "flags_fired"] == "night_pix_limit;velocity_burst"
    assert silver.loc["p0", "anomaly_flag"] == "velocity_burst"


def test_ordinary_rows_are_normal() -> None:
    rows = [tx("a", at(10)), tx("b", at(15), lat=north_km(2))]
    silver = run_silver(rows)
    assert list(silver["anomaly_flag"]) == ["Normal", "Normal"]
    assert list(silver["flags_fired"]) == ["", ""]
