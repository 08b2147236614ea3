"""Compiled (numba) loops for Vincenty's geodesics on an ellipsoid: the warner's hot path.

The hub's warning rules draw, for every released track and cycle, an impact ellipse (73
geodesic end points) and a ground track (one inverse problem and tens of end points).
:func:`trilink.geo.geodesic.geodesic_direct` does that with NumPy over a few dozen
points, where each of its ~200 array operations costs a microsecond of overhead: 0.3 ms a
call, 10,000 calls per Monte Carlo trial. These loops are the same equations per point.

- :func:`direct_points`: Vincenty (1975) direct, the equations of ``geodesic_direct``
  term for term. The NumPy version iterates a fixed 12 times; here a point stops as soon
  as an iteration leaves sigma unchanged to the last bit. From then on every further
  iteration would compute the same value, so the result is the 12-iteration result (a
  point that has not settled after 12 stops there, as before). Equal to the NumPy version
  to a few ulp (libm's and NumPy's sin/cos may differ in the last bit).
- :func:`inverse_points`: Vincenty (1975) inverse, iterated on the longitude on the
  auxiliary sphere until it changes by less than 1e-14 rad (at most 200 iterations; it
  fails to converge only for nearly antipodal points, which return NaN). Agrees with
  Karney's solution (geographiclib) to ~1e-12 relative in distance and ~1e-12 rad in
  azimuth for the distances the warner meets (measured in the tests).

- :func:`track_geometry` and :func:`ellipse_rings`: the warner's per-track geometry
  (:mod:`trilink.alerts.batch`): the geodetic point of each state (Bowring with two
  refinements, as :func:`trilink.geo.frames.ecef_to_geodetic`, to a few ulp), the
  geodesic to its predicted impact point, bounding boxes of that geodesic and of the
  impact ellipse, and the ellipses' rings (``ellipse_ring``'s construction). In one
  file with the geodesics they call, so that numba's per-file cache key covers them.

T. Vincenty, "Direct and inverse solutions of geodesics on the ellipsoid with application
of nested equations", Survey Review 23 (176), 88-93, 1975.

Angles in radians, lengths in metres; ``a_m`` and ``f`` are passed in (not compiled-in
globals) so that the on-disk cache can never hold another ellipsoid.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

_numba: Any
try:  # numba is optional here as in trilink.tracking.jit: without it these run as Python
    import numba as _numba
except ImportError:  # pragma: no cover - exercised only where numba is absent
    _numba = None


def _njit(fn: F) -> F:
    if _numba is None:  # pragma: no cover
        return fn
    compiled: F = _numba.njit(cache=True, error_model="numpy", nogil=True)(fn)
    return compiled


def _njit_inner(fn: F) -> F:
    if _numba is None:  # pragma: no cover
        return fn
    compiled: F = _numba.njit(
        cache=True, error_model="numpy", nogil=True, no_cpython_wrapper=True, no_cfunc_wrapper=True
    )(fn)
    return compiled


@_njit_inner
def _sigma(sigma0, guess, sigma1, big_b):  # pragma: no cover - compiled
    """Vincenty's iteration for the arc length on the auxiliary sphere, from ``guess``:
    ``(sigma, cos(2 sigma_m), sin(sigma), cos(sigma))``. It stops at a fixed point (an
    iteration that leaves sigma unchanged to the last bit: every further one would
    repeat it), else after 12 iterations as ``geodesic_direct`` does; the cosines and
    sines returned are those of the sigma returned."""
    sigma = guess
    for _ in range(12):
        cos_2sm = math.cos(2.0 * sigma1 + sigma)
        sin_s, cos_s = math.sin(sigma), math.cos(sigma)
        d_sigma = big_b * sin_s * (
            cos_2sm
            + big_b / 4.0 * (
                cos_s * (-1.0 + 2.0 * cos_2sm**2)
                - big_b / 6.0 * cos_2sm * (-3.0 + 4.0 * sin_s**2) * (-3.0 + 4.0 * cos_2sm**2)
            )
        )  # fmt: skip
        new = sigma0 + d_sigma
        if new == sigma:
            return sigma, cos_2sm, sin_s, cos_s
        sigma = new
    cos_2sm = math.cos(2.0 * sigma1 + sigma)
    return sigma, cos_2sm, math.sin(sigma), math.cos(sigma)


@_njit_inner
def direct_one(lat1, lon1, az1, s, a_m, f):  # pragma: no cover - compiled
    """End point ``(lat2, lon2)`` of one geodesic (Vincenty's direct solution)."""
    b = a_m * (1.0 - f)
    tan_u1 = (1.0 - f) * math.tan(lat1)
    cos_u1 = 1.0 / math.sqrt(1.0 + tan_u1 * tan_u1)
    sin_u1 = tan_u1 * cos_u1
    sin_a1, cos_a1 = math.sin(az1), math.cos(az1)
    sigma1 = math.atan2(tan_u1, cos_a1)
    sin_alpha = cos_u1 * sin_a1
    cos2_alpha = 1.0 - sin_alpha * sin_alpha
    u2 = cos2_alpha * (a_m * a_m - b * b) / (b * b)
    big_a = 1.0 + u2 / 16384.0 * (4096.0 + u2 * (-768.0 + u2 * (320.0 - 175.0 * u2)))
    big_b = u2 / 1024.0 * (256.0 + u2 * (-128.0 + u2 * (74.0 - 47.0 * u2)))
    sigma0 = s / (b * big_a)
    sigma, cos_2sm, sin_s, cos_s = _sigma(sigma0, sigma0, sigma1, big_b)
    tmp = sin_u1 * sin_s - cos_u1 * cos_s * cos_a1
    lat2 = math.atan2(
        sin_u1 * cos_s + cos_u1 * sin_s * cos_a1,
        (1.0 - f) * math.sqrt(sin_alpha * sin_alpha + tmp * tmp),
    )
    lam = math.atan2(sin_s * sin_a1, cos_u1 * cos_s - sin_u1 * sin_s * cos_a1)
    c = f / 16.0 * cos2_alpha * (4.0 + f * (4.0 - 3.0 * cos2_alpha))
    big_l = lam - (1.0 - c) * f * sin_alpha * (
        sigma + c * sin_s * (cos_2sm + c * cos_s * (-1.0 + 2.0 * cos_2sm**2))
    )
    # as np.pi - np.mod(np.pi - x, 2 pi): Python's % has the same sign rule as np.mod
    return lat2, math.pi - (math.pi - (lon1 + big_l)) % (2.0 * math.pi)


@_njit
def direct_points(lat1, lon1, az1, s, a_m, f, lat2, lon2):  # pragma: no cover - compiled
    """End points of geodesics (n,) arrays in, written into ``lat2``/``lon2`` (n,)."""
    for i in range(lat1.shape[0]):
        lat2[i], lon2[i] = direct_one(lat1[i], lon1[i], az1[i], s[i], a_m, f)


@_njit
def inverse_one(lat1, lon1, lat2, lon2, a_m, f):  # pragma: no cover - compiled
    """``(s12, az1, az2)`` of one point pair (NaN when the iteration does not converge)."""
    b = a_m * (1.0 - f)
    big_l = lon2 - lon1
    big_l = math.atan2(math.sin(big_l), math.cos(big_l))  # shorter way round
    u1 = math.atan((1.0 - f) * math.tan(lat1))
    u2 = math.atan((1.0 - f) * math.tan(lat2))
    sin_u1, cos_u1 = math.sin(u1), math.cos(u1)
    sin_u2, cos_u2 = math.sin(u2), math.cos(u2)
    lam = big_l
    sin_sigma = cos_sigma = sigma = cos2_alpha = cos_2sm = 0.0
    sin_lam = cos_lam = 0.0
    converged = False
    for _ in range(200):
        sin_lam, cos_lam = math.sin(lam), math.cos(lam)
        p = cos_u2 * sin_lam
        q = cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_lam
        sin_sigma = math.sqrt(p * p + q * q)
        if sin_sigma == 0.0:  # coincident points
            return 0.0, 0.0, 0.0
        cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_lam
        sigma = math.atan2(sin_sigma, cos_sigma)
        sin_alpha = cos_u1 * cos_u2 * sin_lam / sin_sigma
        cos2_alpha = 1.0 - sin_alpha * sin_alpha
        # on the equator (cos2_alpha = 0) the term is 0 (Vincenty's note)
        cos_2sm = cos_sigma - 2.0 * sin_u1 * sin_u2 / cos2_alpha if cos2_alpha != 0.0 else 0.0
        c = f / 16.0 * cos2_alpha * (4.0 + f * (4.0 - 3.0 * cos2_alpha))
        prev = lam
        lam = big_l + (1.0 - c) * f * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1.0 + 2.0 * cos_2sm**2))
        )
        if abs(lam - prev) < 1e-14:
            converged = True
            break
    if not converged:
        return math.nan, math.nan, math.nan
    uu = cos2_alpha * (a_m * a_m - b * b) / (b * b)
    big_a = 1.0 + uu / 16384.0 * (4096.0 + uu * (-768.0 + uu * (320.0 - 175.0 * uu)))
    big_b = uu / 1024.0 * (256.0 + uu * (-128.0 + uu * (74.0 - 47.0 * uu)))
    d_sigma = big_b * sin_sigma * (
        cos_2sm
        + big_b / 4.0 * (
            cos_sigma * (-1.0 + 2.0 * cos_2sm**2)
            - big_b / 6.0 * cos_2sm * (-3.0 + 4.0 * sin_sigma**2) * (-3.0 + 4.0 * cos_2sm**2)
        )
    )  # fmt: skip
    s12 = b * big_a * (sigma - d_sigma)
    az1 = math.atan2(cos_u2 * sin_lam, cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_lam)
    az2 = math.atan2(cos_u1 * sin_lam, -sin_u1 * cos_u2 + cos_u1 * sin_u2 * cos_lam)
    return s12, az1, az2


