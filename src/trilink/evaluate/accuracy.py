"""Estimation accuracy against truth: RMSE over time and overall, and NEES with its band.

Errors are ``estimate - truth`` with the truth taken at the estimate's own time (see
:mod:`trilink.evaluate.assignment`). Shapes: errors (..., n), covariances (..., n, n).

RMSE (Bar-Shalom, Li & Kirubarajan, *Estimation with Applications to Tracking and
Navigation*, 2001, sec. 3.7): ``sqrt(mean_i |e_i|^2)`` over whatever set of errors is
averaged (Monte Carlo runs at one time, estimates in one time bin, a whole run).

NEES (ibid., sec. 5.4.2): ``eps = e^T P^-1 e``. For a consistent filter ``eps`` is
chi-square with ``n`` degrees of freedom; the average over N independent runs,
``N * mean(eps)``, is chi-square with ``N n`` degrees of freedom, so the two-sided
``1 - alpha`` band for the average is ``chi2.ppf([alpha/2, 1 - alpha/2], N n) / N``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import chi2

from trilink.evaluate.assignment import Assignment
from trilink.evaluate.estimates import TrackEstimates

Array = NDArray[np.float64]

_SLICES = {"full": slice(0, 6), "position": slice(0, 3), "velocity": slice(3, 6)}


def rmse(errors: ArrayLike, axis: int | tuple[int, ...] | None = None) -> Array:
    """Root mean square of the error norms: errors (..., n), averaging over ``axis`` of the
    leading dimensions (None: all). NaN rows (no estimate) are left out of the mean."""
    e = np.asarray(errors, dtype=float)
    sq = np.sum(e * e, axis=-1)  # NaN stays NaN
    with warnings.catch_warnings():  # an all-NaN slice is NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.sqrt(np.nanmean(sq, axis=axis))


def state_errors(est: TrackEstimates, asg: Assignment) -> Array:
    """``estimate - truth`` (K, 6); NaN rows where the estimate has no truth."""
    return est.x - asg.truth_x


@dataclass(frozen=True)
class RmseSeries:
    """RMSE in time bins, and over everything assigned.

    Attributes:
        t_ns: (B,) start of each time bin.
        position_m, velocity_mps: (B,) RMSE of the assigned estimates in each bin (NaN if none).
        count: (B,) number of assigned estimates in each bin.
        position_overall_m, velocity_overall_mps: over all assigned estimates.
    """

    t_ns: NDArray[np.int64]
    position_m: Array
    velocity_mps: Array
    count: NDArray[np.int64]
    position_overall_m: float
    velocity_overall_mps: float


def rmse_over_time(est: TrackEstimates, asg: Assignment, bin_ns: int) -> RmseSeries:
    """Position and velocity RMSE in bins of ``bin_ns`` from the first estimate's time."""
    e = state_errors(est, asg)
    ok = asg.assigned
    if not ok.any():
        empty = np.empty(0)
        return RmseSeries(
            np.empty(0, np.int64), empty, empty, np.empty(0, np.int64), float("nan"), float("nan")
        )
    t0 = int(est.t_ns.min())
    b = (est.t_ns[ok] - t0) // int(bin_ns)
    n_bins = int(b.max()) + 1
    count = np.bincount(b, minlength=n_bins)
    sp = np.bincount(b, np.sum(e[ok, :3] ** 2, axis=1), minlength=n_bins)
    sv = np.bincount(b, np.sum(e[ok, 3:] ** 2, axis=1), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = np.sqrt(sp / count)
        vel = np.sqrt(sv / count)
    return RmseSeries(
        t0 + np.arange(n_bins, dtype=np.int64) * int(bin_ns),
        pos,
        vel,
        count.astype(np.int64),
        float(np.sqrt(sp.sum() / count.sum())),
        float(np.sqrt(sv.sum() / count.sum())),
    )


def rmse_by_truth(est: TrackEstimates, asg: Assignment) -> tuple[Array, Array]:
    """Position and velocity RMSE (J,) per truth over all its assigned estimates."""
    e = state_errors(est, asg)
    ok = asg.assigned
    j = asg.truth_index[ok]
    n = np.bincount(j, minlength=len(asg.truth_ids))
    sp = np.bincount(j, np.sum(e[ok, :3] ** 2, axis=1), minlength=len(asg.truth_ids))
    sv = np.bincount(j, np.sum(e[ok, 3:] ** 2, axis=1), minlength=len(asg.truth_ids))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(sp / n), np.sqrt(sv / n)


def nees(errors: ArrayLike, cov: ArrayLike) -> Array:
    """Normalised estimation error squared ``e^T P^-1 e`` (...) for errors (..., n) and
    covariances (..., n, n), via a Cholesky solve (P must be positive definite; NaN
    where it is not, so one bad covariance does not sink a batch)."""
    e = np.asarray(errors, dtype=float)
    p = np.asarray(cov, dtype=float)
    out = np.full(e.shape[:-1], np.nan)
    flat_e = e.reshape(-1, e.shape[-1])
    flat_p = np.broadcast_to(p, (*e.shape[:-1], e.shape[-1], e.shape[-1])).reshape(
        -1, e.shape[-1], e.shape[-1]
    )
    good = np.all(np.isfinite(flat_e), axis=1) & np.all(np.isfinite(flat_p), axis=(1, 2))
    res = np.full(flat_e.shape[0], np.nan)
    if good.any():
        try:
            chol = np.linalg.cholesky(flat_p[good])
            w = np.linalg.solve(chol, flat_e[good][..., None])[..., 0]  # L w = e
            res[good] = np.sum(w * w, axis=-1)
        except np.linalg.LinAlgError:
            # Some covariance is not positive definite: fall back row by row so that
            # only the offending rows become NaN.
            idx = np.flatnonzero(good)
            for i in idx:
                try:
                    ch = np.linalg.cholesky(flat_p[i])
                except np.linalg.LinAlgError:
                    continue
                w1 = np.linalg.solve(ch, flat_e[i])
                res[i] = float(w1 @ w1)
    out[...] = res.reshape(out.shape)
    return out


def nees_of_estimates(est: TrackEstimates, asg: Assignment, components: str = "full") -> Array:
    """NEES (K,) of each assigned estimate over ``components``: "full" (6 dof),
    "position" or "velocity" (3 dof); NaN where unassigned or without covariance."""
    if est.P is None:
        return np.full(len(est), np.nan)
    s = _SLICES[components]
    return nees(state_errors(est, asg)[:, s], est.P[:, s, s])


def nees_band(dof: int, n_runs: int, probability: float = 0.95) -> tuple[float, float]:
    """Two-sided band for the NEES averaged over ``n_runs`` independent runs."""
    alpha = 1.0 - probability
    lo, hi = chi2.ppf([alpha / 2.0, 1.0 - alpha / 2.0], dof * n_runs) / n_runs
    return float(lo), float(hi)


def average_nees(nees_runs: ArrayLike, axis: int = 0) -> Array:
    """Average NEES over Monte Carlo runs (axis 0 of (R, T) by default), ignoring NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(nees_runs, dtype=float), axis=axis)


def fraction_inside(values: ArrayLike, band: tuple[float, float]) -> float:
    """Share of finite values inside a band: about ``probability`` for a consistent filter."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    return float(np.mean((v >= band[0]) & (v <= band[1])))
