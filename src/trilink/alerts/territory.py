"""Each partner's land, territorial sea and 200-nm zone, loaded from the build-time files,
with the vectorised questions the warning rules ask of them.

The sea areas stop at the median line with every other country (format 2 of the files:
:mod:`trilink.alerts.median`), so no two nations' areas overlap.

The files are made by ``scripts/build_geodata.py`` (see :mod:`trilink.alerts.geodata`)
into ``src/trilink/alerts/data/`` or the directory named by ``$TRILINK_GEODATA_DIR``.
Nothing is fetched at run time; if the files are missing, :class:`GeodataMissing` says
which command builds them.

Geometries are shapely objects in degrees (x = lon, y = lat); every function here takes
radians (and metres) and converts at the call.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
import shapely.affinity
from numpy.typing import ArrayLike, NDArray
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from trilink.alerts.geodata import FORMAT_VERSION
from trilink.alerts.projection import aeqd_sphere_forward
from trilink.errors import GeodataMissing

Array = NDArray[np.float64]

DATA_DIR = Path(__file__).resolve().parent / "data"
ENV_VAR = "TRILINK_GEODATA_DIR"
BUILD_HINT = "build it with `npm ci && .venv/bin/python scripts/build_geodata.py` (or `make setup`)"
KINDS = ("land", "territorial", "zone")

# Codes returned by Territory.locate, innermost wins.
OUTSIDE, ZONE, TERRITORIAL_SEA, LAND = 0, 1, 2, 3
PLACE_NAMES = {OUTSIDE: "outside", ZONE: "zone", TERRITORIAL_SEA: "territorial", LAND: "land"}


def data_dir() -> Path:
    """Where the territory files are read from (``$TRILINK_GEODATA_DIR`` or the package)."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else DATA_DIR


@dataclass(frozen=True, eq=False)
class Territory:
    """One nation's areas (shapely, degrees): ``land`` within ``territorial`` within ``zone``."""

    nation: str
    name: str
    land: BaseGeometry
    territorial: BaseGeometry
    zone: BaseGeometry

    def __post_init__(self) -> None:
        # Prepared geometries make the vectorised predicates fast (GEOS prepared index).
        for g in (self.land, self.territorial, self.zone):
            shapely.prepare(g)

    def locate(self, lat_rad: ArrayLike, lon_rad: ArrayLike) -> NDArray[np.int8]:
        """Per point: LAND, TERRITORIAL_SEA, ZONE or OUTSIDE (innermost area that holds it)."""
        lat = np.degrees(np.asarray(lat_rad, dtype=float))
        lon = _wrap_deg(np.degrees(np.asarray(lon_rad, dtype=float)))
        code = np.zeros(np.broadcast(lat, lon).shape, dtype=np.int8)
        for value, geom in (
            (ZONE, self.zone),
            (TERRITORIAL_SEA, self.territorial),
            (LAND, self.land),
        ):
            code = np.where(shapely.intersects_xy(geom, lon, lat), np.int8(value), code)
        return code

    def area_intersects(self, ring_rad: ArrayLike, kind: str = "zone") -> bool:
        """Does a closed ``[lat, lon]`` rad ring (n, 2) overlap the ``kind`` area?"""
        return bool(_any_shift(_polygon_deg(ring_rad), getattr(self, kind), shapely.intersects))

    def area_place(self, ring_rad: ArrayLike) -> int:
        """Innermost area (LAND, TERRITORIAL_SEA, ZONE, OUTSIDE) that a ring overlaps."""
        poly = _polygon_deg(ring_rad)
        for value, geom in (
            (LAND, self.land),
            (TERRITORIAL_SEA, self.territorial),
            (ZONE, self.zone),
        ):
            if _any_shift(poly, geom, shapely.intersects):
                return value
        return OUTSIDE

    def track_crosses(self, track_rad: ArrayLike, kind: str = "territorial") -> bool:
        """Does a ground track ``[lat, lon]`` rad (n, 2) pass over the ``kind`` area?"""
        track = np.asarray(track_rad, dtype=float)
        if track.ndim != 2 or track.shape[0] == 0:
            return False
        geom = getattr(self, kind)
        if track.shape[0] == 1:
            return bool(self.locate(track[0, 0], track[0, 1]) >= _KIND_CODE[kind])
        lon = np.degrees(np.unwrap(track[:, 1]))  # continuous across the antimeridian
        line = LineString(np.column_stack([lon, np.degrees(track[:, 0])]))
        return bool(_any_shift(line, geom, shapely.intersects))

    def distance_m(
        self, ring_rad: ArrayLike, kind: str = "zone", horizon_m: float = 2.0e6
    ) -> float:
        """Shortest distance [m] from a closed ring to the ``kind`` area; 0 if they overlap.

        Measured in a spherical azimuthal-equidistant plane centred on the ring's mean
        point, with the area clipped to a window ``horizon_m`` around it (the AEQD is only
        metric near its centre): distances past the window come back as ``inf``.
        Accuracy 0.2-0.3 % of the distance (see :mod:`trilink.alerts.projection`).
        """
        ring = np.asarray(ring_rad, dtype=float)
        centre = np.array([ring[:, 0].mean(), _circular_mean(ring[:, 1])])
        geom = getattr(self, kind)
        poly_deg = _polygon_deg(ring)
        if _any_shift(poly_deg, geom, shapely.intersects):
            return 0.0
        half_lat = math.degrees(horizon_m / 6.371e6)
        half_lon = min(180.0, half_lat / max(math.cos(centre[0]), 0.05))
        lat0, lon0 = math.degrees(centre[0]), math.degrees(centre[1])
        best = math.inf
        for shift in (-360.0, 0.0, 360.0):
            window = shapely.clip_by_rect(
                geom,
                lon0 - half_lon - shift,
                max(-90.0, lat0 - half_lat),
                lon0 + half_lon - shift,
                min(90.0, lat0 + half_lat),
            )
            if window.is_empty:
                continue
            window = shapely.affinity.translate(window, xoff=shift)
            projected = shapely.transform(window, lambda xy: _project(xy, centre))
            ring_xy = aeqd_sphere_forward(ring, centre)
            d = shapely.distance(Polygon(ring_xy), projected)
            best = min(best, float(d))
        return best if best <= horizon_m else math.inf


