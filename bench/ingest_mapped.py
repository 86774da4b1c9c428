"""Ingest speed of a mapped source beside the native contract, in one run.

The same generated transactions are written twice: in the native contract
and in the layout of ``sources/internet_banking_br.yaml`` (Windows-1252,
``;``, ``dd/mm/aaaa hh:mm``, ``-R$ 1.234,56``, Portuguese headers), so the
ratio is the cost of the mapping alone. Where the external development set
is beside the repository (``../shared/data/external``), its first rows in the
Sparkov layout are timed too. Each file is ingested whole (read, map,
validate, load into a fresh warehouse, file away), each run in a process
of its own: the median of ``--repeat`` runs, and the most memory a run
added to its process above the imports (peak RSS), whole and per row: the
intake holds a whole file's rows at once, so a file's memory grows with it.

    python -m bench.ingest_mapped                 # 200,000 rows
    python -m bench.ingest_mapped --rows 50000 --repeat 1

Target: mapped rows/s >= 0.7x native. Timings on a shared machine are noisy;
nothing here is a test.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import multiprocessing
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from bench import EXTERNAL_FILE
from flows.make_drop import drop_frame
from ssa.intake.ingest import ingest_file
from ssa.settings import Settings

TARGET_RATIO = 0.7
BANK_TYPES = {
    "pix": "Pix enviado",
    "credit": "Compra no crédito",
    "debit": "Compra no débito",
    "boleto": "Pagamento de boleto",
}


def bank_layout(native: pd.DataFrame) -> bytes:
    """The native rows as an internet-banking export, title lines included."""
    cents = (native["amount"].astype(float) * 100).round().astype(int)
    reais = cents // 100
    grouped = reais.map(lambda r: f"{r:,}".replace(",", "."))
    when = pd.to_datetime(native["created_at"].str[:16], format="%Y-%m-%dT%H:%M")
    same = native["is_same_owner"] == "1"
    kind = (
        native["channel"]
        .map(BANK_TYPES)
        .mask(same & (native["channel"] == "pix"), "Pix entre minhas contas")
    )
    frame = pd.DataFrame(
        {
            "Data": when.dt.strftime("%d/%m/%Y %H:%M"),
            "Identificador": native["transaction_id"],
            "Conta de origem": native["customer_id"],
            "Tipo": kind,
            "Valor": "-R$ " + grouped + "," + (cents % 100).astype(str).str.zfill(2),
            "Favorecido": native["payee_id"],
            "CPF/CNPJ do favorecido": native["payee_type"]
            .map({"PF": "***.456.789-**", "PJ": "12.345.678/0001-90"})
            .fillna(""),
            "Bairro": native["bairro"],
            "Situação": native["auth_status"]
            .map({"approved": "Efetivada", "declined": "Recusada"})
            .fillna("Efetivada"),
        }
    )
    title = "\r\n".join(["Relatório de Transações Enviadas;;;;;;;;", "Período;;;;;;;;"])
    title += "\r\n;;;;;;;;\r\n"
    body = frame.to_csv(index=False, sep=";", lineterminator="\r\n")
    return (title + body).encode("cp1252")


def _ingest_once(path: Path, data_dir: Path, source: str | None) -> tuple[float, ...]:
    """One ingest in a fresh process: seconds, rows read, rejected, and the
    bytes of peak RSS above the RSS the process had before the ingest."""
    settings = Settings(paths={"data_dir": data_dir})
    before = _rss_now()
    started = time.perf_counter()
    result = ingest_file(path, settings, source=source)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return seconds, result.rows_read, result.rows_rejected, peak - before


def _rss_now() -> int:
    """The process's resident bytes now (ru_maxrss is the peak so far, and
    the imports may have peaked above what they keep)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def time_ingest(
    make: Callable[[Path], Path], source: str | None, repeat: int
) -> tuple[float, int, int, int]:
    """Median seconds to ingest the file ``make`` writes, rows read,
    rejected, and the largest peak RSS a run added (bytes)."""
    runs = []
    spawn = multiprocessing.get_context("spawn")
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="ssa-bench-") as tmp:
            path = make(Path(tmp))
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                runs.append(
                    pool.submit(_ingest_once, path, Path(tmp) / "data", source).result()
                )
    seconds = statistics.median(r[0] for r in runs)
    _, read, rejected, _ = runs[-1]
    return seconds, int(read), int(rejected), int(max(r[3] for r in runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    native = drop_frame(Settings(generator={"n_customers": 10_000}), args.rows)
    native_csv = native.to_csv(index=False, lineterminator="\n").encode("utf-8")
    bank_csv = bank_layout(native)

    def writer(data: bytes, name: str) -> Callable[[Path], Path]:
        def write(folder: Path) -> Path:
            path = folder / name
            path.write_bytes(data)
            return path

        return write

    cases = [
        ("native contract", writer(native_csv, "native.csv"), None),
        (
            "internet_banking_br (same rows)",
            writer(bank_csv, "bank.csv"),
            "internet_banking_br",
        ),
    ]
    if EXTERNAL_FILE.exists():
        with gzip.open(EXTERNAL_FILE, "rt", encoding="utf-8") as packed:
            # The header and up to --rows rows: the file holds 222,508.
            lines = list(itertools.islice(packed, args.rows + 1))
        sparkov = "".join(lines).encode("utf-8")
        cases.append(
            ("sparkov (external file)", writer(sparkov, "sparkov.csv"), "sparkov")
        )
    else:
        print(f"{EXTERNAL_FILE} not found: the Sparkov row is left out")

    rows = []
    native_rate = None
    for name, make, source in cases:
        seconds, read, rejected, added = time_ingest(make, source, args.repeat)
        rate = read / seconds
        native_rate = native_rate or rate
        ratio = rate / native_rate
        rows.append(
            [
                name,
                f"{read:,}",
                rejected,
                f"{seconds:.2f}",
                f"{rate:,.0f}",
                f"{added / 2**20:,.0f}",
                f"{added / read / 1024:.1f}",
                ratio,
            ]
        )
    print(
        tabulate(
            rows,
            headers=[
                "file",
                "rows",
                "rejected",
                "seconds",
                "rows/s",
                "peak RSS added MiB",
                "KiB/row",
                "x native",
            ],
            floatfmt=".2f",
        )
    )
    worst = min(r[-1] for r in rows[1:])
    verdict = "met" if worst >= TARGET_RATIO else "MISSED"
    print(f"target: mapped >= {TARGET_RATIO}x native rows/s: {verdict} ({worst:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
