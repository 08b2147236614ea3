"""Trajectory design: the pitch programme and cut-off that hit a point with an apogee.

Given a launch point, an impact point (or an azimuth and a ground range) and optionally
an apogee, :func:`design_flight` finds the three controls of the boost —
launch azimuth, pitch-over kick angle, final-stage burn time (thrust termination) — so
that the full flight (J2 gravity, US76 drag, rotating Earth) lands within
``MISS_TOLERANCE_M`` of the requested point and peaks within ``APOGEE_TOLERANCE`` of the
requested apogee. Without an apogee the third condition is *minimum energy*: the coast
ellipse from burnout to impact is the minimum-energy ellipse through those two points
(burnout flight-path angle bisecting the local vertical and the chord; for equal radii
gamma = (pi - Psi) / 4, Bate, Mueller & White §6.2), i.e. the least burnout energy for
the range.

Earth rotation is handled by flying in the inertial frame: the impact residual is
measured in ECEF at the impact time, so the solver aims where the target will be.

Two stages, both vectorised over candidates:
1. First guess: one boost batch over a grid of kick angles at full burn records the
   state at every possible cut-off; a closed-form vacuum coast (:mod:`kepler`) from each
   gives range, cross-range and apogee; interpolation picks (kick, cut-off), and the
   azimuth is turned by the cross-range. The same table decides infeasibility.
2. Newton on the full model: each iteration flies the nominal and three perturbed
   control triples in one batch (finite-difference Jacobian), typically 2-3 iterations.
   :func:`design_flights` solves many requests together: every iteration flies all
   their candidates in one batch per class and one shared coast, so a salvo costs
   little more than its longest flight.

Designs are memoised (per process, the last ``DESIGN_CACHE_SIZE`` calls). A flight does
not depend on its launch time in the Earth-fixed frame: J2 gravity is axisymmetric, the
Earth turns uniformly, the US76 atmosphere does not change with time, and the inertial
frame the boost is flown in is the Earth-fixed frame at lift-off (:mod:`.propagate`). So
the cache keys each call on its requests with the launch time and the missile id taken
out, and a hit is the cached flight with its times shifted and its id put back: the same
numbers, bit for bit, as designing it again. The key is the whole call (a flight
designed within a batch may differ from the same flight designed alone by up to tens of
metres, within the Newton tolerances), so a result never depends on what was designed
before. Monte Carlo trials that shift only launch times design each salvo once per worker.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trilink.errors import TrajectoryInfeasible
from trilink.geo.frames import ecef_to_enu, ecef_to_geodetic, geodetic_to_ecef
from trilink.geo.geodesic import geodesic_direct, geodesic_inverse
from trilink.physics.design_guess import KICK_MAX_RAD, KICK_MIN_RAD, first_guess
from trilink.physics.flight import Flight, flight_meta, fly_groups, to_trajectory
from trilink.physics.rocket import MISSILE_CLASSES, MissileClass
from trilink.physics.truth import Trajectory

Array = NDArray[np.float64]

MISS_TOLERANCE_M = 200.0  # Newton stops here; the contract is 1 km
APOGEE_TOLERANCE = 1e-3  # relative; the contract is 1 %
GAMMA_TOLERANCE_RAD = 2e-4  # minimum energy: 0.01 deg off the optimum costs < 1e-7 in energy
MAX_NEWTON = 12
DESIGN_CACHE_SIZE = 64  # calls; an SRBM flight is ~40 kB, a lofted ICBM's hour ~0.5 MB


@dataclass(frozen=True)
class FlightRequest:
    """One flight to design; the arguments of :func:`design_flight` as a value."""

    launch_lat_rad: float
    launch_lon_rad: float
    impact_lat_rad: float | None = None
    impact_lon_rad: float | None = None
    azimuth_rad: float | None = None
    range_m: float | None = None
    apogee_m: float | None = None
    missile_class: str = "SRBM"
    launch_t_ns: int = 0
    missile_id: str = "m1"
    dt_s: float = 0.5


@dataclass(frozen=True)
class _Problem:
    """A validated request: class, launch, target (lat, lon, 0), range and azimuth."""

    request: FlightRequest
    cls: MissileClass
    target: Array
    range_m: float
    azimuth_rad: float

    @property
    def what(self) -> str:
        a = self.request.apogee_m
        return "minimum energy" if a is None else f"apogee {a / 1e3:.0f} km"


def _validate(q: FlightRequest) -> _Problem:
    """Check a request and resolve its target; ValueError names what is wrong."""
    key = q.missile_class.upper()
    if key not in MISSILE_CLASSES:
        raise ValueError(
            f"unknown missile class {q.missile_class!r} (known: {', '.join(MISSILE_CLASSES)})"
        )
    if not (math.isfinite(q.dt_s) and 0.0 < q.dt_s <= 10.0):
        raise ValueError(f"dt_s must be in (0, 10] s, got {q.dt_s}")
    if not (abs(q.launch_lat_rad) <= math.pi / 2 and math.isfinite(q.launch_lon_rad)):
        raise ValueError("launch latitude must be within +-90 deg and longitude finite")
    by_point = q.impact_lat_rad is not None or q.impact_lon_rad is not None
    by_bearing = q.azimuth_rad is not None or q.range_m is not None
    if by_point == by_bearing:
        raise ValueError(
            "give either the impact point or an azimuth and a range, not both or neither"
        )
    if by_point:
        if q.impact_lat_rad is None or q.impact_lon_rad is None:
            raise ValueError("the impact point needs both latitude and longitude")
        if not (abs(q.impact_lat_rad) <= math.pi / 2 and math.isfinite(q.impact_lon_rad)):
            raise ValueError("impact latitude must be within +-90 deg and longitude finite")
        rng, az, _ = geodesic_inverse(
            q.launch_lat_rad, q.launch_lon_rad, q.impact_lat_rad, q.impact_lon_rad
        )
        lat1, lon1, range_req, az_req = q.impact_lat_rad, q.impact_lon_rad, float(rng), float(az)
    else:
        if q.azimuth_rad is None or q.range_m is None:
            raise ValueError("a bearing needs both an azimuth and a range")
        if not (math.isfinite(q.azimuth_rad) and math.isfinite(q.range_m)):
            raise ValueError("azimuth and range must be finite")
        range_req, az_req = float(q.range_m), float(q.azimuth_rad)
        la, lo = geodesic_direct(q.launch_lat_rad, q.launch_lon_rad, az_req, range_req)
        lat1, lon1 = float(la), float(lo)
    if not 1_000.0 <= range_req <= 19_000_000.0:
        raise ValueError(f"range must be between 1 km and 19,000 km, got {range_req / 1e3:.1f} km")
    if q.apogee_m is not None and not (math.isfinite(q.apogee_m) and q.apogee_m > 0.0):
        raise ValueError(f"apogee must be a positive height, got {q.apogee_m}")
    target = np.array([lat1, lon1, 0.0])
    return _Problem(q, MISSILE_CLASSES[key], target, range_req, az_req)


def _residuals(flight: Flight, rows: slice, target_lla: Array, apogee_m: float | None) -> Array:
    """(n, 3) for ``rows`` of ``flight``: miss east and north [km], then apogee error [%]
    or gamma excess [deg].

    The miss is the azimuthal-equidistant offset of the impact about the target (great-
    circle distance along the bearing), one-to-one over the globe: a raw ENU east/north
    would also vanish at the target's antipode.
    """
    enu = ecef_to_enu(flight.impact_ecef[rows], target_lla)
    horiz = np.hypot(enu[:, 0], enu[:, 1])
    radius = np.linalg.norm(geodetic_to_ecef(target_lla))
    arc = radius * np.arctan2(horiz, radius + enu[:, 2])
    scale = np.where(horiz > 0.0, arc / np.maximum(horiz, 1e-300), 1.0)
    third = (
        np.degrees(flight.gamma_excess_rad[rows])
        if apogee_m is None
        else 100.0 * (flight.apogee_m[rows] - apogee_m) / apogee_m
    )
    out = np.column_stack([scale * enu[:, 0] / 1e3, scale * enu[:, 1] / 1e3, third])
    return np.where(flight.landed[rows][:, None], out, np.nan)


def _converged(res: Array, apogee_m: float | None) -> bool:
    miss_km = math.hypot(res[0], res[1])
    third_ok = (
        abs(res[2]) < math.degrees(GAMMA_TOLERANCE_RAD)
        if apogee_m is None
        else abs(res[2]) < 100.0 * APOGEE_TOLERANCE
    )
    return bool(miss_km * 1e3 < MISS_TOLERANCE_M and third_ok)


class _Failed(Exception):
    def __init__(self, index: int, reason: str):
        self.index, self.reason = index, reason


def _newton_step(p: _Problem, c: Array, steps: Array, res: Array) -> Array | None:
    """The damped, bounded Newton update of one problem's controls (None: singular)."""
    last_hi = p.cls.stages[-1].burn_s
    jac = ((res[1:] - res[0]) / steps[:, None]).T
    try:
        delta = -np.linalg.solve(jac, res[0])
    except np.linalg.LinAlgError:
        return None
    # Keep each step within the region where the linearisation holds.
    limits = np.array([0.2, max(0.5 * c[1], 0.02), 0.25 * last_hi])
    delta *= min(1.0, float(np.min(limits / np.maximum(np.abs(delta), 1e-300))))
    new = c + delta
    new[1] = np.clip(new[1], KICK_MIN_RAD, KICK_MAX_RAD)
    new[2] = np.clip(new[2], p.cls.min_last_burn_s, last_hi)
    return new


