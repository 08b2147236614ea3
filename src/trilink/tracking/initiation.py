"""Track initiation from single radar detections.

A radar's ``[range, az, el]`` fixes a 3-D position: the converted position is
``s + rot^T l(range, az, el)`` with covariance ``J^-1 R J^-T`` (``J`` the analytic
measurement Jacobian at that point; the conversion bias ``range * sigma_angle^2 / 2`` is
below a metre for radar accuracies and is ignored). The velocity is unknown: a zero-mean
prior of ``velocity_prior_sigma`` per axis (large enough to hold an ICBM's 7 km/s at two
sigma), which the next two or three detections resolve; the track is tentative until
then (M-of-N). Both IMM models start from the same position/velocity; the boost model
with a thrust-acceleration prior, the ballistic one with none.

An infrared satellite's angles alone fix no range, so they never start a track here:
they update tracks that radars started (see docs/tracking.md for why and what a
boost-prior initiation would take).

Reference: Blackman & Popoli (1999), sec. 6.6 (track initiation); Bar-Shalom, Li &
Kirubarajan (2001), sec. 10.4.3 (converted measurements).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from trilink.geo.measure import range_az_el_jacobian
from trilink.tracking.config import TrackerConfig
from trilink.tracking.dynamics import IA, IK, NX
from trilink.tracking.filters import Measurement
from trilink.tracking.imm import BALLISTIC, BOOST, N_MODELS

Array = NDArray[np.float64]


def radar_to_ecef(
    z: Array, R: Array, meas: Measurement, with_covariance: bool = True
) -> tuple[Array, Array | None]:
    """Converted positions (D, 3) and their covariances (D, 3, 3) from ``[range, az, el]``."""
    rng, az, el = z[:, 0], z[:, 1], z[:, 2]
    local = np.stack(
        [rng * np.cos(el) * np.sin(az), rng * np.cos(el) * np.cos(az), rng * np.sin(el)], -1
    )
    pos = meas.sensor_ecef + local @ meas.rot  # rot^T l, row-wise
    if not with_covariance:
        return pos, None
    jinv = np.linalg.inv(range_az_el_jacobian(pos, meas.sensor_ecef, meas.rot))
    cov = jinv @ R @ np.swapaxes(jinv, -1, -2)
    return pos, 0.5 * (cov + np.swapaxes(cov, -1, -2))


def initiate(
    z: Array, R: Array, meas: Measurement, cfg: TrackerConfig
) -> tuple[Array, Array, Array]:
    """IMM states (D, 2, 8), covariances (D, 2, 8, 8) and probabilities (D, 2) for new
    tentative tracks at radar detections ``z`` (D, 3) with covariances ``R`` (D, 3, 3)."""
    d = z.shape[0]
    pos, pos_cov = radar_to_ecef(z, R, meas)
    assert pos_cov is not None
    x = np.zeros((d, N_MODELS, NX))
    P = np.zeros((d, N_MODELS, NX, NX))
    x[:, :, 0:3] = pos[:, None, :]
    x[:, :, IK] = cfg.kappa_prior
    x[:, BOOST, IA] = cfg.thrust_init
    P[:, :, 0:3, 0:3] = pos_cov[:, None]
    P[:, :, 3:6, 3:6] = np.eye(3) * cfg.velocity_prior_sigma**2
    P[:, :, IK, IK] = cfg.kappa_sigma**2
    P[:, BOOST, IA, IA] = cfg.thrust_init_sigma**2
    P[:, BALLISTIC, IA, IA] = 1e-4  # the ballistic model's (zero) thrust: see ModelRows
    mu = np.tile([1.0 - cfg.mu_boost_init, cfg.mu_boost_init], (d, 1))
    return x, P, mu