@_njit
def inverse_points(lat1, lon1, lat2, lon2, a_m, f, s12, az1, az2):  # pragma: no cover
    """Distance and azimuths between point pairs (n,), written into ``s12``/``az1``/``az2``."""
    for i in range(lat1.shape[0]):
        s12[i], az1[i], az2[i] = inverse_one(lat1[i], lon1[i], lat2[i], lon2[i], a_m, f)


@_njit
def line_points(lat1, lon1, az1, s12, counts, a_m, f, lat2, lon2):  # pragma: no cover
    """Points every ``s12 / (count - 1)`` along each geodesic (the first at its start, the
    last at ``s12``), written one geodesic after another into ``lat2``/``lon2``.

    Vincenty's direct equations, with what depends only on the start and azimuth
    computed once per geodesic, and each point's iteration started from the previous
    point's correction (it changes slowly along a line): fewer iterations, the same
    fixed point to a few ulp.
    """
    b = a_m * (1.0 - f)
    out = 0
    for g in range(lat1.shape[0]):
        tan_u1 = (1.0 - f) * math.tan(lat1[g])
        cos_u1 = 1.0 / math.sqrt(1.0 + tan_u1 * tan_u1)
        sin_u1 = tan_u1 * cos_u1
        sin_a1, cos_a1 = math.sin(az1[g]), math.cos(az1[g])
        sigma1 = math.atan2(tan_u1, cos_a1)
        sin_alpha = cos_u1 * sin_a1
        cos2_alpha = 1.0 - sin_alpha * sin_alpha
        u2 = cos2_alpha * (a_m * a_m - b * b) / (b * b)
        big_a = 1.0 + u2 / 16384.0 * (4096.0 + u2 * (-768.0 + u2 * (320.0 - 175.0 * u2)))
        big_b = u2 / 1024.0 * (256.0 + u2 * (-128.0 + u2 * (74.0 - 47.0 * u2)))
        c = f / 16.0 * cos2_alpha * (4.0 + f * (4.0 - 3.0 * cos2_alpha))
        n = counts[g]
        step = s12[g] / (n - 1)
        d_sigma = 0.0  # the previous point's correction: the next one's first guess
        for j in range(n):
            s = s12[g] if j == n - 1 else j * step
            sigma0 = s / (b * big_a)
            sigma, cos_2sm, sin_s, cos_s = _sigma(sigma0, sigma0 + d_sigma, sigma1, big_b)
            d_sigma = sigma - sigma0
            tmp = sin_u1 * sin_s - cos_u1 * cos_s * cos_a1
            lat2[out] = math.atan2(
                sin_u1 * cos_s + cos_u1 * sin_s * cos_a1,
                (1.0 - f) * math.sqrt(sin_alpha * sin_alpha + tmp * tmp),
            )
            lam = math.atan2(sin_s * sin_a1, cos_u1 * cos_s - sin_u1 * sin_s * cos_a1)
            big_l = lam - (1.0 - c) * f * sin_alpha * (
                sigma + c * sin_s * (cos_2sm + c * cos_s * (-1.0 + 2.0 * cos_2sm**2))
            )
            lon2[out] = math.pi - (math.pi - (lon1[g] + big_l)) % (2.0 * math.pi)
            out += 1