_KIND_CODE = {"land": LAND, "territorial": TERRITORIAL_SEA, "zone": ZONE}


def _project(xy_deg: Array, centre_rad: Array) -> Array:
    latlon = np.radians(np.column_stack([xy_deg[:, 1], xy_deg[:, 0]]))
    return aeqd_sphere_forward(latlon, centre_rad)


def _wrap_deg(lon_deg: Array) -> Array:
    return np.mod(lon_deg + 180.0, 360.0) - 180.0


def _circular_mean(lon_rad: Array) -> float:
    return float(np.arctan2(np.sin(lon_rad).mean(), np.cos(lon_rad).mean()))


def _polygon_deg(ring_rad: ArrayLike) -> Polygon:
    ring = np.asarray(ring_rad, dtype=float)
    lon = np.degrees(np.unwrap(ring[:, 1]))
    return Polygon(np.column_stack([lon, np.degrees(ring[:, 0])]))


def _any_shift(shape: BaseGeometry, geom: BaseGeometry, predicate) -> bool:
    """Apply a predicate to ``shape`` and its copies shifted by +-360 deg of longitude, so
    that shapes with unrolled longitudes meet areas stored within [-180, 180]."""
    if predicate(geom, shape):
        return True
    xmin, _, xmax, _ = shape.bounds
    if xmax > 180.0 and predicate(geom, shapely.affinity.translate(shape, xoff=-360.0)):
        return True
    return bool(xmin < -180.0 and predicate(geom, shapely.affinity.translate(shape, xoff=360.0)))


def _read(path: Path) -> BaseGeometry:
    if not path.is_file():
        raise GeodataMissing(str(path), BUILD_HINT)
    return shapely.from_wkb(path.read_bytes())


@functools.cache
def _load(nation: str, directory: str) -> Territory:
    base = Path(directory)
    manifest_path = base / "manifest.json"
    if not manifest_path.is_file():
        raise GeodataMissing(str(manifest_path), BUILD_HINT)
    manifest = json.loads(manifest_path.read_text())
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        # Built by an older trilink (e.g. zones without median lines, which overlap):
        # refused rather than warned on.
        raise GeodataMissing(
            str(manifest_path),
            f"format {version}, this trilink needs {FORMAT_VERSION}; {BUILD_HINT}",
        )
    entry = manifest.get("nations", {}).get(nation)
    if entry is None:
        have = ", ".join(sorted(manifest.get("nations", {})))
        raise GeodataMissing(
            str(base / f"{nation}.*.wkb"),
            f"no territory for {nation!r} (have {have}); {BUILD_HINT}",
        )
    geoms = {kind: _read(base / entry["files"][kind]["file"]) for kind in KINDS}
    return Territory(nation=nation, name=entry["name"], **geoms)


def load_territory(nation: str, directory: Path | None = None) -> Territory:
    """The built territory of one nation (``"KOR"``, ``"JPN"``, ``"USA"``, ``"PRK"``)."""
    return _load(nation, str(directory if directory is not None else data_dir()))


def load_territories(
    nations: tuple[str, ...] = ("KOR", "JPN", "USA"), directory: Path | None = None
) -> dict[str, Territory]:
    """Territories of several nations, keyed by code."""
    return {n: load_territory(n, directory) for n in nations}


def geodata_manifest(directory: Path | None = None) -> dict:
    """The build manifest (source package, checksums, buffer distances)."""
    path = (directory if directory is not None else data_dir()) / "manifest.json"
    if not path.is_file():
        raise GeodataMissing(str(path), BUILD_HINT)
    return json.loads(path.read_text())
