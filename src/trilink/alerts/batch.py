"""The warning rules' geometry for many tracks at once: what the hub's warner runs.

:func:`trilink.alerts.threat_from_system_track` and :func:`trilink.alerts.assess` answer
for one track and one partner, one geometry at a time (the reference). A hub cycle asks
the same of every released track for every partner (1,000 tracks x 3 partners in the
soak of issue 7), so here:

- :func:`threat_products`: the :class:`Product` of each released track: its
  :class:`ThreatInput`, exactly as :func:`~trilink.alerts.threat_from_system_track` makes
  it, plus its geometry in degrees as shapely objects (95 % impact ellipse, remaining
  ground track). ECEF to geodetic for all tracks in one call; the ground tracks' inverse
  and direct geodesics and the ellipses' 73 points each run through compiled Vincenty
  loops (:func:`trilink.geo.geodesic.vincenty_inverse` / ``vincenty_direct``) instead of
  geographiclib and per-track NumPy. A product depends only on the released content, so
  the warner builds it once per cycle and shares it between the partners that receive it.
- :func:`footprints`: the :class:`~trilink.alerts.rules.Footprint` of each product for
  one partner: overflight, impact place and nominal place by vectorised shapely
  predicates over all products at once (prepared territory, one call per area); the
  3-sigma distance to the zone is left to be computed when asked (rarely: see
  :func:`~trilink.alerts.rules.decide`).

Differences from the reference: the ellipse points equal :func:`ellipse_ring`'s to a few
ulp and the ground-track points to ~1e-11 relative (Vincenty's inverse against
Karney's). The decisions are the same unless a vertex sits within that of an area's
edge; ``tests/alerts/test_alerts_warner_fast.py`` checks a recorded SRBM salvo byte for
byte against the reference's warnings.

Angles in radians, lengths in metres; shapely geometries in degrees (x = lon, y = lat).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from trilink import messages
from trilink.alerts.adapters import ground_point_to_impact
from trilink.alerts.projection import aeqd_sphere_forward, wrap_pi
from trilink.alerts.rules import PHASES, Footprint, ImpactPrediction, ThreatInput, WarningRules
from trilink.alerts.territory import (
    LAND,
    OUTSIDE,
    TERRITORIAL_SEA,
    ZONE,
    Territory,
    _any_shift,
    _circular_mean,
    _polygon_deg,
)
from trilink.geo.frames import ecef_to_geodetic
from trilink.geo.geodesic import geodesic_samples, vincenty_direct, vincenty_inverse
from trilink.geo.wgs84 import E2, A, F

Array = NDArray[np.float64]

RING_POINTS = 72  # vertices of the ellipse the rules test (ImpactPrediction.ring's default)
_UPPER = [(i, j) for i in range(6) for j in range(i, 6)]  # messages' packing order
_M_MIN = A * (1.0 - E2)  # smallest meridian radius of curvature (at the equator) [m]
_EDGE_RAD = 1e-7  # slack on every bounding box: far above the round-off it must absorb
_NO_BOX = (-math.inf, -math.inf, math.inf, math.inf)


class _PendingTrack(ThreatInput):
    """A :class:`ThreatInput` whose ground track is drawn when first read.

    Most released tracks' ground tracks pass nowhere near a partner's territory, which a
    bounding box shows without drawing them (:func:`footprints`); the samples are made
    only if someone reads ``ground_track_rad`` (then exactly as :func:`threat_products`
    draws them). ``dataclasses.replace`` reads every field, so a copy is an ordinary
    complete input.
    """

    def __getattr__(self, name: str):
        params = self.__dict__.get("_track_params")
        if name != "ground_track_rad" or params is None:
            raise AttributeError(name)
        lat, lon, az1, s12, step_m = params
        tracks = ground_tracks(
            np.array([lat]), np.array([lon]), np.array([az1]), np.array([s12]), step_m
        )
        _set_track(self, tracks[0])
        return self.__dict__["ground_track_rad"]


_EMPTY_TRACK = np.zeros((0, 2))
_EMPTY_TRACK.flags.writeable = False


def _made(cls: type, fields: dict):
    """An instance of a frozen dataclass from fields already in the form its
    ``__post_init__`` would leave them (checked by the caller): the constructor's
    checks and copies cost more than the rest of a track's conversion."""
    obj: object = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def _impact(gp: messages.GroundPoint) -> ImpactPrediction:
    """:func:`~trilink.alerts.adapters.ground_point_to_impact` without the constructor's
    overhead when its checks pass (else the constructor runs and raises as it would)."""
    e = gp.ellipse
    fields = {
        "lat_rad": math.radians(gp.lat_deg),
        "lon_rad": math.radians(gp.lon_deg),
        "t_ns": gp.t_ns,
        "t_sigma_s": gp.t_sigma_s,
        "semi_major_m": e.sigma_major_m,
        "semi_minor_m": e.sigma_minor_m,
        "orientation_rad": math.radians(e.major_azimuth_deg),
    }
    a, b = fields["semi_major_m"], fields["semi_minor_m"]
    finite = math.isfinite(
        fields["lat_rad"] + fields["lon_rad"] + fields["t_sigma_s"] + a + b  # NaN/inf spread
    )
    if not (finite and 0 <= b <= a):
        return ground_point_to_impact(gp)  # raises ValueError as the reference does
    return _made(ImpactPrediction, fields)


