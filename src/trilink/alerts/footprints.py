"""Where each released track's geometry meets one partner's areas: the rules' facts.

:func:`footprints` gives, for every product of a call (:mod:`trilink.alerts.batch`),
the :class:`~trilink.alerts.rules.Footprint` that :func:`trilink.alerts.rules.footprint`
would give one at a time: does the remaining ground track cross the partner's territory
(overflight), which area does the 95 % impact ellipse reach, which holds the nominal
impact point. All products at once: a product's bounding box that misses an area settles
that test without drawing its geometry; the rest are drawn once per cycle (for whichever
partner asks first) and tested with one vectorised shapely predicate per area
(prepared geometries). An ellipse whose box lies inside an area, or misses it, is
placed without drawing, and so is its nominal impact point; a track's box that its
last answer settles skips GEOS (both in :mod:`trilink.alerts.box_tests`).

The 3-sigma ellipse's distance to the zone is left lazy: the rules need it only to
release a held threat (``Footprint.beyond``), a warning's text when it is sent.
:func:`near_distance_m` measures it on the zone's boundary segments near the ring
instead of projecting the whole zone (bit for bit the same value, tested).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import NDArray

from trilink.alerts.batch import (
    M_MIN,
    RING_POINTS,
    Product,
    clear_ring,
    draw_ellipses,
    draw_lines,
    ring_degrees,
    ring_parameter,
    sparse_samples,
)
from trilink.alerts.box_tests import _areas, _box_place, _hits, _near
from trilink.alerts.projection import aeqd_sphere_forward
from trilink.alerts.rules import Footprint, WarningRules
from trilink.alerts.territory import (
    LAND,
    OUTSIDE,
    TERRITORIAL_SEA,
    ZONE,
    Territory,
    _any_shift,
    _circular_mean,
)
from trilink.geo.kernels_geodesic import ring_segment_bound
from trilink.geo.wgs84 import E2, A, F

Array = NDArray[np.float64]


def footprints(
    products: Sequence[Product], territory: Territory, rules: WarningRules = WarningRules()
) -> list[Footprint | None]:
    """Each flying product's :class:`Footprint` against ``territory`` (None when not
    flying: the rules then do not assess it). The same answers as
    :func:`~trilink.alerts.rules.footprint`; geometry is drawn only for products whose
    bounding box meets the area, and the distance is left lazy."""
    out: list[Footprint | None] = [None] * len(products)
    # A flying product has a ground track (of >= 2 samples) exactly when it has an
    # impact prediction (threat_products): both tests concern the same products.
    aimed = [p for p in products if p.flying and p.threat.impact is not None]
    over: dict[int, bool] = {}
    place: dict[int, int] = {}
    facts: dict[int, Footprint] = {}
    if aimed:
        kind = rules.overflight_kind
        area = getattr(territory, kind)
        near = _near(area, [p.track_box for p in aimed], [("t", p.threat.track_id) for p in aimed])
        crossing = [p for p, hit in zip(aimed, near, strict=True) if hit]
        # A sample of the track inside the area: the track crosses it (no need to draw
        # it). Worth its overhead only for many tracks (a salvo's few short ones are
        # drawn at once).
        if len(crossing) > 8:
            sparse_samples(crossing)
        sampled = [p for p in crossing if p.sparse is not None]
        if sampled:
            x = np.concatenate([p.sparse[0] for p in sampled])  # type: ignore[index]
            y = np.concatenate([p.sparse[1] for p in sampled])  # type: ignore[index]
            inside = shapely.intersects_xy(area, x, y)
            sizes = np.array([len(p.sparse[0]) for p in sampled])  # type: ignore[index]
            starts = np.cumsum(sizes) - sizes
            for p, any_in in zip(sampled, np.logical_or.reduceat(inside, starts), strict=True):
                if any_in:
                    over[id(p)] = True
        rest = [p for p in crossing if id(p) not in over]
        draw_lines(rest)
        hits = _hits(territory, kind, [p.line for p in rest])
        over.update({id(p): bool(h) for p, h in zip(rest, hits, strict=True)})
        near = _near(
            _areas(territory),
            [p.ellipse_box for p in aimed],
            [("e", p.threat.track_id) for p in aimed],
        )
        close = [p for p, hit in zip(aimed, near, strict=True) if hit]
        # The nominal impact point lies in its ellipse's box: a box off every area puts
        # it outside, and a box placed without drawing places it too.
        where_of = {id(p): OUTSIDE for p, hit in zip(aimed, near, strict=True) if not hit}
        for p in close:
            by_box = _box_place(territory, p)
            if by_box is not None:
                place[id(p)] = where_of[id(p)] = by_box
        drawn = [p for p in close if id(p) not in place]
        if drawn:
            draw_ellipses(drawn, rules)
            polys = [p.ellipse for p in drawn]
            land = _hits(territory, "land", polys)
            sea = _hits(territory, "territorial", polys)
            zone = _hits(territory, "zone", polys)
            code = np.where(
                land, LAND, np.where(sea, TERRITORIAL_SEA, np.where(zone, ZONE, OUTSIDE))
            )
            place.update({id(p): int(c) for p, c in zip(drawn, code, strict=True)})
        located = [p for p in aimed if id(p) not in where_of]
        if located:
            codes = territory.locate(
                np.array([p.threat.impact.lat_rad for p in located]),  # type: ignore[union-attr]
                np.array([p.threat.impact.lon_rad for p in located]),  # type: ignore[union-attr]
            )
            where_of.update(zip(map(id, located), codes.tolist(), strict=True))
        for p in aimed:
            facts[id(p)] = Footprint(
                over.get(id(p), False),
                place.get(id(p), OUTSIDE),
                where_of[id(p)],
                distance_fn=_distance_fn(p, territory, rules),
                radius_aware=True,
            )
    for k, p in enumerate(products):
        if p.flying:  # without a prediction: no ground track, no ellipse
            out[k] = facts.get(id(p)) or Footprint(False, OUTSIDE, OUTSIDE, distance_m=math.inf)
    return out


def _distance_fn(product: Product, territory: Territory, rules: WarningRules):
    key = (id(territory), product.threat.track_id)

    def distance(radius_m: float | None = None, *, upper: bool = False) -> float | None:
        if upper:
            return _upper_bound_m(territory, product, _NEAREST.get(key), rules.clear_k)
        if product.clear is None:  # drawn once, for whichever partner asks
            product.clear = ClearRing(clear_ring(product, rules))
        if radius_m is None:
            return distance_near_m(territory, product.clear, "zone")
        d, nearest = _within(territory, product.clear, "zone", radius_m)
        if nearest is not None:
            if len(_NEAREST) > 100_000:  # a cache: bounded, any entry may go
                _NEAREST.clear()
            _NEAREST[key] = nearest
        return d

    return distance


_NEAREST: dict[tuple[int, str], int] = {}
"""(territory, track) -> the zone segment nearest that track's 3-sigma ellipse the last
time it was measured. A held threat is re-checked every cycle; the ellipse moves little,
so that segment's distance, an upper bound on the true one, usually settles it."""


