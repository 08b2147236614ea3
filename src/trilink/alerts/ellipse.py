"""Impact-point uncertainty ellipses: from a covariance, scaled to a probability, drawn on
the ellipsoid.

Conventions (used by every exporter in this package):

- an ellipse is held at **1 sigma**: semi-major ``a`` and semi-minor ``b`` axes in metres
  and the **orientation of the major axis as an azimuth, clockwise from true north**, in
  radians in [0, pi) (the navigation convention of :mod:`trilink.geo`, where AER azimuths
  are clockwise from north);
- the covariance it comes from is the horizontal 2x2 block ``[[ee, en], [en, nn]]`` in the
  local east/north tangent frame at the impact point, in m^2;
- a 2-D Gaussian's probability-``p`` contour is the 1-sigma ellipse scaled by
  ``k = sqrt(-2 ln(1 - p))`` (the chi-square quantile with 2 degrees of freedom):
  k = 2.4477 for 95 %, and the "3-sigma" ellipse (k = 3) holds 98.89 %.

Drawing: a point of the ellipse at parameter ``t`` is the tangent-plane offset
``k (a cos t u_major + b sin t u_minor)``, placed on the ellipsoid along the geodesic
from the centre with that length and azimuth (the azimuthal-equidistant map, exact to
the centre; ellipses are at most a few hundred kilometres across).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.alerts.projection import aeqd_inverse
from trilink.geo.kernels_geodesic import ellipse_rings
from trilink.geo.wgs84 import A, F

Array = NDArray[np.float64]

_CONSTS = np.array([A, F])
K95 = math.sqrt(-2.0 * math.log(1.0 - 0.95))  # 2.4477: 95 % contour of a 2-D Gaussian


def k_for_probability(p: float) -> float:
    """Scale from the 1-sigma ellipse to the probability-``p`` contour (2 dof chi-square)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability must be in (0, 1), got {p}")
    return math.sqrt(-2.0 * math.log(1.0 - p))


def probability_for_k(k: float) -> float:
    """Probability inside the ``k``-sigma ellipse of a 2-D Gaussian: 1 - exp(-k^2 / 2)."""
    return 1.0 - math.exp(-0.5 * k * k)


def ellipse_from_covariance(cov_en_m2: ArrayLike) -> tuple[Array, Array, Array]:
    """1-sigma ``(a_m, b_m, orientation_rad)`` from east/north covariances (..., 2, 2).

    The eigenvector of the larger eigenvalue gives the major axis; its azimuth is
    ``atan2(east, north)`` folded into [0, pi) since an axis has no sign.
    """
    cov = np.asarray(cov_en_m2, dtype=float)
    sym = 0.5 * (cov + np.swapaxes(cov, -1, -2))  # guard against round-off asymmetry
    eigval, eigvec = np.linalg.eigh(sym)  # ascending
    lam_min = np.clip(eigval[..., 0], 0.0, None)
    lam_max = np.clip(eigval[..., 1], 0.0, None)
    major = eigvec[..., :, 1]
    orientation = np.mod(np.arctan2(major[..., 0], major[..., 1]), np.pi)
    return np.sqrt(lam_max), np.sqrt(lam_min), orientation


def covariance_from_ellipse(a_m: ArrayLike, b_m: ArrayLike, orientation_rad: ArrayLike) -> Array:
    """Inverse of :func:`ellipse_from_covariance`: east/north covariance (..., 2, 2)."""
    a, b, th = (np.asarray(x, dtype=float) for x in (a_m, b_m, orientation_rad))
    u = np.stack([np.sin(th), np.cos(th)], axis=-1)  # major axis (east, north)
    w = np.stack([np.cos(th), -np.sin(th)], axis=-1)  # minor axis, 90 deg clockwise
    return (a**2)[..., None, None] * np.einsum("...i,...j->...ij", u, u) + (b**2)[
        ..., None, None
    ] * np.einsum("...i,...j->...ij", w, w)


def ellipse_offsets_m(
    a_m: float, b_m: float, orientation_rad: float, k: float = 1.0, n: int = 72
) -> Array:
    """``n`` east/north offsets (n, 2) around the ``k``-sigma ellipse, starting at the
    major-axis tip and turning counter-clockwise seen from above (the exterior-ring
    orientation RFC 7946 asks of GeoJSON)."""
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    u = np.array([math.sin(orientation_rad), math.cos(orientation_rad)])
    w = np.array([math.cos(orientation_rad), -math.sin(orientation_rad)])
    return k * (a_m * np.cos(t)[:, None] * u - b_m * np.sin(t)[:, None] * w)


def ellipse_ring(
    lat_rad: float,
    lon_rad: float,
    a_m: float,
    b_m: float,
    orientation_rad: float,
    k: float = 1.0,
    n: int = 72,
) -> Array:
    """Closed ring ``[lat_rad, lon_rad]`` (n + 1, 2) of the ``k``-sigma ellipse on WGS84.

    Longitudes are continuous about the centre (may pass +-pi near the antimeridian).
    A degenerate ellipse (both axes zero) gives ``n + 1`` copies of the centre.
    :func:`ellipse_offsets_m` placed by :func:`~trilink.alerts.projection.aeqd_inverse`,
    as one compiled loop (:func:`trilink.geo.kernels_geodesic.ellipse_rings`: 20 us
    instead of 300 us; equal to the NumPy construction to a few ulp, tested).
    """
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    out = np.empty((1, n + 1, 2))
    ellipse_rings(
        np.array([lat_rad], dtype=float), np.array([lon_rad], dtype=float),
        np.array([a_m], dtype=float), np.array([b_m], dtype=float),
        np.array([orientation_rad], dtype=float), float(k), np.cos(t), np.sin(t),
        _CONSTS, out,
    )  # fmt: skip
    return out[0]


def ellipse_ring_numpy(
    lat_rad: float,
    lon_rad: float,
    a_m: float,
    b_m: float,
    orientation_rad: float,
    k: float = 1.0,
    n: int = 72,
) -> Array:
    """:func:`ellipse_ring` by NumPy and :func:`aeqd_inverse`: the reference."""
    offsets = ellipse_offsets_m(a_m, b_m, orientation_rad, k, n)
    ring = aeqd_inverse(offsets, (lat_rad, lon_rad))
    return np.concatenate([ring, ring[:1]], axis=0)