def pending_threat(fields: dict, params: tuple[float, ...]) -> ThreatInput:
    """A :class:`ThreatInput` from its fields but the ground track, which is drawn when
    read from ``params`` = (lat, lon, azimuth [rad], length [m], step [m]) of its
    geodesic (what :func:`threat_products` makes; a restored snapshot uses it)."""
    full = ThreatInput(**fields, ground_track_rad=_EMPTY_TRACK)  # the constructor's checks
    kept = {k: v for k, v in full.__dict__.items() if k != "ground_track_rad"}
    return _made(_PendingTrack, {**kept, "_track_params": tuple(float(v) for v in params)})


def _set_track(threat: ThreatInput, track: Array) -> None:
    track.flags.writeable = False
    object.__setattr__(threat, "ground_track_rad", track)


class Product:
    """One released track's rules input and its geometry, shared between partners.

    ``flying``: confirmed and in flight (only then do the rules assess it). Geometry is
    made on demand and kept: the ``threat_k``-sigma impact ellipse as a shapely polygon
    in degrees (``ellipse_box`` bounds it without drawing it), the ground track as a
    shapely line (``track_box`` bounds it), the ``clear_k`` ellipse ring for distances.
    """

    __slots__ = ("clear_ring", "ellipse", "ellipse_box", "flying", "line", "threat", "track_box")

    def __init__(self, threat: ThreatInput, flying: bool):
        self.threat = threat
        self.flying = flying
        self.ellipse: BaseGeometry | None = None
        self.line: BaseGeometry | None = None
        self.clear_ring: Array | None = None
        self.ellipse_box: tuple[float, ...] = _NO_BOX
        self.track_box: tuple[float, ...] = _NO_BOX


def ellipse_offsets(impacts: Sequence[ImpactPrediction], k: float, n: int) -> Array:
    """:func:`~trilink.alerts.ellipse.ellipse_offsets_m` for many ellipses (N, n, 2),
    the same operations in the same order."""
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    a = np.array([i.semi_major_m for i in impacts])[:, None, None]
    b = np.array([i.semi_minor_m for i in impacts])[:, None, None]
    th = np.array([i.orientation_rad for i in impacts])
    u = np.stack([np.sin(th), np.cos(th)], axis=-1)[:, None, :]
    w = np.stack([np.cos(th), -np.sin(th)], axis=-1)[:, None, :]
    return k * (a * np.cos(t)[None, :, None] * u - b * np.sin(t)[None, :, None] * w)


