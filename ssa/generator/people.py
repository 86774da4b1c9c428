"""Customers (PF) and merchants (PJ) of the synthetic fintech.

Names come from Faker's ``pt_BR`` providers, sampled with numpy rather than one
``fake.name()`` call per person: the same vocabulary, deterministic under the
seed, and fast enough for the 1M-transaction benchmark's 15k customers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from faker.providers.company.pt_BR import Provider as CompanyProvider
from faker.providers.person.pt_BR import Provider as PersonProvider

from ssa.bairros import Bairros
from ssa.documents import make_cnpjs, make_cpfs
from ssa.settings import GeneratorSettings


@dataclass(frozen=True)
class Category:
    """An MCC-like merchant category and its ticket (median, log-sd)."""

    name: str
    mcc: str
    weight: float
    median_reais: float
    sigma: float
    online: bool


# Card tickets are calibrated to Abecs H1 2024 (credit R$ 136,59 and debit
# R$ 59,81 on average); the weights give a plausible city mix.
CATEGORIES: tuple[Category, ...] = (
    Category("supermercado", "5411", 0.22, 70.0, 0.8, False),
    Category("restaurante", "5812", 0.16, 45.0, 0.6, False),
    Category("farmacia", "5912", 0.10, 40.0, 0.6, False),
    Category("combustivel", "5541", 0.08, 120.0, 0.5, False),
    Category("transporte", "4121", 0.08, 18.0, 0.5, True),
    Category("vestuario", "5651", 0.07, 110.0, 0.6, True),
    Category("eletronicos", "5732", 0.03, 250.0, 0.7, True),
    Category("servicos", "7299", 0.08, 80.0, 0.7, False),
    Category("saude", "8011", 0.05, 150.0, 0.6, False),
    Category("educacao", "8299", 0.03, 300.0, 0.5, True),
    Category("ecommerce", "5969", 0.07, 90.0, 0.8, True),
    Category("utilidades", "4900", 0.03, 150.0, 0.5, True),
)
CATEGORY_NAMES = np.array([c.name for c in CATEGORIES])
ONLINE_CATEGORIES = np.array([i for i, c in enumerate(CATEGORIES) if c.online])

# Job hubs: the Área Central and the Iguatemi/Pituba business district draw
# workers from the whole city.
JOB_HUB_ZONES = {"Área Central": 4.0, "Expansão Litorânea": 1.5}


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    female = np.array(PersonProvider.first_names_female)
    male = np.array(PersonProvider.first_names_male)
    last = np.array(PersonProvider.last_names)
    first = np.where(
        rng.random(n) < 0.5,
        female[rng.integers(0, len(female), n)],
        male[rng.integers(0, len(male), n)],
    )
    surname1 = last[rng.integers(0, len(last), n)]
    surname2 = last[rng.integers(0, len(last), n)]
    two = rng.random(n) < 0.6
    return np.where(
        two,
        np.char.add(np.char.add(np.char.add(first, " "), surname1 + " "), surname2),
        np.char.add(np.char.add(first, " "), surname1),
    )


def _company_names(rng: np.random.Generator, n: int) -> np.ndarray:
    last = np.array(PersonProvider.last_names)
    suffix = np.array(CompanyProvider.company_suffixes)
    a = last[rng.integers(0, len(last), n)]
    b = last[rng.integers(0, len(last), n)]
    s = suffix[rng.integers(0, len(suffix), n)]
    two = rng.random(n) < 0.4
    head = np.where(two, np.char.add(np.char.add(a, " "), b), a)
    return np.char.add(np.char.add(head, " "), s)


def make_customers(
    rng: np.random.Generator,
    bairros: Bairros,
    cfg: GeneratorSettings,
    first_number: int = 1,
) -> pd.DataFrame:
    """One row per customer, with where they live and work and their limits;
    ids numbered from ``first_number`` (a later chunk of a big month)."""
    n = cfg.n_customers
    home = rng.choice(len(bairros), size=n, p=bairros.home_weights)
    hub = np.array([JOB_HUB_ZONES.get(z, 1.0) for z in bairros.zone])
    work_w = bairros.home_weights * hub * ~bairros.is_island
    work = rng.choice(len(bairros), size=n, p=work_w / work_w.sum())
    # Islanders mostly work on their island; a few take the boat.
    stays = bairros.is_island[home] & (rng.random(n) < 0.7)
    work = np.where(stays, home, work)
    income = np.round(rng.lognormal(np.log(2_600), 0.7, n), 2)
    score = np.clip(rng.normal(600 + 60 * np.log(income / 2_600), 140), 0, 1000).astype(
        int
    )
    night_start = np.where(rng.random(n) < cfg.night_22h_share, 22, 20)
    raised = rng.random(n) < cfg.raised_night_limit_share
    limit = np.where(raised, rng.choice([300_000, 500_000, 1_000_000], n), 100_000)
    return pd.DataFrame(
        {
            "customer_id": np.char.add(
                "C",
                np.char.zfill(np.arange(first_number, first_number + n).astype(str), 7),
            ),
            "name": _names(rng, n),
            "cpf": make_cpfs(rng, n),
            "home_bairro_idx": home,
            "work_bairro_idx": work,
            "home_bairro": bairros.names[home],
            "work_bairro": bairros.names[work],
            "monthly_income": income,
            "credit_score": score,
            "night_start_hour": night_start,
            "night_limit_cents": limit.astype(np.int64),
            # Activity per day, mean 1: some people pay far more often.
            "activity": rng.lognormal(-0.18, 0.6, n),
            # Spending scale follows income, damped (rent is not card spend).
            "spend_scale": np.clip((income / 2_600) ** 0.35, 0.4, 3.0),
        }
    )


def make_merchants(
    rng: np.random.Generator, bairros: Bairros, cfg: GeneratorSettings
) -> pd.DataFrame:
    """Merchants where people are: weighted by population and job hubs."""
    n = cfg.n_merchants
    hub = np.array([JOB_HUB_ZONES.get(z, 1.0) for z in bairros.zone])
    w = bairros.home_weights * hub
    bairro = rng.choice(len(bairros), size=n, p=w / w.sum())
    cat_w = np.array([c.weight for c in CATEGORIES])
    category = rng.choice(len(CATEGORIES), size=n, p=cat_w / cat_w.sum())
    return pd.DataFrame(
        {
            "merchant_id": np.char.add(
                "M", np.char.zfill(np.arange(1, n + 1).astype(str), 6)
            ),
            "name": _company_names(rng, n),
            "cnpj": make_cnpjs(rng, n),
            "category_idx": category,
            "category": CATEGORY_NAMES[category],
            "mcc": np.array([c.mcc for c in CATEGORIES])[category],
            "bairro_idx": bairro,
            "bairro": bairros.names[bairro],
        }
    )