@_njit_inner
def _geodetic(x, y, z, a_m, b_m, e2, ep2):  # pragma: no cover - compiled
    p = math.hypot(x, y)
    lon = math.atan2(y, x)
    beta = math.atan2(a_m * z, b_m * p)  # parametric latitude, first guess
    lat = math.atan2(z + ep2 * b_m * math.sin(beta) ** 3, p - e2 * a_m * math.cos(beta) ** 3)
    for _ in range(2):
        beta = math.atan2((1.0 - e2) ** 0.5 * math.sin(lat), math.cos(lat))
        lat = math.atan2(z + ep2 * b_m * math.sin(beta) ** 3, p - e2 * a_m * math.cos(beta) ** 3)
    sin_lat, cos_lat = math.sin(lat), math.cos(lat)
    n = a_m / math.sqrt(1.0 - e2 * sin_lat**2)
    h = p * cos_lat + z * sin_lat - a_m * a_m / n
    return lat, lon, h


@_njit
def track_geometry(
    state, aimed, ilat, ilon, reach_m, consts, lla, up, inv, track_box, ellipse_box
):  # pragma: no cover - compiled
    """Per row of ``state`` (N, 6) ECEF: ``lla`` (N, 3), vertical speed ``up`` (N,);
    for rows with ``aimed`` (an impact prediction at ``ilat``, ``ilon``):
    ``inv`` (N, 3) = s12, az1, az2 to it, ``track_box`` (N, 4) and ``ellipse_box``
    (N, 4) for an ellipse whose vertices are at most ``reach_m`` from its centre
    (NaN rows when there is no box: the caller then draws and tests everything).

    ``consts`` = (a, f, b, e2, ep2, m_min, edge_rad, polar_rad).
    """
    a_m, f, b_m, e2, ep2, m_min, edge, polar = (
        consts[0], consts[1], consts[2], consts[3], consts[4], consts[5], consts[6], consts[7],
    )  # fmt: skip
    deg = 180.0 / math.pi
    for i in range(state.shape[0]):
        lat, lon, h = _geodetic(state[i, 0], state[i, 1], state[i, 2], a_m, b_m, e2, ep2)
        lla[i, 0], lla[i, 1], lla[i, 2] = lat, lon, h
        cl = math.cos(lat)
        up[i] = (cl * math.cos(lon)) * state[i, 3] + (cl * math.sin(lon)) * state[i, 4]
        up[i] = up[i] + math.sin(lat) * state[i, 5]
        for j in range(4):
            track_box[i, j] = math.nan
            ellipse_box[i, j] = math.nan
        if not aimed[i]:
            continue
        s12, az1, az2 = inverse_one(lat, lon, ilat[i], ilon[i], a_m, f)
        inv[i, 0], inv[i, 1], inv[i, 2] = s12, az1, az2
        # ground track: longitude monotonic; latitude too unless it passes the vertex
        dlon = math.atan2(math.sin(ilon[i] - lon), math.cos(ilon[i] - lon))
        lo, hi = min(lon, lon + dlon), max(lon, lon + dlon)
        south, north = min(lat, ilat[i]), max(lat, ilat[i])
        c1, c2 = math.cos(az1), math.cos(az2)
        vertex = not ((c1 > 1e-6 and c2 > 1e-6) or (c1 < -1e-6 and c2 < -1e-6))
        if vertex:
            beta1 = math.atan((1.0 - f) * math.tan(lat))
            cos_bv = min(1.0, abs(math.cos(beta1) * math.sin(az1)))
            lat_v = math.atan(math.tan(math.acos(cos_bv)) / (1.0 - f))
            if c1 > -1e-6:  # heading north: may pass the northern vertex
                north = max(north, lat_v)
            if c1 < 1e-6:
                south = min(south, -lat_v)
        box = ((lo - edge) * deg, (south - edge) * deg, (hi + edge) * deg, (north + edge) * deg)
        if math.isfinite(box[0] + box[1] + box[2] + box[3] + az1 + az2):
            track_box[i, 0], track_box[i, 1], track_box[i, 2], track_box[i, 3] = box
        # ellipse: vertices within reach_m of the centre along geodesics
        r = reach_m[i]
        dlat = r / m_min
        phi_max = abs(ilat[i]) + dlat
        if phi_max <= polar:
            dl = r / (a_m * math.cos(phi_max))
            ellipse_box[i, 0] = (ilon[i] - dl - edge) * deg
            ellipse_box[i, 1] = (ilat[i] - dlat - edge) * deg
            ellipse_box[i, 2] = (ilon[i] + dl + edge) * deg
            ellipse_box[i, 3] = (ilat[i] + dlat + edge) * deg


