"""A new rule is its SQL file and one entry in ssa/rules.py (README, "Add a
rule"): followed to the letter on a copy of the project, the rule flags
Silver rows, counts in the Gold score with its own weight setting, explains
its rows in the export and has its line in the detection report's coverage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# The README's example, as a user would write it.
RULE_SQL = """\
-- Rule: an online card payment in the Pix night hours (Res. BCB 142/2021).
select
    transaction_id,
    1 as is_late_online_card
from bronze_transactions
where channel in ('credit', 'debit')
    and entry_mode = 'not_present'
    and (
        ((created_at_epoch + :utc_offset_seconds) % 86400) / 3600
        >= :night_start_hour_default
        or ((created_at_epoch + :utc_offset_seconds) % 86400) / 3600
        < :night_end_hour
    )
"""

RULE_ENTRY = """\
    Rule(
        "late_online_card",
        weight=40,
        weight_why="An online card payment at night: worth a look, no more.",
        label_pt="Cartão online de madrugada",
        reason="online card payment at {local_hour:.0f}h",
        reason_pt="pagamento online com cartão às {local_hour:.0f}h",
        scope="card",
        needs=("card_id", "entry_mode"),
        model=Model("silver/silver_rule_late_online_card", CUSTOMERS),
    ),
"""

BUILD = """\
import json
import pandas as pd
from ssa.engines import open_warehouse
from ssa.generator import generate
from ssa.settings import Settings
from tasks.bronze import _load
from tasks.gold import _build as build_gold, _export
from tasks.report import _evaluate
from tasks.silver import _build as build_silver

settings = Settings(
    paths={"data_dir": "data"},
    generator={"n_customers": 300, "days": 7, "seed": 3},
    risk={"weight_late_online_card": 33},
)
_load(generate(settings), settings)
build_silver(settings, None)
build_gold(settings)
_export(settings)
report = _evaluate(settings)
with open_warehouse(settings).transaction() as session:
    silver = session.read_table("silver_transactions")
    risk = session.read_table("gold_transaction_risk")
anomalies = pd.read_csv(settings.paths.data_dir / "gold_anomalies.csv")
alone = silver[silver["flags_fired"] == "late_online_card"]
points = risk.set_index("transaction_id").loc[alone["transaction_id"], "risk_points"]
only = anomalies[anomalies["anomaly_flag"] == "late_online_card"]
print(json.dumps({
    "flagged": int(silver["is_late_online_card"].sum()),
    "points_alone": sorted(set(points.tolist())),
    "reasons": only["reasons"].head(3).tolist(),
    "coverage": report["coverage"].query("rule == 'late_online_card'")
    .to_dict("records"),
    "in_report": "late_online_card" in report["markdown"],
}, default=str))
"""


def test_a_rule_added_by_its_sql_file_and_one_entry(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for part in ("ssa", "sql", "tasks", "data/reference"):
        shutil.copytree(
            REPO / part, project / part, ignore=shutil.ignore_patterns("__pycache__")
        )
    (project / "sql/silver/silver_rule_late_online_card.sql").write_text(RULE_SQL)
    rules = project / "ssa/rules.py"
    text = rules.read_text()
    end = "\n)\n\nRULES: tuple"
    assert text.count(end) == 1
    rules.write_text(text.replace(end, "\n" + RULE_ENTRY.rstrip("\n") + end))

    env = {**os.environ, "PYTHONPATH": str(project)}
    done = subprocess.run(
        [sys.executable, "-c", BUILD],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    assert seen["flagged"] > 0
    # Fired alone, with no context bonus, a row scores the rule's weight.
    assert 33 in seen["points_alone"]
    assert seen["reasons"]
    assert all(r.startswith("online card payment at ") for r in seen["reasons"])
    [coverage] = seen["coverage"]
    assert coverage["rows_applicable"] > 0
    assert seen["in_report"]