def rings(impacts: Sequence[ImpactPrediction], k: float, n: int = RING_POINTS) -> Array:
    """Closed ``[lat, lon]`` rad rings (N, n + 1, 2) of the ``k``-sigma ellipses, as
    :func:`~trilink.alerts.ellipse.ellipse_ring` draws each (AEQD about the centre)."""
    if not impacts:
        return np.zeros((0, n + 1, 2))
    offsets = ellipse_offsets(impacts, k, n)
    lat0 = np.array([i.lat_rad for i in impacts])[:, None]
    lon0 = np.array([i.lon_rad for i in impacts])[:, None]
    s = np.hypot(offsets[..., 0], offsets[..., 1])
    az = np.arctan2(offsets[..., 0], offsets[..., 1])
    lat, lon = vincenty_direct(
        np.broadcast_to(lat0, s.shape), np.broadcast_to(lon0, s.shape), az, s
    )
    ring = np.stack([lat, lon0 + wrap_pi(lon - lon0)], axis=-1)
    return np.concatenate([ring, ring[:, :1]], axis=1)


def ground_tracks(lat: Array, lon: Array, az1: Array, s12: Array, step_m: float = 20e3) -> list:
    """``[lat, lon]`` rad samples (K, 2) every ``step_m`` along each geodesic from
    ``(lat, lon)`` with azimuth ``az1`` and length ``s12``: the samples of
    :func:`~trilink.alerts.adapters.geodesic_ground_track`, for many tracks at once."""
    if lat.size == 0:
        return []
    counts = np.maximum(2, np.ceil(s12 / step_m).astype(np.int64) + 1)
    glat, glon = geodesic_samples(lat, lon, az1, s12, counts)
    ends = np.cumsum(counts)
    return [
        np.column_stack([glat[a:b], glon[a:b]]) for a, b in zip(ends - counts, ends, strict=True)
    ]


def _degrees_xy(latlon_rad: Array) -> Array:
    """``[lat, lon]`` rad (..., K, 2) to shapely ``[lon, lat]`` degrees with the longitude
    unwrapped along K (as territory._polygon_deg and track_crosses do)."""
    lon = np.degrees(np.unwrap(latlon_rad[..., 1], axis=-1))
    return np.stack([lon, np.degrees(latlon_rad[..., 0])], axis=-1)


def threat_products(
    msgs: Sequence[messages.SystemTrack],
    rules: WarningRules = WarningRules(),
    *,
    impacted_height_m: float = 1e3,
    step_m: float = 20e3,
) -> list[Product]:
    """:func:`~trilink.alerts.threat_from_system_track` for many tracks, as products."""
    n = len(msgs)
    if n == 0:
        return []
    state = np.array([m.state_ecef for m in msgs], dtype=float).reshape(n, 6)
    packed = np.array([m.covariance_ecef for m in msgs], dtype=float).reshape(n, 21)
    cov = np.zeros((n, 6, 6))
    for c, (i, j) in enumerate(_UPPER):
        cov[:, i, j] = cov[:, j, i] = packed[:, c]
    lla = ecef_to_geodetic(state[:, :3])
    lat, lon, h = lla[:, 0], lla[:, 1], lla[:, 2]
    cl = np.cos(lat)
    up_speed = (cl * np.cos(lon)) * state[:, 3] + (cl * np.sin(lon)) * state[:, 4]
    up_speed = up_speed + np.sin(lat) * state[:, 5]
    impacts = [_impact(m.impact) if m.impact is not None else None for m in msgs]
    status = []
    for k, m in enumerate(msgs):
        imp = impacts[k]
        if m.status == "lost":
            fallen = h[k] < impacted_height_m or (imp is not None and m.measured_ns >= imp.t_ns)
            status.append("impacted" if fallen else "lost")
        elif h[k] < impacted_height_m and up_speed[k] <= 0.0:
            status.append("impacted")  # below 1 km and descending (adapters: why)
        else:
            status.append("in_flight")

    # Remaining ground tracks: the geodesic to the impact point, drawn when needed.
    pending = [k for k in range(n) if impacts[k] is not None and status[k] == "in_flight"]
    params: dict[int, tuple[float, ...]] = {}
    boxes: dict[int, tuple[float, ...]] = {}
    if pending:
        ilat = np.array([impacts[k].lat_rad for k in pending])  # type: ignore[union-attr]
        ilon = np.array([impacts[k].lon_rad for k in pending])  # type: ignore[union-attr]
        s12, az1, az2 = vincenty_inverse(lat[pending], lon[pending], ilat, ilon)
        box = _track_boxes(lat[pending], lon[pending], ilat, ilon, az1, az2)
        for j, k in enumerate(pending):
            params[k] = (lat[k], lon[k], az1[j], s12[j], step_m)
            boxes[k] = tuple(box[j])

    # Read-only rows of one private copy: what ThreatInput.__post_init__ would copy and
    # freeze for each track, without 4,000 small copies per 1,000 tracks.
    state_ro, cov_ro = state.copy(), cov.copy()
    state_ro.flags.writeable = cov_ro.flags.writeable = False
    products = []
    for k, m in enumerate(msgs):
        if m.phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {m.phase!r}")
        launch = m.launch
        fields = {
            "track_id": str(m.system_track_number),
            "t_ns": m.measured_ns,
            "status": status[k],
            "phase": m.phase,
            "confirmed": m.status != "tentative",
            "launch_lat_rad": math.radians(launch.lat_deg) if launch else math.nan,
            "launch_lon_rad": math.radians(launch.lon_deg) if launch else math.nan,
            "launch_t_ns": launch.t_ns if launch else None,
            "impact": impacts[k],
            "ground_track_rad": _EMPTY_TRACK,
            "r_ecef_m": state_ro[k, :3],
            "v_ecef_mps": state_ro[k, 3:],
            "cov_pos_ecef_m2": cov_ro[k, :3, :3],
            "cov_vel_ecef_m2s2": cov_ro[k, 3:, 3:],
            "missile_class": m.missile_class or "",
        }
        if k in params:
            del fields["ground_track_rad"]  # drawn when read (_PendingTrack)
            fields["_track_params"] = params[k]
        threat = _made(_PendingTrack if k in params else ThreatInput, fields)
        product = Product(threat, m.status != "tentative" and status[k] == "in_flight")
        product.track_box = boxes.get(k, _NO_BOX)
        products.append(product)
    _ellipse_boxes([p for p in products if p.flying and p.threat.impact is not None], rules)
    return products