@_njit
def ellipse_rings(lat0, lon0, a, b, th, k, cos_t, sin_t, consts, out):  # pragma: no cover
    """Closed rings (N, n + 1, 2) ``[lat, lon]`` of the ``k``-sigma ellipses; ``cos_t``,
    ``sin_t`` (n,) of the ring's parameter (from NumPy, as ellipse_offsets_m has them);
    ``consts`` = (a, f). Longitudes unrolled about each centre's."""
    a_m, f = consts[0], consts[1]
    n = cos_t.shape[0]
    two_pi = 2.0 * math.pi
    for i in range(lat0.shape[0]):
        u0, u1 = math.sin(th[i]), math.cos(th[i])  # major axis (east, north)
        w0, w1 = math.cos(th[i]), -math.sin(th[i])  # minor axis
        for j in range(n):
            x = k * (a[i] * cos_t[j] * u0 - b[i] * sin_t[j] * w0)
            y = k * (a[i] * cos_t[j] * u1 - b[i] * sin_t[j] * w1)
            s = math.hypot(x, y)
            az = math.atan2(x, y)
            lat, lon = direct_one(lat0[i], lon0[i], az, s, a_m, f)
            d = lon - lon0[i]
            out[i, j, 0] = lat
            out[i, j, 1] = lon0[i] + (((d + math.pi) % two_pi) - math.pi)  # wrap_pi
        out[i, n, 0] = out[i, 0, 0]
        out[i, n, 1] = out[i, 0, 1]


