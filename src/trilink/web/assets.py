"""Where the page's files come from: our static files, npm packages, built map data.

Nothing third-party is committed. Leaflet and topojson-client (JavaScript) and the
Natural Earth TopoJSON of ``world-atlas`` come from the npm registry through the
repository's ``package.json`` and lock file (``npm ci`` puts them in ``node_modules/``);
the server serves them from there. The partner's land, 12-nm sea and 200-nm zone come
from ``territory.geojson``, which ``scripts/build_geodata.py`` builds from the same
Natural Earth data (:mod:`trilink.alerts.territory`).

``node_modules`` is looked for in ``$TRILINK_NODE_MODULES``, then in the directories
above this package (the repository of an editable install), then in the working directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from trilink.errors import AssetsMissing

STATIC_DIR = Path(__file__).resolve().parent / "static"
ENV_VAR = "TRILINK_NODE_MODULES"
NPM_HINT = "run `npm ci` in the repository root (or set $TRILINK_NODE_MODULES)"

VENDOR_FILES = {
    # URL path under /vendor/ -> path under node_modules
    "leaflet/leaflet.js": "leaflet/dist/leaflet.js",
    "leaflet/leaflet.css": "leaflet/dist/leaflet.css",
    "topojson-client/topojson-client.min.js": "topojson-client/dist/topojson-client.min.js",
}
MAP_FILES = {
    # URL path under /data/ -> path under node_modules
    "countries-50m.json": "world-atlas/countries-50m.json",
    "countries-110m.json": "world-atlas/countries-110m.json",
}


@dataclass(frozen=True)
class Assets:
    """Resolved locations of everything the page loads besides our own static files."""

    node_modules: Path
    territory_geojson: Path | None

    def vendor(self, name: str) -> Path | None:
        rel = VENDOR_FILES.get(name)
        return None if rel is None else self.node_modules / rel

    def map_file(self, name: str) -> Path | None:
        rel = MAP_FILES.get(name)
        return None if rel is None else self.node_modules / rel

    def territory(self, nation: str) -> dict[str, object]:
        """GeoJSON FeatureCollection of ``nation``'s land, territorial sea and zone.

        Without built data: an empty collection whose ``note`` says how to build it (the
        page shows the note; a 404 would only be a console error)."""
        if self.territory_geojson is None or not self.territory_geojson.is_file():
            return {
                "type": "FeatureCollection",
                "features": [],
                "note": "territory data not built: run scripts/build_geodata.py",
            }
        data = json.loads(self.territory_geojson.read_text())
        feats = [f for f in data.get("features", []) if f["properties"].get("nation") == nation]
        return {"type": "FeatureCollection", "features": feats}


def find_node_modules(start: Path | None = None) -> Path:
    """The ``node_modules`` directory holding every vendor and map file, or AssetsMissing."""
    candidates: list[Path] = []
    env = os.environ.get(ENV_VAR)
    if env:
        candidates.append(Path(env))
    here = (start or Path(__file__)).resolve()
    candidates += [p / "node_modules" for p in here.parents]
    candidates.append(Path.cwd() / "node_modules")
    needed = [*VENDOR_FILES.values(), *MAP_FILES.values()]
    for c in candidates:
        if all((c / rel).is_file() for rel in needed):
            return c
    first = candidates[0] if env else Path.cwd() / "node_modules"
    missing = next((rel for rel in needed if not (first / rel).is_file()), needed[0])
    raise AssetsMissing(str(first / missing), NPM_HINT)


def find_assets(node_modules: Path | None = None) -> Assets:
    """Locate the npm files (required) and the territory GeoJSON (optional)."""
    from trilink.alerts.territory import data_dir  # shapely only when the server starts

    territory = data_dir() / "territory.geojson"
    return Assets(
        node_modules=node_modules if node_modules is not None else find_node_modules(),
        territory_geojson=territory if territory.is_file() else None,
    )
