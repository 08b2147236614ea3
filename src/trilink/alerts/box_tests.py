"""Does a box or a shape meet a partner's area? The footprints' tests, with the
shortcuts that spare GEOS and drawing (:mod:`trilink.alerts.footprints`).

- :func:`_near`: which boxes may hold something that meets an area (off the area's
  bounds: no; settled by the same track's last answer: that answer).
- :func:`_box_place`: an ellipse's place from its box alone, when the box lies inside an
  area or misses it (the polygon lies in the box).
- :func:`_hits`: which drawn shapes meet an area, with the +-360 deg copies where needed.
"""

from __future__ import annotations

import math
import weakref

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from trilink.alerts.batch import Product
from trilink.alerts.territory import (
    LAND,
    OUTSIDE,
    TERRITORIAL_SEA,
    ZONE,
    Territory,
    _any_shift,
)


def _box_place(territory: Territory, product: Product) -> int | None:
    """The ellipse's place (LAND, TERRITORIAL_SEA, ZONE, OUTSIDE), as its drawn polygon
    would test, from its box alone, or None when the box cannot tell. The polygon lies
    in the box (``batch.threat_products``): an area the box misses, the polygon misses;
    an area that covers the box holds the whole polygon, so the two meet. Areas in the
    rules' order (innermost first); the first the box meets but does not lie in leaves
    the answer to the polygon. Only for a box within +-180 deg (no shifted copies) and
    a proper ellipse (both semi-axes > 0: its polygon has interior points)."""
    lo_x, lo_y, hi_x, hi_y = product.ellipse_box
    imp = product.threat.impact
    if not (lo_x >= -180.0 and hi_x <= 180.0 and math.isfinite(lo_y + hi_y)):
        return None
    if imp is None or not (imp.semi_minor_m > 0.0 and imp.semi_major_m > 0.0):
        return None
    box = (lo_x, lo_y, hi_x, hi_y)
    key = product.threat.track_id
    for code, geom in (
        (LAND, territory.land),
        (TERRITORIAL_SEA, territory.territorial),
        (ZONE, territory.zone),
    ):
        relation = _relation(geom, box, key)
        if relation != _MISSES:
            return code if relation == _INSIDE else None
    return OUTSIDE


_MISSES, _INSIDE, _STRADDLES = 0, 1, 2


def _relation(geom: BaseGeometry, box: tuple[float, ...], key: str) -> int:
    """Whether a box misses an area, lies inside it, or straddles its edge. As in
    :func:`_near_one`, the last answer for the key is kept as a box it settles: the box
    widened by ``SETTLE_DEG`` if that too misses the area, or lies inside it; a later box
    inside that one has the same relation."""
    lo_x, lo_y, hi_x, hi_y = box
    memo = _RELATED.get((id(geom), key))
    if memo is not None and memo[0] is geom:
        _, relation, (a, b, c, d) = memo
        if lo_x >= a and lo_y >= b and hi_x <= c and hi_y <= d:
            return relation
    shape = shapely.box(lo_x, lo_y, hi_x, hi_y)
    if not shapely.intersects(geom, shape):
        relation = _MISSES
    elif shapely.covers(geom, shape):
        relation = _INSIDE
    else:
        return _STRADDLES
    wide = (lo_x - SETTLE_DEG, lo_y - SETTLE_DEG, hi_x + SETTLE_DEG, hi_y + SETTLE_DEG)
    if relation == _MISSES:
        ok = not shapely.intersects(geom, shapely.box(*wide))
    else:
        ok = bool(shapely.covers(geom, shapely.box(*wide)))
    if ok:
        if len(_RELATED) > 100_000:  # a cache: bounded, any entry may go
            _RELATED.clear()
        _RELATED[(id(geom), key)] = (geom, relation, wide)
    return relation


_RELATED: dict[tuple, tuple[BaseGeometry, int, tuple[float, ...]]] = {}
"""(area, track) -> (area, relation, box): the last box :func:`_relation` settled."""


_AREAS: weakref.WeakKeyDictionary[Territory, BaseGeometry] = weakref.WeakKeyDictionary()


def _areas(territory: Territory) -> BaseGeometry:
    """The union of the territory's three areas, prepared (a box meets it when it meets
    any of them; one test instead of three), made once per territory (2-35 ms)."""
    areas = _AREAS.get(territory)
    if areas is None:
        areas = shapely.union_all([territory.land, territory.territorial, territory.zone])
        shapely.prepare(areas)
        _AREAS[territory] = areas
    return areas