@_njit_inner
def _aeqd_sphere(lat, lon, lat0, lon0, radius):  # pragma: no cover - compiled
    """Spherical AEQD ``(x, y)`` [m] about (lat0, lon0) with ``radius``, the formulas of
    :func:`trilink.alerts.projection.aeqd_sphere_forward`."""
    dlon = lon - lon0
    hav = (
        math.sin((lat - lat0) / 2.0) ** 2
        + math.cos(lat0) * math.cos(lat) * math.sin(dlon / 2.0) ** 2
    )
    c = 2.0 * math.asin(math.sqrt(min(max(hav, 0.0), 1.0)))
    az = math.atan2(
        math.sin(dlon) * math.cos(lat),
        math.cos(lat0) * math.sin(lat) - math.sin(lat0) * math.cos(lat) * math.cos(dlon),
    )
    rho = radius * c
    return rho * math.sin(az), rho * math.cos(az)


@_njit_inner
def _point_segment(px, py, ax, ay, bx, by):  # pragma: no cover - compiled
    """Distance from point p to segment ab in the plane."""
    ux, uy = bx - ax, by - ay
    length2 = ux * ux + uy * uy
    t = 0.0 if length2 <= 0.0 else ((px - ax) * ux + (py - ay) * uy) / length2
    t = min(max(t, 0.0), 1.0)
    return math.hypot(px - (ax + t * ux), py - (ay + t * uy))