def _track_boxes(lat1, lon1, lat2, lon2, az1, az2) -> Array:
    """Bounds ``[lon_min, lat_min, lon_max, lat_max]`` deg (N, 4) of the geodesics.

    Along a geodesic the longitude changes monotonically (Clairaut: the sign of
    sin(azimuth) never changes), so it spans the endpoints' (the shorter way round, as
    the samples, unwrapped from the start). The latitude is monotonic too unless the
    path passes its vertex, where the azimuth is +-90 deg (cos(azimuth) changes sign);
    then it reaches the vertex latitude, from the reduced latitude beta_v with
    cos(beta_v) = |cos(beta_1) sin(az1)|. Unsure cases (an azimuth within 1e-6 of east
    or west, NaN) get no box: their track is always drawn and tested.
    """
    dlon = np.arctan2(np.sin(lon2 - lon1), np.cos(lon2 - lon1))
    lo = np.minimum(lon1, lon1 + dlon)
    hi = np.maximum(lon1, lon1 + dlon)
    south, north = np.minimum(lat1, lat2), np.maximum(lat1, lat2)
    c1, c2 = np.cos(az1), np.cos(az2)
    vertex = ~((c1 > 1e-6) & (c2 > 1e-6) | (c1 < -1e-6) & (c2 < -1e-6))
    beta1 = np.arctan((1.0 - F) * np.tan(lat1))
    beta_v = np.arccos(np.clip(np.abs(np.cos(beta1) * np.sin(az1)), 0.0, 1.0))
    lat_v = np.arctan(np.tan(beta_v) / (1.0 - F))
    north = np.where(vertex & (c1 > -1e-6), np.maximum(north, lat_v), north)  # heading north
    south = np.where(vertex & (c1 < 1e-6), np.minimum(south, -lat_v), south)
    box = np.degrees(
        np.stack([lo - _EDGE_RAD, south - _EDGE_RAD, hi + _EDGE_RAD, north + _EDGE_RAD], axis=-1)
    )
    unsure = ~np.isfinite(box).all(axis=-1) | ~np.isfinite(az1 + az2)
    box[unsure] = _NO_BOX
    return box