def _solve(problems: Sequence[_Problem], c0: Sequence[Array]) -> list[tuple[Flight, int, int]]:
    """Newton on the full model for all problems at once.

    Returns per problem (flight, row of its nominal in that flight, iterations); raises
    ``_Failed`` for the first problem that cannot be met.
    """
    c = [x.copy() for x in c0]
    done: dict[int, tuple[Flight, int, int]] = {}
    for it in range(1, MAX_NEWTON + 1):
        active = [i for i in range(len(problems)) if i not in done]
        if not active:
            break
        # Nominal + three finite-difference candidates per problem, grouped by class.
        groups: dict[str, list[int]] = {}
        for i in active:
            groups.setdefault(problems[i].cls.name, []).append(i)
        steps: dict[int, Array] = {}
        plan = []
        for members in groups.values():
            rows = []
            for i in members:
                last_hi = problems[i].cls.stages[-1].burn_s
                d = np.array([2e-5, max(1e-3 * c[i][1], 2e-6), 0.02])
                d[2] *= -1.0 if c[i][2] > last_hi - 0.05 else 1.0  # stay inside the burn
                steps[i] = d
                rows.append(np.vstack([c[i], c[i] + np.diag(d)]))
            lat = np.repeat([problems[i].request.launch_lat_rad for i in members], 4)
            lon = np.repeat([problems[i].request.launch_lon_rad for i in members], 4)
            plan.append((problems[members[0]].cls, lat, lon, np.vstack(rows)))
        flights = fly_groups(plan)
        for flight, members in zip(flights, groups.values(), strict=True):
            for k, i in enumerate(members):
                p = problems[i]
                res = _residuals(flight, slice(4 * k, 4 * k + 4), p.target, p.request.apogee_m)
                if not np.isfinite(res[0]).all():
                    raise _Failed(
                        i,
                        f"the {p.cls.name} class does not reach the ground on this flight ({p.what})",
                    )
                if _converged(res[0], p.request.apogee_m):
                    done[i] = (flight, 4 * k, it)
                    continue
                new = _newton_step(p, c[i], steps[i], res)
                if (
                    new is None
                    or it == MAX_NEWTON
                    or (it >= 3 and np.allclose(new, c[i], atol=1e-9))
                ):
                    if c[i][2] >= p.cls.stages[-1].burn_s - 1e-6:
                        raise _Failed(
                            i,
                            f"the flight needs more energy than the {p.cls.name} class has ({p.what})",
                        )
                    if c[i][2] <= p.cls.min_last_burn_s + 1e-6:
                        raise _Failed(
                            i,
                            f"range {p.range_m / 1e3:.0f} km is too short for the {p.cls.name} class "
                            f"({p.what}): its shortest burn flies further; ask for a higher apogee",
                        )
                    if c[i][1] >= KICK_MAX_RAD - 1e-9:
                        raise _Failed(
                            i,
                            f"the {p.cls.name} class cannot fly as flat as range {p.range_m / 1e3:.0f} km "
                            f"needs ({p.what}); ask for a higher apogee",
                        )
                    raise _Failed(
                        i,
                        f"no {p.cls.name} pitch programme meets the request ({p.what}); the design did not converge",
                    )
                c[i] = new
    return [done[i] for i in range(len(problems))]


