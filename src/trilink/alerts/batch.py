"""Released tracks as the warning rules' inputs, many at once, shared between partners.

:func:`trilink.alerts.threat_from_system_track` converts one released track at a time
(the reference). A hub cycle releases the same track to every partner (1,000 tracks x 3
partners in the soak of issue 7), so :func:`threat_products` converts all the tracks of
a call at once into :class:`Product` values the warner keeps for the cycle and shares
between the partners that receive the same content:

- the :class:`ThreatInput`, field for field as ``threat_from_system_track`` makes it;
- what :mod:`trilink.alerts.footprints` needs to test it against each partner's areas:
  bounding boxes of its ground track and impact ellipse (proven to hold them, so that
  geometry far from an area is never drawn), and, once asked for, the ellipse polygon
  and the ground-track line as shapely objects in degrees.

The per-track geometry runs in compiled loops (:mod:`trilink.geo.kernels_geodesic`):
geodetic point, Vincenty's inverse geodesic to the impact point (instead of
geographiclib's, 150 us a call), the boxes, the ellipse rings, and the ground-track
samples, which are drawn only when read (:class:`_PendingTrack`).

Differences from the reference: ellipse points equal ``ellipse_ring``'s to a few ulp,
ground-track points ``geodesic_ground_track``'s to ~1e-11 relative (Vincenty's inverse
against Karney's). Decisions could differ only for a vertex within that of an area's
edge; ``tests/alerts/test_alerts_warner_fast.py`` checks the recorded SRBM salvo byte
for byte against the warnings of the code before this module.

Angles in radians, lengths in metres; shapely geometries in degrees (x = lon, y = lat).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from trilink import messages
from trilink.alerts.adapters import ground_point_to_impact
from trilink.alerts.rules import PHASES, ImpactPrediction, ThreatInput, WarningRules
from trilink.geo.geodesic import geodesic_samples, vincenty_direct
from trilink.geo.kernels_geodesic import ellipse_rings, track_geometry
from trilink.geo.wgs84 import E2, EP2, A, B, F

Array = NDArray[np.float64]

RING_POINTS = 72  # vertices of the ellipse the rules test (ImpactPrediction.ring's default)
EDGE_RAD = 1e-7  # slack on every bounding box: far above the round-off it must absorb
M_MIN = A * (1.0 - E2)  # smallest meridian radius of curvature (at the equator) [m]
POLAR_RAD = math.radians(89.0)  # no ellipse box reaching past this latitude
_CONSTS = np.array([A, F, B, E2, EP2, M_MIN, EDGE_RAD, POLAR_RAD])
_UPPER = [(i, j) for i in range(6) for j in range(i, 6)]  # messages' packing order
NO_BOX = (math.nan,) * 4
"""A box that bounds nothing: the geometry is always drawn and tested."""


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

    __slots__ = (
        "clear",
        "clear_ring",
        "ellipse",
        "ellipse_box",
        "flying",
        "line",
        "sparse",
        "threat",
        "track_box",
    )

    def __init__(self, threat: ThreatInput, flying: bool):
        self.threat = threat
        self.flying = flying
        self.ellipse: BaseGeometry | None = None
        self.line: BaseGeometry | None = None
        self.clear_ring: Array | None = None
        self.clear: Any = None  # footprints.ClearRing of clear_ring, once measured from
        self.sparse: tuple[Array, Array] | None = None  # sparse_samples
        self.ellipse_box: tuple[float, ...] = NO_BOX
        self.track_box: tuple[float, ...] = NO_BOX


def rings(impacts: Sequence[ImpactPrediction], k: float, n: int = RING_POINTS) -> Array:
    """Closed ``[lat, lon]`` rad rings (N, n + 1, 2) of the ``k``-sigma ellipses, as
    :func:`~trilink.alerts.ellipse.ellipse_ring` draws each (AEQD about the centre)."""
    out = np.empty((len(impacts), n + 1, 2))
    if impacts:
        cos_t, sin_t = ring_parameter(n)
        cols = np.array(
            [
                (i.lat_rad, i.lon_rad, i.semi_major_m, i.semi_minor_m, i.orientation_rad)
                for i in impacts
            ]
        ).T.copy()
        ellipse_rings(
            cols[0],
            cols[1],
            cols[2],
            cols[3],
            cols[4],
            float(k),
            cos_t,
            sin_t,
            _CONSTS[:2].copy(),
            out,
        )
    return out


@functools.cache
def ring_parameter(n: int) -> tuple[Array, Array]:
    """cos and sin of the ring parameter, as ``ellipse_offsets_m`` computes them."""
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.cos(t), np.sin(t)


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


def threat_products(
    msgs: Sequence[messages.SystemTrack],
    rules: WarningRules = WarningRules(),
    *,
    impacted_height_m: float = 1e3,
    step_m: float = 20e3,
) -> list[Product]:
    """:func:`~trilink.alerts.threat_from_system_track` for many tracks, as products.

    Boxes (degrees, ``[lon_min, lat_min, lon_max, lat_max]``), from
    :func:`~trilink.geo.kernels_geodesic.track_geometry`:

    - ground track: along a geodesic the longitude changes monotonically (Clairaut: the
      sign of sin(azimuth) never changes), so it spans the endpoints' (the shorter way,
      as the samples, unwrapped from the start); the latitude is monotonic too unless
      the path passes its vertex (cos(azimuth) changes sign), whose latitude comes from
      cos(beta_v) = |cos(beta_1) sin(az1)|. A straight segment between two samples stays
      in their box. An azimuth within 1e-6 of east or west counts as passing.
    - ellipse: every vertex lies ``k sqrt(a^2 cos^2 t + b^2 sin^2 t) <= k a`` along a
      geodesic from the centre; a path of length r changes latitude by at most
      r / M_min (M >= a(1 - e^2)) and longitude by at most r / (a cos(phi_max)) (a
      parallel's radius N cos(phi) >= a cos(phi)); the polygon stays in its vertices'
      box. None past 89 deg of latitude.
    """
    n = len(msgs)
    if n == 0:
        return []
    state = np.array([m.state_ecef for m in msgs], dtype=float).reshape(n, 6)
    packed = np.array([m.covariance_ecef for m in msgs], dtype=float).reshape(n, 21)
    cov = np.zeros((n, 6, 6))
    for c, (i, j) in enumerate(_UPPER):
        cov[:, i, j] = cov[:, j, i] = packed[:, c]
    impacts = [_impact(m.impact) if m.impact is not None else None for m in msgs]
    aimed = np.array([imp is not None for imp in impacts])
    ilat = np.array([imp.lat_rad if imp is not None else 0.0 for imp in impacts])
    ilon = np.array([imp.lon_rad if imp is not None else 0.0 for imp in impacts])
    reach = np.array([imp.semi_major_m if imp is not None else 0.0 for imp in impacts])
    reach = reach * rules.threat_k * (1.0 + 1e-9) + 1.0  # round-off on k a, and a metre
    lla, up_speed = np.empty((n, 3)), np.empty(n)
    inv, track_box, ellipse_box = np.zeros((n, 3)), np.empty((n, 4)), np.empty((n, 4))
    track_geometry(
        state, aimed, ilat, ilon, reach, _CONSTS, lla, up_speed, inv, track_box, ellipse_box
    )
    h = lla[:, 2]
    # Read-only rows of one private copy: what ThreatInput.__post_init__ would copy and
    # freeze for each track, without 4,000 small copies per 1,000 tracks.
    state.flags.writeable = cov.flags.writeable = False
    products = []
    for k, m in enumerate(msgs):
        if m.phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {m.phase!r}")
        imp = impacts[k]
        if m.status == "lost":
            fallen = h[k] < impacted_height_m or (imp is not None and m.measured_ns >= imp.t_ns)
            status = "impacted" if fallen else "lost"
        elif h[k] < impacted_height_m and up_speed[k] <= 0.0:
            status = "impacted"  # below 1 km and descending (adapters: why)
        else:
            status = "in_flight"
        launch = m.launch
        fields = {
            "track_id": str(m.system_track_number),
            "t_ns": m.measured_ns,
            "status": status,
            "phase": m.phase,
            "confirmed": m.status != "tentative",
            "launch_lat_rad": math.radians(launch.lat_deg) if launch else math.nan,
            "launch_lon_rad": math.radians(launch.lon_deg) if launch else math.nan,
            "launch_t_ns": launch.t_ns if launch else None,
            "impact": imp,
            "ground_track_rad": _EMPTY_TRACK,
            "r_ecef_m": state[k, :3],
            "v_ecef_mps": state[k, 3:],
            "cov_pos_ecef_m2": cov[k, :3, :3],
            "cov_vel_ecef_m2s2": cov[k, 3:, 3:],
            "missile_class": m.missile_class or "",
        }
        tracked = imp is not None and status == "in_flight"
        if tracked:  # the ground track to the impact point, drawn when read
            del fields["ground_track_rad"]
            fields["_track_params"] = (lla[k, 0], lla[k, 1], inv[k, 1], inv[k, 0], step_m)
        product = Product(
            _made(_PendingTrack if tracked else ThreatInput, fields),
            m.status != "tentative" and status == "in_flight",
        )
        if tracked:
            product.track_box = tuple(track_box[k])
        if imp is not None:
            product.ellipse_box = tuple(ellipse_box[k])
        products.append(product)
    return products


COARSE_EVERY = 4
"""Every how many ground-track samples :func:`sparse_samples` takes one."""


def sparse_samples(products: Sequence[Product]) -> None:
    """Every ``COARSE_EVERY``-th sample of each product's ground track (and its last),
    as shapely ``x = lon``, ``y = lat`` degrees in ``product.sparse`` (made once).

    They are samples of the ground track itself (the same distances along the same
    geodesic; equal to the drawn ones to a few ulp), so one of them inside an area
    shows that the track crosses it without drawing the track (:mod:`footprints`).
    """
    todo = [p for p in products if p.sparse is None and "_track_params" in p.threat.__dict__]
    if not todo:
        return
    params = np.array([p.threat.__dict__["_track_params"] for p in todo])
    lat1, lon1, az1, s12, step_m = params.T
    counts = np.maximum(2, np.ceil(s12 / step_m).astype(np.int64) + 1)
    # samples 0, E, 2E, ... and the last (n - 1) of each track
    sizes = (counts - 1) // COARSE_EVERY + 1 + ((counts - 1) % COARSE_EVERY != 0)
    last = np.cumsum(sizes) - 1
    index = (np.arange(last[-1] + 1) - np.repeat(last + 1 - sizes, sizes)) * COARSE_EVERY
    index[last] = counts - 1
    dist = index * np.repeat(s12 / (counts - 1), sizes)  # as ground_tracks spaces them
    dist[last] = s12  # the end sample is the end itself
    lat, lon = vincenty_direct(
        np.repeat(lat1, sizes), np.repeat(lon1, sizes), np.repeat(az1, sizes), dist
    )
    x, y = np.degrees(lon), np.degrees(lat)
    for p, a, b in zip(todo, last - sizes + 1, last + 1, strict=True):
        p.sparse = (x[a:b], y[a:b])


def draw_lines(products: Sequence[Product]) -> None:
    """Draw (once) the ground tracks of these products and their shapely lines."""
    todo = [p for p in products if p.line is None]
    missing = [p for p in todo if "ground_track_rad" not in p.threat.__dict__]
    if missing:
        cols = np.array([p.threat.__dict__["_track_params"] for p in missing]).T
        tracks = ground_tracks(cols[0], cols[1], cols[2], cols[3], float(cols[4, 0]))
        if np.any(cols[4] != cols[4, 0]):  # another step: one call each (never, in a hub)
            tracks = [ground_tracks(c[0:1], c[1:2], c[2:3], c[3:4], float(c[4]))[0] for c in cols.T]
        for p, track in zip(missing, tracks, strict=True):
            _set_track(p.threat, track)
    todo = [p for p in todo if p.threat.ground_track_rad.shape[0] > 1]
    if todo:
        tracks = [p.threat.ground_track_rad for p in todo]
        sizes = np.array([len(t) for t in tracks])
        xy = _unwrapped_xy(np.concatenate(tracks), sizes)
        made = shapely.linestrings(xy, indices=np.repeat(np.arange(len(tracks)), sizes))
        for p, line in zip(todo, made, strict=True):
            p.line = line


def _unwrapped_xy(latlon_rad: Array, sizes: NDArray[np.int64]) -> Array:
    """Stacked tracks (sum(sizes), 2) ``[lat, lon]`` rad to shapely ``[lon, lat]`` degrees,
    each track's longitudes unwrapped as ``territory.track_crosses`` does.

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


def draw_ellipses(products: Sequence[Product], rules: WarningRules) -> None:
    """Draw (once) the ``threat_k``-sigma ellipse polygons of these products, in degrees
    as ``territory._polygon_deg`` makes them."""
    todo = [p for p in products if p.ellipse is None]
    if todo:
        ring = rings([p.threat.impact for p in todo], rules.threat_k)  # type: ignore[misc]
        for p, poly in zip(todo, shapely.polygons(ring_degrees(ring)), strict=True):
            p.ellipse = poly


def ring_degrees(ring_rad: Array) -> Array:
    """Rings ``[lat, lon]`` rad (..., n + 1, 2) as shapely ``[lon, lat]`` degrees, the
    longitudes unwrapped along each ring (np.unwrap adds zeros to a ring drawn about
    its centre, whose steps are all small: then it is skipped)."""
    lon = ring_rad[..., 1]
    if np.any(np.abs(np.diff(lon, axis=-1)) >= np.pi):
        lon = np.unwrap(lon, axis=-1)
    return np.stack([np.degrees(lon), np.degrees(ring_rad[..., 0])], axis=-1)


def clear_ring(product: Product, rules: WarningRules) -> Array:
    """The ``clear_k``-sigma ring (n + 1, 2) of a product's ellipse, drawn once."""
    if product.clear_ring is None:
        product.clear_ring = rings([product.threat.impact], rules.clear_k)[0]  # type: ignore[list-item]
    return product.clear_ring