def _ellipse_boxes(products: Sequence[Product], rules: WarningRules) -> None:
    """Bounds (deg) of each ``threat_k``-sigma ellipse polygon, without drawing it.

    Every vertex is ``k sqrt(a^2 cos^2 t + b^2 sin^2 t) <= k a`` along a geodesic from
    the centre; a path of length r changes latitude by at most r / M_min (M >= a(1 - e^2)
    everywhere) and longitude by at most r / (a cos(phi_max)) (a parallel's radius
    N cos(phi) >= a cos(phi)); the polygon's straight edges stay inside its vertices'
    box. Near a pole (phi_max > 89 deg) no box.
    """
    if not products:
        return
    imp = [p.threat.impact for p in products]
    r = np.array([i.semi_major_m for i in imp]) * rules.threat_k * (1.0 + 1e-9) + 1.0  # type: ignore[union-attr]
    lat0 = np.array([i.lat_rad for i in imp])  # type: ignore[union-attr]
    lon0 = np.array([i.lon_rad for i in imp])  # type: ignore[union-attr]
    dlat = r / _M_MIN
    phi_max = np.abs(lat0) + dlat
    dlon = r / (A * np.cos(np.minimum(phi_max, math.radians(89.0))))
    box = np.degrees(
        np.stack([lon0 - dlon, lat0 - dlat, lon0 + dlon, lat0 + dlat], axis=-1)
        + _EDGE_RAD * np.array([-1, -1, 1, 1])
    )
    box[phi_max > math.radians(89.0)] = _NO_BOX
    for p, b in zip(products, box, strict=True):
        p.ellipse_box = tuple(b)


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


def _near(geom: BaseGeometry, boxes: list[tuple[float, ...]]) -> NDArray[np.bool_]:
    """Which boxes may hold something that meets ``geom``: a box meets it, or reaches
    past +-180 deg (then territory._any_shift's copies apply: no shortcut)."""
    b = np.array(boxes, dtype=float).reshape(-1, 4)
    wraps = ~np.isfinite(b).all(axis=-1) | (b[:, 0] < -180.0) | (b[:, 2] > 180.0)
    near = wraps.copy()
    ok = np.flatnonzero(~wraps)
    if ok.size:
        near[ok] = shapely.intersects(geom, shapely.box(b[ok, 0], b[ok, 1], b[ok, 2], b[ok, 3]))
    return near


def _draw_lines(products: Sequence[Product]) -> None:
    """Draw (once) the ground tracks of these products and their shapely lines."""
    todo = [p for p in products if p.line is None]
    missing = [p for p in todo if "ground_track_rad" not in p.threat.__dict__]
    if missing:
        cols = np.array([p.threat.__dict__["_track_params"][:4] for p in missing]).T
        step_m = missing[0].threat.__dict__["_track_params"][4]
        for p, track in zip(
            missing, ground_tracks(cols[0], cols[1], cols[2], cols[3], step_m), strict=True
        ):
            _set_track(p.threat, track)
    todo = [p for p in todo if p.threat.ground_track_rad.shape[0] > 1]
    if todo:
        tracks = [p.threat.ground_track_rad for p in todo]
        sizes = np.array([len(t) for t in tracks])
        made = shapely.linestrings(
            _unwrapped_xy(np.concatenate(tracks), sizes),
            indices=np.repeat(np.arange(len(tracks)), sizes),
        )
        for p, line in zip(todo, made, strict=True):
            p.line = line


def _unwrapped_xy(latlon_rad: Array, sizes: NDArray[np.int64]) -> Array:
    """:func:`_degrees_xy` of several tracks stacked one after another (sum(sizes), 2).

    np.unwrap changes nothing where no step within a track reaches pi (adds zeros):
    then one conversion serves all; a track that does step past pi is unwrapped alone.
    """
    lon = latlon_rad[:, 1]
    jump = np.abs(np.diff(lon)) >= np.pi
    starts = np.cumsum(sizes) - sizes
    jump[starts[1:] - 1] = False  # steps between two tracks are not steps
    lon_deg = np.degrees(lon)
    if jump.any():
        for a, n in zip(starts, sizes, strict=True):
            if jump[a : a + n - 1].any():
                lon_deg[a : a + n] = np.degrees(np.unwrap(lon[a : a + n]))
    return np.column_stack([lon_deg, np.degrees(latlon_rad[:, 0])])