def _near(
    geom: BaseGeometry, boxes: list[tuple[float, ...]], keys: list[tuple[str, str]] | None = None
) -> NDArray[np.bool_]:
    """Which boxes may hold something that meets ``geom``: a box meets it, or reaches
    past +-180 deg (then territory._any_shift's copies apply: no shortcut), or is NaN
    (no box). A box off the area's own bounds misses it without asking GEOS; with
    ``keys`` (one per box: which box of which track), a box that the last answer for
    its key settles (:func:`_near_one`) too."""
    x0, y0, x1, y1 = _bounds(geom)
    if len(boxes) <= 4:  # a few (a salvo's cycle): plain Python beats NumPy's overhead
        if keys is None:
            return np.array([_near_one(geom, b, x0, y0, x1, y1) for b in boxes], dtype=bool)
        return np.array(
            [_near_one(geom, b, x0, y0, x1, y1, k) for b, k in zip(boxes, keys, strict=True)],
            dtype=bool,
        )
    b = np.array(boxes, dtype=float).reshape(-1, 4)
    wraps = ~np.isfinite(b).all(axis=-1) | (b[:, 0] < -180.0) | (b[:, 2] > 180.0)
    inside = (b[:, 2] >= x0) & (b[:, 0] <= x1) & (b[:, 3] >= y0) & (b[:, 1] <= y1)
    near = wraps.copy()
    ok = np.flatnonzero(~wraps & inside)
    if ok.size:
        near[ok] = shapely.intersects(geom, shapely.box(b[ok, 0], b[ok, 1], b[ok, 2], b[ok, 3]))
    return near


def _near_one(geom: BaseGeometry, box: tuple[float, ...], x0, y0, x1, y1, key=None) -> bool:
    """:func:`_near` for one box.

    With a ``key``, what GEOS answered last time for that key is kept as a box it
    settles: a box around the one that missed (wider by ``SETTLE_DEG``), if it misses
    too; a box around the centre of one that met (``SETTLE_DEG`` each side), if the
    area covers it. A later box inside the first misses the area; one touching the
    second meets it (they share a point of the area). A track's boxes move little from
    cycle to cycle, so one GEOS call settles many; the answers are GEOS's own."""
    lo_x, lo_y, hi_x, hi_y = box
    if not (lo_x >= -180.0 and hi_x <= 180.0 and math.isfinite(lo_y + hi_y)):
        return True  # no box (NaN) or past +-180 deg
    if hi_x < x0 or lo_x > x1 or hi_y < y0 or lo_y > y1:
        return False
    if key is None:
        return bool(shapely.intersects(geom, shapely.box(lo_x, lo_y, hi_x, hi_y)))
    memo = _SETTLED.get((id(geom), key))
    if memo is not None and memo[0] is geom:
        _, meets, (a, b, c, d) = memo
        if meets:
            if lo_x <= c and hi_x >= a and lo_y <= d and hi_y >= b:
                return True
        elif lo_x >= a and lo_y >= b and hi_x <= c and hi_y <= d:
            return False
    hit = bool(shapely.intersects(geom, shapely.box(lo_x, lo_y, hi_x, hi_y)))
    if hit:
        cx, cy = 0.5 * (lo_x + hi_x), 0.5 * (lo_y + hi_y)
        settled = (cx - SETTLE_DEG, cy - SETTLE_DEG, cx + SETTLE_DEG, cy + SETTLE_DEG)
        ok = shapely.covers(geom, shapely.box(*settled))
    else:
        settled = (lo_x - SETTLE_DEG, lo_y - SETTLE_DEG, hi_x + SETTLE_DEG, hi_y + SETTLE_DEG)
        ok = not shapely.intersects(geom, shapely.box(*settled))
    if ok:
        if len(_SETTLED) > 100_000:  # a cache: bounded, any entry may go
            _SETTLED.clear()
        _SETTLED[(id(geom), key)] = (geom, hit, settled)
    return hit


SETTLE_DEG = 0.1
"""How far [deg] a settled box reaches past the box GEOS answered for (11 km of
latitude: a few cycles' drift of an impact prediction or a ground track's start)."""

_SETTLED: dict[tuple, tuple[BaseGeometry, bool, tuple[float, ...]]] = {}
"""(area, key) -> (area, meets, box): the last box GEOS settled for that key."""


_BOUNDS: dict[int, tuple[BaseGeometry, tuple[float, ...]]] = {}


def _bounds(geom: BaseGeometry) -> tuple[float, ...]:
    """An area's bounds (lon, lat deg), kept per geometry (they never change)."""
    got = _BOUNDS.get(id(geom))
    if got is None or got[0] is not geom:
        bounds = tuple(float(v) for v in shapely.bounds(geom))
        got = _BOUNDS[id(geom)] = (
            geom,
            (math.inf, math.inf, -math.inf, -math.inf) if not np.isfinite(bounds).all() else bounds,
        )
    return got[1]


def _hits(territory: Territory, kind: str, shapes: list) -> NDArray[np.bool_]:
    """Which shapes meet the ``kind`` area: one vectorised predicate, and the +-360 deg
    copies (territory._any_shift) only for the few shapes that cross the antimeridian."""
    if not shapes:
        return np.zeros(0, dtype=bool)
    geom = getattr(territory, kind)
    if len(shapes) <= 4:  # a few: plain calls beat building object arrays
        return np.array([_any_shift(s, geom, shapely.intersects) for s in shapes], dtype=bool)
    arr = np.empty(len(shapes), dtype=object)
    arr[:] = shapes
    hit = np.asarray(shapely.intersects(geom, arr), dtype=bool)
    bounds = shapely.bounds(arr)
    for j in np.flatnonzero(~hit & ((bounds[:, 2] > 180.0) | (bounds[:, 0] < -180.0))):
        hit[j] = _any_shift(shapes[j], geom, shapely.intersects)
    return hit
