"""Make the dashboard's bairro map from the shared boundary file, once.

    python scripts/simplify_bairros.py [../shared/data/salvador_bairros_limites.geojson]

Writes ``data/reference/salvador_bairros_map.geojson``: the Prefeitura's 170
bairro polygons (3.5 MB) simplified as a coverage, so neighbouring bairros
keep one shared border, with clockwise exterior rings (Vega, and so Altair,
fills the outside of the city for a counter-clockwise ring), coordinates
rounded to 5 decimals (about 1 m) and only the bairro's name kept, spelled as
in ``salvador_bairros.csv``. The output is committed: the pipeline runs where
``../shared`` does not exist, and shapely is needed only here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import shapely

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO.parent / "shared" / "data" / "salvador_bairros_limites.geojson"
TARGET = REPO / "data" / "reference" / "salvador_bairros_map.geojson"
# shared/data/SOURCES.md: keeps every bairro's area within 1.5 % at ~0.25 MB.
TOLERANCE_DEGREES = 0.0002
DECIMALS = 5
# The two source spellings salvador_bairros.csv fixes (its SOURCES.md).
NAME_FIXES = {"´": "'", "\\": "/"}


def fixed_name(name: str) -> str:
    for wrong, right in NAME_FIXES.items():
        name = name.replace(wrong, right)
    return name


def simplify(source: Path) -> dict:
    raw = json.loads(source.read_text(encoding="utf-8"))
    names = [fixed_name(f["properties"]["nome_bairr"]) for f in raw["features"]]
    shapes = [shapely.geometry.shape(f["geometry"]) for f in raw["features"]]
    simple = shapely.coverage_simplify(shapes, TOLERANCE_DEGREES)
    simple = shapely.orient_polygons(simple, exterior_cw=True)
    simple = shapely.set_precision(simple, 10**-DECIMALS)
    features = [
        {
            "type": "Feature",
            "properties": {"bairro": name},
            "geometry": shapely.geometry.mapping(
                shapely.orient_polygons(geometry, exterior_cw=True)
            ),
        }
        for name, geometry in zip(names, simple, strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else SOURCE
    if not source.is_file():
        print(f"error: {source} not found (the shared boundary file)", file=sys.stderr)
        return 2
    collection = simplify(source)
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
    TARGET.write_text(text + "\n", encoding="utf-8")
    print(f"{TARGET}: {len(collection['features'])} bairros, {len(text):,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