def _truth(p: _Problem, flight: Flight, row: int, iterations: int) -> Trajectory:
    """The sampled trajectory of a solved problem, with its figures in ``meta``."""
    q = p.request
    traj = to_trajectory(
        flight, row, p.cls, missile_id=q.missile_id, launch_t_ns=q.launch_t_ns, dt_s=q.dt_s, meta={}
    )
    meta = flight_meta(flight, row, q.launch_lat_rad, q.launch_lon_rad, traj.v_ecef_mps)
    miss = np.linalg.norm(ecef_to_enu(flight.impact_ecef[row], p.target)[:2])
    meta |= {
        "requested_impact_lat_rad": float(p.target[0]),
        "requested_impact_lon_rad": float(p.target[1]),
        "requested_range_m": p.range_m,
        "requested_apogee_m": float("nan") if q.apogee_m is None else float(q.apogee_m),
        "miss_m": float(miss),
        "min_energy": 1.0 if q.apogee_m is None else 0.0,
        "design_iterations": float(iterations),
        "impact_height_m": float(ecef_to_geodetic(traj.r_ecef_m[-1])[2]),
    }
    return dataclasses.replace(traj, meta=meta)


_cache: OrderedDict[tuple[FlightRequest, ...], list[Trajectory]] = OrderedDict()
_cache_lock = threading.Lock()  # trials may run in threads (a threaded Dask worker)


