"""Impact-point, apogee and launch-point prediction with uncertainty, batched over tracks.

Inputs are track estimates ``x`` (K, 8) (or (K, 6), then kappa takes its prior) with
covariances ``P`` (K, n, n) at times ``t_ns`` (K,). Outputs are frozen dataclasses of
(K,)-shaped arrays (NaN where a prediction is not available).

Method (see docs/tracking.md):

- **Impact**: each track's 7-D [r, v, kappa] Gaussian is represented by 15 symmetric sigma
  points (Julier & Uhlmann 2004), all tracks stacked into one array, and each point is
  flown on the ballistic model (J2, rotation, drag) to the WGS84 surface. Steps are
  coarse in vacuum (a fixed fraction of the local orbital time scale sqrt(r^3/GM)) and
  turn into Newton steps on the geodetic height once the point is falling, so the last
  step lands on h = 0 (to < 1 m). The impact points' east/north spread about their
  mean gives the ellipse; their flight times the impact time and its sigma. During boost
  this is the *instantaneous impact point* (thrust cut now), the standard range-safety
  quantity: it runs downrange while the motor burns.
- **Apogee**: the highest geodetic height along the same flights (forward) or, for a
  track already past apogee, along the backward flight of the launch-point step.
- **Launch point**: the ballistic flight carried backward to the burnout height (the
  track's own, if it saw the boost; else a rule of thumb from the apogee), then a
  straight line from rest under constant acceleration to the ground: the launch point is
  where the line along -v meets the surface, and the launch time ``t_bo - 2 L / |v|``.
  A boosting track uses its current state as the burnout state. The straight line
  ignores the curvature of the gravity turn; its error, measured on synthetic gravity
  turns, is carried as an extra 1-sigma of ``launch_model_error_frac`` times the line's
  length, added to the sigma-point spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.geo.frames import ecef_to_geodetic, enu_rotation
from trilink.geo.wgs84 import GM, R_MEAN
from trilink.tracking.config import TrackerConfig
from trilink.tracking.dynamics import H_SCALE, IK, NX, rk4_step
from trilink.tracking.filters import sigma_points
from trilink.tracking.jit import arg, use_kernels

Array = NDArray[np.float64]


@dataclass(frozen=True)
class PointPrediction:
    """A predicted ground point with its uncertainty (all (K,), 1-sigma, SI/radians).

    ``ellipse`` semi-axes are 1-sigma metres; ``orientation_rad`` is the major axis'
    bearing clockwise from north in [0, pi); ``cov_en_m2`` (K, 2, 2) the east/north
    covariance about the point; ``t_ns`` the predicted time (impact or launch).
    """

    lat_rad: Array
    lon_rad: Array
    semi_major_m: Array
    semi_minor_m: Array
    orientation_rad: Array
    cov_en_m2: Array
    t_ns: NDArray[np.int64]
    t_sigma_s: Array
    valid: NDArray[np.bool_]


@dataclass(frozen=True)
class Predictions:
    """Impact and launch points, and the apogee [m] with its sigma, for K estimates."""

    impact: PointPrediction
    launch: PointPrediction
    apogee_m: Array
    apogee_sigma_m: Array


def _height_and_rates(x: Array) -> tuple[Array, Array, Array]:
    """Geodetic height (M,), vertical speed (M,) and (lat, lon) stacked (M, 2)."""
    lla = ecef_to_geodetic(x[:, 0:3])
    lat, lon = lla[:, 0], lla[:, 1]
    up = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
    return lla[:, 2], np.einsum("ij,ij->i", up, x[:, 3:6]), lla[:, 0:2]


def fly_to_height(
    x: Array,
    direction: float,
    stop_height: Array | None,
    cfg: TrackerConfig,
    apogee_stop_frac: float | None = None,
    floor_m: float = 0.0,
    drag: bool = True,
) -> tuple[Array, Array, Array, NDArray[np.bool_]]:
    """Fly ballistic states (M, 8) forward (``direction=+1``) or backward (-1) until they
    cross a geodetic height on the branch that leads there (falling forward, rising when
    flown backward): (final states, elapsed seconds (signed), highest height, converged).

    ``stop_height`` (M,) fixes the height; with ``apogee_stop_frac`` the height is instead
    ``clip(frac * apogee, floor_m, ...)`` from the highest point met so far, which the
    backward flight of a descending track reaches first. ``drag=False`` flies in vacuum
    (the backward flight: drag run backward is unstable, and on the way up the object
    was the booster, not the re-entry vehicle whose kappa the track holds).
    """
    x = np.array(x, dtype=float)
    m = x.shape[0]
    elapsed = np.zeros(m)
    h, vup, _ = _height_and_rates(x)
    top = h.copy()
    done = np.zeros(m, dtype=bool)
    off = np.zeros(m)
    on = np.ones(m) if drag else np.zeros(m)
    idx = np.arange(m)
    for _ in range(2000):
        if idx.size == 0:
            break
        xa = x[idx]
        ha, va = h[idx], vup[idx]
        if apogee_stop_frac is not None:
            target = np.maximum(apogee_stop_frac * top[idx], floor_m)
        else:
            assert stop_height is not None
            target = stop_height[idx]
        rn = np.linalg.norm(xa[:, 0:3], axis=1)
        coarse = cfg.predict_coarse_step_frac * np.sqrt(rn**3 / GM)
        # In the air, resolve the drag: a fraction of the time to cross a scale height;
        # and from above, do not jump deeper into the air than one such step.
        if drag:
            air_h = cfg.predict_air_height_m
            rate = np.maximum(np.abs(va), 1.0)
            air_step = np.maximum(cfg.predict_air_step_frac * H_SCALE / rate, 0.5)
            to_air = np.where(direction * va < 0.0, (ha - air_h) / rate, np.inf)
            limit = np.where(ha < air_h, air_step, np.maximum(to_air, air_step))
            coarse = np.minimum(coarse, limit)
        approaching = direction * va < 0.0  # on the branch that crosses the target
        newton = (target - ha) / np.where(va == 0.0, 1e-9, va)
        use_newton = approaching & (np.abs(newton) <= coarse)
        step = np.where(use_newton, newton, direction * coarse)
        finished = use_newton & (np.abs(target - ha) < 0.5)
        over = np.abs(elapsed[idx]) > cfg.predict_max_time_s
        stop = finished | over
        done[idx[finished]] = True
        idx, xa, step = idx[~stop], xa[~stop], step[~stop]
        if idx.size == 0:
            break
        with np.errstate(invalid="ignore", over="ignore"):
            xa = rk4_step(xa, step, off[: idx.size], on[: idx.size])
        bad = ~np.isfinite(xa).all(axis=1)
        if bad.any():  # a sigma point flown into nonsense (e.g. backward through dense air)
            xa[bad] = x[idx[bad]]
            elapsed[idx[bad]] = np.inf
        x[idx] = xa
        elapsed[idx] += step
        h_new, v_new, _ = _height_and_rates(xa)
        # Apex between two steps: where the vertical speed changes sign, the top of the
        # parabola through either end (g ~ GM/r^2 locally).
        crossed = np.sign(v_new) != np.sign(vup[idx])
        g = GM / np.linalg.norm(xa[:, 0:3], axis=1) ** 2
        # (from the end nearer the apex, and never above what the step could reach)
        near_prev = np.abs(vup[idx]) < np.abs(v_new)
        apex = np.where(near_prev, h[idx] + vup[idx] ** 2 / (2 * g), h_new + v_new**2 / (2 * g))
        reach = np.maximum(h[idx], h_new) + 0.5 * np.abs(step) * np.minimum(
            np.abs(vup[idx]), np.abs(v_new)
        )
        apex = np.minimum(apex, reach)
        top[idx] = np.maximum(top[idx], np.where(crossed, apex, h_new))
        h[idx], vup[idx] = h_new, v_new
    return x, elapsed, top, done


def _enu_spread(lat: Array, lon: Array, w: Array, k: int, n_pts: int) -> tuple[Array, Array, Array]:
    """Weighted mean point (lat, lon) and east/north covariance (K, 2, 2) of sigma points
    (K, n_pts) on the surface, in the tangent plane of the mean."""
    lat = lat.reshape(k, n_pts)
    lon = lon.reshape(k, n_pts)
    # Mean through unit vectors (no wrap problems at +-180 deg).
    u = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
    um = np.einsum("j,kjc->kc", w, u) + 1e-12 * u[:, 0]
    lat_m = np.arctan2(um[:, 2], np.hypot(um[:, 0], um[:, 1]))
    lon_m = np.arctan2(um[:, 1], um[:, 0])
    rot = enu_rotation(lat_m, lon_m)[:, 0:2, :]  # (K, 2, 3): east, north
    d = np.einsum("kac,kjc->kja", rot, u - um[:, None, :]) * R_MEAN
    cov = np.einsum("j,kja,kjb->kab", w, d, d)
    return lat_m, lon_m, cov


def ellipse(cov_en: Array) -> tuple[Array, Array, Array]:
    """1-sigma semi-major, semi-minor [m] and the major axis' bearing from north [0, pi)."""
    vals, vecs = np.linalg.eigh(cov_en)
    major = vecs[..., :, 1]
    bearing = np.mod(np.arctan2(major[..., 0], major[..., 1]), np.pi)
    return np.sqrt(np.maximum(vals[..., 1], 0.0)), np.sqrt(np.maximum(vals[..., 0], 0.0)), bearing