def _draw_ellipses(products: Sequence[Product], rules: WarningRules) -> None:
    """Draw (once) the ``threat_k``-sigma ellipse polygons of these products."""
    todo = [p for p in products if p.ellipse is None]
    if todo:
        ring = rings([p.threat.impact for p in todo], rules.threat_k)  # type: ignore[misc]
        for p, poly in zip(todo, shapely.polygons(_degrees_xy(ring)), strict=True):
            p.ellipse = poly


def footprints(
    products: Sequence[Product], territory: Territory, rules: WarningRules = WarningRules()
) -> list[Footprint | None]:
    """Each flying product's :class:`Footprint` against ``territory`` (None when not
    flying: the rules then do not assess it). The same answers as
    :func:`~trilink.alerts.rules.footprint`; geometry is drawn only for products whose
    bounding box meets the area, and the distance is left lazy."""
    out: list[Footprint | None] = [None] * len(products)
    fly = [p for p in products if p.flying]
    if not fly:
        return out
    area = getattr(territory, rules.overflight_kind)
    overflight: dict[int, bool] = {}
    tracked = [
        p
        for p in fly
        if isinstance(p.threat, _PendingTrack) or p.threat.ground_track_rad.shape[0] > 0
    ]
    near = [
        p
        for p, hit in zip(tracked, _near(area, [p.track_box for p in tracked]), strict=True)
        if hit
    ]
    _draw_lines(near)
    lines = [p for p in near if p.line is not None]
    for p, hit in zip(
        lines, _hits(territory, rules.overflight_kind, [p.line for p in lines]), strict=True
    ):
        overflight[id(p)] = bool(hit)
    for p in near:  # a one-point ground track: the point's own area (track_crosses)
        if p.threat.ground_track_rad.shape[0] == 1:
            overflight[id(p)] = bool(
                territory.track_crosses(p.threat.ground_track_rad, rules.overflight_kind)
            )

    aimed = [p for p in fly if p.threat.impact is not None]
    place: dict[int, int] = {}
    if aimed:
        boxes = [p.ellipse_box for p in aimed]
        near_any = _near(_areas(territory), boxes)
        close = [p for p, hit in zip(aimed, near_any, strict=True) if hit]
        if close:
            _draw_ellipses(close, rules)
            polys = [p.ellipse for p in close]
            land = _hits(territory, "land", polys)
            sea = _hits(territory, "territorial", polys)
            zone = _hits(territory, "zone", polys)
            code = np.where(
                land, LAND, np.where(sea, TERRITORIAL_SEA, np.where(zone, ZONE, OUTSIDE))
            )
            place = {id(p): int(c) for p, c in zip(close, code, strict=True)}
        nominal = territory.locate(
            np.array([p.threat.impact.lat_rad for p in aimed]),  # type: ignore[union-attr]
            np.array([p.threat.impact.lon_rad for p in aimed]),  # type: ignore[union-attr]
        )
        nominal_of = {id(p): int(c) for p, c in zip(aimed, nominal, strict=True)}
    for k, p in enumerate(products):
        if not p.flying:
            continue
        over = overflight.get(id(p), False)
        if p.threat.impact is None:
            out[k] = Footprint(over, OUTSIDE, OUTSIDE, distance_m=math.inf)
        else:
            out[k] = Footprint(
                over,
                place.get(id(p), OUTSIDE),
                nominal_of[id(p)],
                distance_fn=_distance_fn(p, territory, rules),
                radius_aware=True,
            )
    return out


def _distance_fn(product: Product, territory: Territory, rules: WarningRules):
    def distance(radius_m: float | None = None) -> float | None:
        if product.clear_ring is None:  # drawn once per product, for whichever partner asks
            product.clear_ring = rings([product.threat.impact], rules.clear_k)[0]  # type: ignore[list-item]
        if radius_m is None:
            return distance_near_m(territory, product.clear_ring, "zone")
        return near_distance_m(territory, product.clear_ring, "zone", radius_m)

    return distance