def _upper_bound_m(territory: Territory, product: Product, nearest: int | None, k: float) -> float:
    """An upper bound [m] on the ``k``-sigma ring's distance to the zone as
    ``Territory.distance_m`` measures it: the distance, in the same plane, to one zone
    segment (the one nearest last time), plus a metre for round-off
    (:func:`~trilink.geo.kernels_geodesic.ring_segment_bound`, one compiled call: no
    ring drawn in NumPy, no zone projected). Inf without a segment, or for a ring near
    the antimeridian or a pole (where the full method shifts and clips differently)."""
    imp = product.threat.impact
    if nearest is None or imp is None:
        return math.inf
    if abs(imp.lat_rad) > math.radians(65.0) or abs(imp.lon_rad) > math.radians(170.0):
        return math.inf
    _, seg = _segments(territory, "zone")
    if nearest >= len(seg):
        return math.inf
    lon0, lat0, lon1, lat1 = np.radians(seg[nearest])
    cos_t, sin_t = ring_parameter(RING_POINTS)
    bound = ring_segment_bound(
        imp.lat_rad, imp.lon_rad, imp.semi_major_m, imp.semi_minor_m, imp.orientation_rad,
        float(k), cos_t, sin_t, np.array([lat0, lon0, lat1, lon1]), _BOUND_CONSTS,
    )  # fmt: skip
    return float(bound) + 1.0


_BOUND_CONSTS = np.array([A, F, E2])


class ClearRing:
    """A closed ring (n + 1, 2) rad with what measuring from it needs, made once: its
    polygon in degrees (as ``territory._polygon_deg``), its box, and its polygon in the
    spherical AEQD plane about its mean point (as ``Territory.distance_m`` places it)."""

    __slots__ = ("box", "centre", "planar", "poly_deg", "reach", "ring")

    def __init__(self, ring_rad: Array):
        self.ring = np.asarray(ring_rad, dtype=float)
        self.poly_deg = shapely.Polygon(ring_degrees(self.ring))  # = _polygon_deg(ring)
        self.box = shapely.bounds(self.poly_deg)  # lon, lat deg
        self.centre = np.array([self.ring[:, 0].mean(), _circular_mean(self.ring[:, 1])])
        planar = aeqd_sphere_forward(self.ring, self.centre)
        self.planar = shapely.Polygon(planar)
        self.reach = float(np.max(np.hypot(planar[:, 0], planar[:, 1])))  # from the origin


_SEGMENTS: weakref.WeakKeyDictionary[Territory, dict[str, tuple]] = weakref.WeakKeyDictionary()


def _segments(territory: Territory, kind: str) -> tuple[shapely.STRtree, Array]:
    """The boundary segments ``[lon0, lat0, lon1, lat1]`` deg (S, 4) of an area and a
    tree of their bounding boxes, made once per territory and area."""
    per = _SEGMENTS.setdefault(territory, {})
    if kind not in per:
        parts = shapely.get_parts(getattr(territory, kind))
        segs = [np.zeros((0, 4))]
        for ring in shapely.get_rings(parts):
            xy = shapely.get_coordinates(ring)
            segs.append(np.hstack([xy[:-1], xy[1:]]))
        seg = np.concatenate(segs)
        boxes = shapely.box(
            np.minimum(seg[:, 0], seg[:, 2]), np.minimum(seg[:, 1], seg[:, 3]),
            np.maximum(seg[:, 0], seg[:, 2]), np.maximum(seg[:, 1], seg[:, 3]),
        )  # fmt: skip
        per[kind] = (shapely.STRtree(boxes), seg)
    return per[kind]