def _state7(x: Array, P: Array, cfg: TrackerConfig) -> tuple[Array, Array]:
    """[r, v, kappa] (K, 7) and its covariance from 8-D or 6-D estimates."""
    k = x.shape[0]
    x7 = np.empty((k, 7))
    P7 = np.zeros((k, 7, 7))
    x7[:, 0:6] = x[:, 0:6]
    P7[:, 0:6, 0:6] = P[:, 0:6, 0:6]
    if x.shape[1] >= NX:
        x7[:, 6] = x[:, IK]
        P7[:, 6, 6] = P[:, IK, IK]
        P7[:, 0:6, 6] = P[:, 0:6, IK]
        P7[:, 6, 0:6] = P[:, IK, 0:6]
    else:
        x7[:, 6] = cfg.kappa_prior
        P7[:, 6, 6] = cfg.kappa_sigma**2
    return x7, P7


def _to8(x7: Array) -> Array:
    x8 = np.zeros((x7.shape[0], NX))
    x8[:, 0:6] = x7[:, 0:6]
    x8[:, IK] = x7[:, 6]
    return x8


def predict_points(
    x: Array,
    P: Array,
    t_ns: NDArray[np.int64],
    boosting: NDArray[np.bool_],
    burnout_height_m: Array,
    cfg: TrackerConfig,
) -> Predictions:
    """Impact point, apogee and launch point with uncertainty for K estimates at once.

    ``boosting`` (K,) says which estimates are in boost (their launch point extrapolates
    from the current state); ``burnout_height_m`` (K,) is the height at which each track
    left the boost (NaN if it never saw one: then ``clip(0.25 * apogee, 30 km, 300 km)``).
    Runs the compiled kernel (:mod:`.kernels_prediction`) when :mod:`.jit` allows, else
    :func:`predict_points_reference`; both give the same numbers.
    """
    if not use_kernels():
        return predict_points_reference(x, P, t_ns, boosting, burnout_height_m, cfg)
    from trilink.tracking import kernels_prediction as kp

    x, P = np.asarray(x, float), np.asarray(P, float)
    k = x.shape[0]
    t_ns = np.asarray(t_ns, dtype=np.int64)
    with np.errstate(invalid="ignore", over="ignore"):
        out, times, bad = kp.predict_kernel(
            arg(x), arg(P), _ints(t_ns, k), _flags(boosting, k), arg(_rows(burnout_height_m, k)),
            cfg.kappa_prior, cfg.kappa_sigma, cfg.predict_coarse_step_frac,
            cfg.predict_air_height_m, cfg.predict_air_step_frac, cfg.predict_max_time_s,
            cfg.launch_model_error_frac,
        )  # fmt: skip
    if bad.any():  # as np.linalg.cholesky in the reference
        raise np.linalg.LinAlgError("predict_points: covariance is not positive definite")
    cols = np.ascontiguousarray(out.T)  # (N_OUT, K): every field a row of one new array
    valid = cols[[kp.C_I_OK, kp.C_L_OK]].astype(np.bool_)  # (0.0 or 1.0)

    def point(c0: int, ce: int, i: int) -> PointPrediction:
        # rows c0..c0+7: lat, lon, ee, en, nn, t, t_sigma, ok; ce..ce+2: a, b, bearing
        cov = cols[c0 + _COV_ROWS].T.reshape(k, 2, 2)
        return PointPrediction(
            cols[c0], cols[c0 + 1], cols[ce], cols[ce + 1], cols[ce + 2], cov, times[i],
            cols[c0 + 6], valid[i],
        )  # fmt: skip

    return Predictions(
        point(kp.C_I_LAT, kp.C_I_A, 0), point(kp.C_L_LAT, kp.C_L_A, 1),
        cols[kp.C_APO], cols[kp.C_APO_S],
    )  # fmt: skip