NEAR_M = 300e3
"""Search radius of :func:`distance_near_m`: its answer is taken when under half this."""

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


def distance_near_m(territory: Territory, ring_rad: Array, kind: str = "zone") -> float:
    """:meth:`Territory.distance_m`, from :func:`near_distance_m` when the answer is
    under ``NEAR_M / 2``, else from the full method."""
    d = near_distance_m(territory, ring_rad, kind, NEAR_M)
    return territory.distance_m(ring_rad, kind) if d is None else d


def near_distance_m(
    territory: Territory, ring_rad: Array, kind: str, radius_m: float
) -> float | None:
    """:meth:`Territory.distance_m` if it is under ``radius_m / 2``, else None (then it is
    at least that), measured on the area's boundary segments near the ring only.

    ``distance_m`` clips the area to a 2,000-km window, projects all of it about the
    ring's centre (spherical AEQD) and measures in that plane: most of its 0.3-0.6 ms go
    to coast far away. The nearest segment pair is the same if it lies near the ring,
    and GEOS measures a pair the same way whatever else the geometry holds (the tests
    find the two bit for bit equal). Segments whose box misses the ring's box widened
    by ``radius_m`` (lat by r / M_min, lon by r / (a cos(phi_max)), as for ellipses) are
    at least ``radius_m`` away on the ellipsoid, and the AEQD plane never shortens a
    distance (its scale is >= 1: Snyder 1987, eq. 25-2) beyond the 0.3 % of the
    Gaussian radius and the bend of a projected chord (metres for the <= 51-km
    segments of the built zones): so a nearest segment under ``radius_m / 2`` is the one
    the full method finds, and none there means the full method finds none there
    either. Near a pole or the antimeridian the full method answers.
    """
    ring = np.asarray(ring_rad, dtype=float)
    geom = getattr(territory, kind)
    if _any_shift(_polygon_deg(ring), geom, shapely.intersects):
        return 0.0
    lat_lo, lat_hi = ring[:, 0].min(), ring[:, 0].max()
    dlat = radius_m / _M_MIN
    phi_max = max(abs(lat_lo), abs(lat_hi)) + dlat
    lon = np.degrees(np.unwrap(ring[:, 1]))
    dlon = math.degrees(radius_m / (A * math.cos(min(phi_max, math.radians(80.0)))))
    box = (
        lon.min() - dlon,
        math.degrees(lat_lo - dlat),
        lon.max() + dlon,
        math.degrees(lat_hi + dlat),
    )
    if phi_max > math.radians(80.0) or box[0] < -180.0 or box[2] > 180.0:
        d = territory.distance_m(ring, kind)
        return d if d < radius_m / 2 else None
    tree, seg = _segments(territory, kind)
    idx = tree.query(shapely.box(*box))
    if idx.size == 0:
        return None
    centre = np.array([ring[:, 0].mean(), _circular_mean(ring[:, 1])])
    ends = np.radians(seg[idx].reshape(-1, 2)[:, ::-1])  # [lat, lon] of both ends
    xy = aeqd_sphere_forward(ends, centre).reshape(-1, 2, 2)
    ring_xy = shapely.Polygon(aeqd_sphere_forward(ring, centre))
    d = float(np.min(shapely.distance(ring_xy, shapely.linestrings(xy))))
    return d if d < radius_m / 2 else None


def _hits(territory: Territory, kind: str, shapes: list) -> NDArray[np.bool_]:
    """Which shapes meet the ``kind`` area: one vectorised predicate, and the +-360 deg
    copies (territory._any_shift) only for the few shapes that cross the antimeridian."""
    if not shapes:
        return np.zeros(0, dtype=bool)
    geom = getattr(territory, kind)
    arr = np.empty(len(shapes), dtype=object)
    arr[:] = shapes
    hit = np.asarray(shapely.intersects(geom, arr), dtype=bool)
    bounds = shapely.bounds(arr)
    for j in np.flatnonzero(~hit & ((bounds[:, 2] > 180.0) | (bounds[:, 0] < -180.0))):
        hit[j] = _any_shift(shapes[j], geom, shapely.intersects)
    return hit