def distance_near_m(territory: Territory, ring: Array | ClearRing, kind: str = "zone") -> float:
    """:meth:`Territory.distance_m` (bit for bit), from the area's segments near the ring
    (:func:`within_m`) when it is under ``FAR_M``, else by the full method."""
    clear = ring if isinstance(ring, ClearRing) else ClearRing(ring)
    d = within_m(territory, clear, kind, 2.0 * FAR_M)
    return territory.distance_m(clear.ring, kind) if d is None else d


FAR_M = 1000e3
"""Beyond this the full method measures: its 2,000-km window then may cut the nearest
segment (below it, the nearest segment lies well inside the window up to 70 deg of
latitude, where :func:`within_m` stops)."""


def within_m(
    territory: Territory, ring: Array | ClearRing, kind: str, radius_m: float
) -> float | None:
    """:meth:`Territory.distance_m` if it is under ``radius_m / 2``, else None (it is then
    at least ``radius_m / 2``), measured on the area's boundary segments near the ring
    (:func:`_within`)."""
    return _within(territory, ring, kind, radius_m)[0]


def _within(
    territory: Territory, ring: Array | ClearRing, kind: str, radius_m: float
) -> tuple[float | None, int | None]:
    """:meth:`Territory.distance_m` if it is under ``radius_m / 2``, else None (it is then
    at least ``radius_m / 2``), measured on the area's boundary segments near the ring.

    ``distance_m`` clips the area to a 2,000-km window, projects all of it about the
    ring's centre (spherical AEQD) and measures in that plane. The nearest segment pair
    is the same if it lies near the ring, and GEOS measures a pair the same way whatever
    else the geometry holds (the tests find the two bit for bit equal). Segments whose
    box misses the ring's box widened by ``radius_m`` (lat by r / M_min, lon by
    r / (a cos(phi_max)), as for ellipses) are at least ``radius_m`` away on the
    ellipsoid, and the AEQD plane shortens no distance (its scale is >= 1: Snyder 1987,
    eq. 25-2) beyond the 0.3 % of the Gaussian radius and the bend of a projected chord
    (metres for the <= 51-km segments of the built zones): so the nearest segment, if
    under ``radius_m / 2``, is among those measured. Past 70 deg of latitude (with the
    radius) or the antimeridian the full method answers.
    """
    clear = ring if isinstance(ring, ClearRing) else ClearRing(ring)
    geom = getattr(territory, kind)
    if _any_shift(clear.poly_deg, geom, shapely.intersects):
        return 0.0, None
    lon_lo, lat_lo, lon_hi, lat_hi = clear.box
    dlat = math.degrees(radius_m / M_MIN)
    phi_max = math.radians(max(abs(lat_lo), abs(lat_hi)) + dlat)
    if phi_max > math.radians(70.0) or not lon_lo >= -180.0 or not lon_hi <= 180.0:
        d = territory.distance_m(clear.ring, kind)
        return (d if d < radius_m / 2 else None), None
    dlon = math.degrees(radius_m / (A * math.cos(phi_max)))
    if lon_lo - dlon < -180.0 or lon_hi + dlon > 180.0:
        d = territory.distance_m(clear.ring, kind)
        return (d if d < radius_m / 2 else None), None
    tree, seg = _segments(territory, kind)
    idx = tree.query(shapely.box(lon_lo - dlon, lat_lo - dlat, lon_hi + dlon, lat_hi + dlat))
    if idx.size == 0:
        return None, None
    ends = np.radians(seg[idx].reshape(-1, 2)[:, ::-1])  # [lat, lon] of both ends
    xy = aeqd_sphere_forward(ends, clear.centre).reshape(-1, 2, 2)
    # The ring lies in the disc of radius `reach` about the plane's origin (its centre):
    # a segment at c from the origin is at least c - reach from the ring, and no more
    # than c + reach. Only segments that could be nearest go to GEOS.
    c = _origin_distance(xy)
    keep = np.flatnonzero(c - clear.reach <= np.min(c) + clear.reach + 1.0)
    each = shapely.distance(clear.planar, shapely.linestrings(xy[keep]))
    j = int(np.argmin(each))
    d = float(each[j])
    return (d if d < radius_m / 2 else None), int(idx[keep[j]])


def _origin_distance(xy: Array) -> Array:
    """Distance [m] from the plane's origin to each segment (S, 2, 2)."""
    p, q = xy[:, 0], xy[:, 1]
    pq = q - p
    length2 = np.einsum("si,si->s", pq, pq)
    t = np.clip(-np.einsum("si,si->s", p, pq) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    return np.hypot(*(p + t[:, None] * pq).T)