_COV_ROWS = np.array([2, 3, 3, 4])  # [[ee, en], [en, nn]] from a point's rows


def _rows(a: ArrayLike, k: int) -> Array:
    """``a`` as a (K,) float array (a scalar is repeated)."""
    a = np.asarray(a, dtype=float)
    return a if a.shape == (k,) else np.broadcast_to(a, (k,))


def _ints(a: NDArray[np.int64], k: int) -> NDArray[np.int64]:
    """``a`` as a C-contiguous, writeable (K,) int64 array (one kernel signature)."""
    if a.shape == (k,) and a.flags.c_contiguous and a.flags.writeable:
        return a
    return np.require(np.broadcast_to(a, (k,)), np.int64, ("C", "W"))


def _flags(a: ArrayLike, k: int) -> NDArray[np.bool_]:
    """``a`` as a C-contiguous, writeable (K,) bool array (one kernel signature)."""
    a = np.asarray(a)
    if a.shape == (k,) and a.dtype == np.bool_ and a.flags.c_contiguous and a.flags.writeable:
        return a
    return np.require(np.broadcast_to(a, (k,)), np.bool_, ("C", "W"))


@np.errstate(invalid="ignore", over="ignore")
def predict_points_reference(
    x: Array,
    P: Array,
    t_ns: NDArray[np.int64],
    boosting: NDArray[np.bool_],
    burnout_height_m: Array,
    cfg: TrackerConfig,
) -> Predictions:
    """:func:`predict_points` in NumPy: all sigma points of all tracks flown together
    (the reference the compiled kernel is tested against)."""
    k = x.shape[0]
    t_ns = np.asarray(t_ns, dtype=np.int64)
    x7, P7 = _state7(np.asarray(x, float), np.asarray(P, float), cfg)
    pts, w = sigma_points(x7, P7)
    n_pts = pts.shape[1]
    flat = _to8(pts.reshape(k * n_pts, 7))
    # kappa is a Gaussian in the filter, but a negative one would be thrust in the air
    # (the flight would run away): a sigma point below zero flies without drag.
    flat[:, IK] = np.maximum(flat[:, IK], 0.0)

    # --- forward to the surface: impact and (if still rising) apogee ---
    xf, tf, top_f, ok_f = fly_to_height(flat, +1.0, np.zeros(k * n_pts), cfg)
    lla_f = ecef_to_geodetic(xf[:, 0:3])
    lat_i, lon_i, cov_i = _enu_spread(lla_f[:, 0], lla_f[:, 1], w, k, n_pts)
    ok_i = np.all(ok_f.reshape(k, n_pts), axis=1)
    tf2 = tf.reshape(k, n_pts)
    t_mean = tf2 @ w
    t_sig = np.sqrt(((tf2 - t_mean[:, None]) ** 2) @ w)
    a_i, b_i, o_i = ellipse(cov_i)
    impact = PointPrediction(
        lat_i, lon_i, a_i, b_i, o_i, cov_i,
        _add_s(t_ns, t_mean), t_sig, ok_i,
    )  # fmt: skip

    # --- backward to burnout, then the straight line to the ground ---
    h0, _, _ = _height_and_rates(flat)
    bo = np.repeat(np.asarray(burnout_height_m, float), n_pts)
    boost_rows = np.repeat(np.asarray(boosting, bool), n_pts)
    known = ~np.isnan(bo) & ~boost_rows
    unknown = np.isnan(bo) & ~boost_rows
    xb = flat.copy()
    tb = np.zeros(k * n_pts)
    top_b = h0.copy()
    ok_b = np.ones(k * n_pts, dtype=bool)
    if known.any():
        # Never stop above the state itself when it is rising (burnout is in the past).
        xs, ts, tops, oks = fly_to_height(
            flat[known], -1.0, np.minimum(bo[known], h0[known]), cfg, drag=False
        )
        xb[known], tb[known], top_b[known], ok_b[known] = xs, ts, tops, oks
    if unknown.any():
        start_top = np.maximum(top_f[unknown], h0[unknown])
        xs, ts, tops, oks = fly_to_height(
            flat[unknown], -1.0, None, cfg, apogee_stop_frac=0.25, floor_m=30_000.0, drag=False
        )
        xb[unknown], tb[unknown], oks = xs, ts, oks
        top_b[unknown] = np.maximum(tops, start_top)
        ok_b[unknown] = oks
    xl, line_len, line_t = _line_to_ground(xb)
    lla_l = ecef_to_geodetic(xl)
    lat_l, lon_l, cov_l = _enu_spread(lla_l[:, 0], lla_l[:, 1], w, k, n_pts)
    tl2 = (tb - line_t).reshape(k, n_pts)
    tl_mean = tl2 @ w
    tl_sig2 = ((tl2 - tl_mean[:, None]) ** 2) @ w
    # Model error of the straight line (curvature of the gravity turn), measured in tests.
    frac = cfg.launch_model_error_frac
    len_mean = line_len.reshape(k, n_pts) @ w
    t_line_mean = line_t.reshape(k, n_pts) @ w
    cov_l = cov_l + (frac * len_mean)[:, None, None] ** 2 * np.eye(2)
    a_l, b_l, o_l = ellipse(cov_l)
    ok_l = np.all(ok_b.reshape(k, n_pts), axis=1)
    launch = PointPrediction(
        lat_l, lon_l, a_l, b_l, o_l, cov_l,
        _add_s(t_ns, tl_mean),
        np.sqrt(tl_sig2 + (frac * t_line_mean) ** 2), ok_l,
    )  # fmt: skip

    top = np.maximum(top_f, top_b).reshape(k, n_pts)
    apo = top @ w
    apo_sig = np.sqrt(((top - apo[:, None]) ** 2) @ w)
    return Predictions(impact, launch, apo, apo_sig)