def clear_design_cache() -> None:
    """Forget every memoised design (see the module docstring)."""
    with _cache_lock:
        _cache.clear()


def _at_epoch(q: FlightRequest) -> FlightRequest:
    """The request with what does not change the flight taken out (the cache key)."""
    return dataclasses.replace(q, launch_t_ns=0, missile_id="")


def _shifted(traj: Trajectory, q: FlightRequest) -> Trajectory:
    """A cached flight (launched at t = 0) as request ``q`` asked for it: its own id and
    launch time, and arrays of its own (a caller may write to them)."""
    return dataclasses.replace(
        traj,
        missile_id=q.missile_id,
        t_ns=traj.t_ns + np.int64(q.launch_t_ns),
        r_ecef_m=traj.r_ecef_m.copy(),
        v_ecef_mps=traj.v_ecef_mps.copy(),
        burning=traj.burning.copy(),
        rcs_m2=traj.rcs_m2.copy(),
        burnout_t_ns=traj.burnout_t_ns + q.launch_t_ns,
        meta=dict(traj.meta),
    )


def design_flights(requests: Sequence[FlightRequest]) -> list[Trajectory]:
    """Design many flights together (a salvo, a scenario); same results as one by one
    up to the Newton tolerances (tens of metres at impact).

    Raises ``ValueError`` for a malformed request and ``TrajectoryInfeasible`` (its
    reason prefixed with the request's ``missile_id``) for the first one that cannot
    be flown. Memoised on the requests without their launch times (module docstring).
    """
    key = tuple(_at_epoch(q) for q in requests)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
    if cached is None:
        # Design at epoch 0 (outside the lock: two threads may both design it, and
        # get the same flight), keeping the ids for the error messages.
        designed = _design([dataclasses.replace(q, launch_t_ns=0) for q in requests])
        cached = [dataclasses.replace(t, missile_id="") for t in designed]
        with _cache_lock:
            _cache[key] = cached
            while len(_cache) > DESIGN_CACHE_SIZE:
                _cache.popitem(last=False)
    return [_shifted(t, q) for t, q in zip(cached, requests, strict=True)]


def _design(requests: Sequence[FlightRequest]) -> list[Trajectory]:
    """:func:`design_flights` without the cache."""
    problems = [_validate(q) for q in requests]
    c0 = []
    try:
        for i, p in enumerate(problems):
            q = p.request
            try:
                guess = first_guess(
                    p.cls, q.launch_lat_rad, q.launch_lon_rad, p.target, p.azimuth_rad, q.apogee_m
                )
            except TrajectoryInfeasible as exc:
                raise _Failed(i, exc.reason) from None
            c0.append(np.array(guess))
        solved = _solve(problems, c0)
    except _Failed as fail:
        raise TrajectoryInfeasible(
            f"{problems[fail.index].request.missile_id}: {fail.reason}"
        ) from None
    return [_truth(p, *s) for p, s in zip(problems, solved, strict=True)]


def design_flight(
    launch_lat_rad: float,
    launch_lon_rad: float,
    *,
    impact_lat_rad: float | None = None,
    impact_lon_rad: float | None = None,
    azimuth_rad: float | None = None,
    range_m: float | None = None,
    apogee_m: float | None = None,
    missile_class: str = "SRBM",
    launch_t_ns: int = 0,
    missile_id: str = "m1",
    dt_s: float = 0.5,
) -> Trajectory:
    """Design and fly a missile from a launch point to an impact point.

    Give either ``impact_lat_rad``/``impact_lon_rad`` or ``azimuth_rad``/``range_m``
    (geodesic on WGS84). ``apogee_m`` (geodetic height of the highest point) asks for a
    lofted or depressed flight; without it the flight is minimum-energy.

    Returns the truth :class:`Trajectory` sampled every ``dt_s`` from lift-off at
    ``launch_t_ns``, its last sample at impact (h = 0). Raises ``TrajectoryInfeasible``
    (one-line reason) when the class cannot fly it, ``ValueError`` for malformed input.
    """
    request = FlightRequest(
        launch_lat_rad, launch_lon_rad, impact_lat_rad, impact_lon_rad, azimuth_rad, range_m,
        apogee_m, missile_class, launch_t_ns, missile_id, dt_s,
    )  # fmt: skip
    try:
        return design_flights([request])[0]
    except TrajectoryInfeasible as exc:  # one request: no id prefix needed
        raise TrajectoryInfeasible(exc.reason.removeprefix(f"{missile_id}: ")) from None