@_njit
def ring_segment_bound(
    lat0, lon0, a, b, th, k, cos_t, sin_t, seg, consts
):  # pragma: no cover - compiled
    """An upper bound [m] on the distance that ``Territory.distance_m`` would measure
    between the ``k``-sigma ellipse ring (drawn as :func:`ellipse_rings` draws it) and
    the segment ``seg`` = [lat0, lon0, lat1, lon1] rad: in the spherical AEQD plane about
    the ring's mean point (mean latitude, circular-mean longitude of its n + 1 rows,
    Gaussian radius there), the least distance from a ring vertex to the segment or
    from a segment end to a ring edge (at least the polygon-to-segment distance).
    ``consts`` = (a, f, e2). Equal to the NumPy construction to round-off; callers
    allow a metre."""
    a_m, f, e2 = consts[0], consts[1], consts[2]
    n = cos_t.shape[0]
    lat = np.empty(n + 1)
    lon = np.empty(n + 1)
    u0, u1 = math.sin(th), math.cos(th)
    w0, w1 = math.cos(th), -math.sin(th)
    two_pi = 2.0 * math.pi
    for j in range(n):
        x = k * (a * cos_t[j] * u0 - b * sin_t[j] * w0)
        y = k * (a * cos_t[j] * u1 - b * sin_t[j] * w1)
        la, lo = direct_one(lat0, lon0, math.atan2(x, y), math.hypot(x, y), a_m, f)
        lat[j] = la
        lon[j] = lon0 + (((lo - lon0 + math.pi) % two_pi) - math.pi)
    lat[n], lon[n] = lat[0], lon[0]
    s_lat = 0.0
    s_sin = 0.0
    s_cos = 0.0
    for j in range(n + 1):
        s_lat += lat[j]
        s_sin += math.sin(lon[j])
        s_cos += math.cos(lon[j])
    c_lat = s_lat / (n + 1)
    c_lon = math.atan2(s_sin / (n + 1), s_cos / (n + 1))
    radius = a_m * math.sqrt(1.0 - e2) / (1.0 - e2 * math.sin(c_lat) ** 2)
    xs = np.empty(n + 1)
    ys = np.empty(n + 1)
    for j in range(n + 1):
        xs[j], ys[j] = _aeqd_sphere(lat[j], lon[j], c_lat, c_lon, radius)
    ax, ay = _aeqd_sphere(seg[0], seg[1], c_lat, c_lon, radius)
    bx, by = _aeqd_sphere(seg[2], seg[3], c_lat, c_lon, radius)
    best = math.inf
    for j in range(n):
        best = min(best, _point_segment(xs[j], ys[j], ax, ay, bx, by))
        best = min(best, _point_segment(ax, ay, xs[j], ys[j], xs[j + 1], ys[j + 1]))
        best = min(best, _point_segment(bx, by, xs[j], ys[j], xs[j + 1], ys[j + 1]))
    return best


def as_arg(x: Any) -> np.ndarray:
    """A C-contiguous writeable float64 copy-if-needed: one compiled signature per kernel."""
    return np.require(x, dtype=np.float64, requirements=("C", "W"))