def _line_to_ground(x: Array) -> tuple[Array, Array, Array]:
    """Where the line from r along -v meets the surface: (point (M, 3), length [m], time [s]
    of a constant-acceleration rise from rest along it, ``2 L / |v|``)."""
    r, v = x[:, 0:3], x[:, 3:6]
    vn = np.maximum(np.linalg.norm(v, axis=1), 1.0)
    u = v / vn[:, None]
    s = np.zeros(x.shape[0])
    for _ in range(4):  # Newton on the geodetic height along the line (converges to mm)
        lla = ecef_to_geodetic(r - s[:, None] * u)
        lat, lon = lla[:, 0], lla[:, 1]
        up = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
        rate = np.maximum(np.einsum("ij,ij->i", up, u), 0.05)  # d h / d s = -(up . u)
        s = s + lla[:, 2] / rate
    p = r - s[:, None] * u
    return p, s, 2.0 * s / vn


def _add_s(t_ns: NDArray[np.int64], dt_s: Array) -> NDArray[np.int64]:
    """``t_ns + dt_s`` in integer ns; 0 where ``dt_s`` is not finite (see ``valid``)."""
    ok = np.abs(dt_s) < 1e6  # (False for NaN)
    return np.where(ok, t_ns + np.round(np.where(ok, dt_s, 0.0) * 1e9).astype(np.int64), 0)
