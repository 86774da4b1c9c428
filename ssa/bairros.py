"""Salvador's 170 official bairros as arrays the generator can index fast.

The reference CSV is the Prefeitura's boundary file with IBGE census counts
(see ``data/reference/SOURCES.md``). Distances are great-circle between
centroids; the islands in the Baía de Todos os Santos are reachable only by
boat, which the generator's travel pace already allows for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

EARTH_RADIUS_KM = 6371.0088
ISLANDS = (
    "Ilha de Maré",
    "Ilha dos Frades/Ilha de Santo Antônio",
    "Ilha de Bom Jesus dos Passos",
)
# Aeroporto has 0 inhabitants and Centro Administrativo 151 in 2022: floor them
# so customers can still live there rarely (SOURCES.md asks for a floor).
POPULATION_FLOOR = 500
REQUIRED_COLUMNS = ("name", "lat", "lon", "area_km2", "population_2022", "zone")


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance; the same formula the Silver SQL uses."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat = p2 - p1
    dlon = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True)
class Bairros:
    """Columns of the reference table plus the derived distance matrix."""

    names: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    area_km2: np.ndarray
    population: np.ndarray
    zone: np.ndarray
    is_island: np.ndarray
    distance_km: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    @property
    def home_weights(self) -> np.ndarray:
        """Where people live: 2022 census population with a floor."""
        pop = np.maximum(self.population, POPULATION_FLOOR).astype(float)
        return pop / pop.sum()

    def nearest(self, k: int) -> np.ndarray:
        """Indices of each bairro's k nearest others (same shore)."""
        d = self.distance_km.copy()
        np.fill_diagonal(d, np.inf)
        # Islands and mainland are not neighbours: the trip needs a boat.
        d[np.ix_(self.is_island, ~self.is_island)] = np.inf
        d[np.ix_(~self.is_island, self.is_island)] = np.inf
        order = np.argsort(d, axis=1, kind="stable")[:, :k]
        # An island with fewer than k same-shore neighbours keeps itself.
        own = np.arange(len(self))[:, None]
        return np.where(np.isfinite(np.take_along_axis(d, order, 1)), order, own)


def load_bairros(path: Path) -> Bairros:
    """Read the reference CSV and fail with the file name if it is unusable."""
    if not path.exists():
        raise FileNotFoundError(f"bairro reference table not found: {path}")
    frame = pd.read_csv(path, encoding="utf-8")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    frame = frame.sort_values("name", kind="stable").reset_index(drop=True)
    lat = frame["lat"].to_numpy(float)
    lon = frame["lon"].to_numpy(float)
    distance = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    return Bairros(
        names=frame["name"].to_numpy(str),
        lat=lat,
        lon=lon,
        area_km2=frame["area_km2"].to_numpy(float),
        population=frame["population_2022"].to_numpy(int),
        zone=frame["zone"].to_numpy(str),
        is_island=frame["name"].isin(ISLANDS).to_numpy(),
        distance_km=distance,
    )
