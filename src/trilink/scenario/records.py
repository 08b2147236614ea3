"""A simulation as JSON Lines: one object per line, ``"type"`` says which kind.

Line kinds, in this order (columns documented in ``docs/scenario.md``):

1. ``scenario`` - one header: name, source, seed, start and end times.
2. ``sensor`` - one per sensor: its site (ECEF and geodetic) and measurement frame
   ``rot`` (rows = frame axes in ECEF), needed to turn a detection's angles into a line
   of sight.
3. ``truth`` and ``detection`` - merged in time order (``t_ns``; truth first at equal
   times). Truth is every sample of every flight; a detection is one sensor report,
   ``truth_id`` null for a false alarm.

This is an edge: times are integer ns since the Unix epoch *and* ISO 8601 UTC strings;
angles are degrees; distances metres. JSON has no NaN: missing values are ``null``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from trilink.geo import ecef_to_geodetic
from trilink.physics.truth import Trajectory
from trilink.scenario.simulate import SimulationResult
from trilink.sensors.detection import Detections
from trilink.sensors.specs import InfraredSatelliteSpec, RadarSpec, SensorSpec

FORMAT = "trilink-sim/1"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

TRUTH_COLUMNS = (
    "type", "missile_id", "missile_class", "t_ns", "t_utc", "lat_deg", "lon_deg", "alt_m",
    "x_m", "y_m", "z_m", "vx_mps", "vy_mps", "vz_mps", "speed_mps", "burning", "rcs_m2",
)  # fmt: skip
DETECTION_COLUMNS = (
    "type", "sensor_id", "nation", "kind", "t_ns", "t_utc", "range_m", "az_deg", "el_deg",
    "sigma_range_m", "sigma_az_deg", "sigma_el_deg", "cov", "snr_db", "truth_id",
)  # fmt: skip


def iso_utc(t_ns: int) -> str:
    """``2026-03-01T00:01:00.500000000Z``: nanoseconds kept, no float on the way."""
    seconds, ns = divmod(int(t_ns), 1_000_000_000)
    stamp = (_EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ns:09d}Z"


def _clean(x: float) -> float | None:
    return None if not math.isfinite(x) else x


def scenario_record(result: SimulationResult) -> dict[str, Any]:
    sc = result.scenario
    return {
        "type": "scenario",
        "format": FORMAT,
        "name": sc.name,
        "source": sc.source,
        "seed": result.seed,
        "start_t_ns": result.t_start_ns,
        "start_utc": iso_utc(result.t_start_ns),
        "end_t_ns": result.t_end_ns,
        "end_utc": iso_utc(result.t_end_ns),
        "nations": [{"id": n.id, "name": n.name, "role": n.role} for n in sc.nations],
        "links": [[link.a, link.b] for link in sc.links],
    }


def sensor_record(spec: SensorSpec, det: Detections) -> dict[str, Any]:
    lat, lon, h = ecef_to_geodetic(det.sensor_ecef_m)
    out: dict[str, Any] = {
        "type": "sensor",
        "sensor_id": spec.sensor_id,
        "nation": spec.nation,
        "kind": spec.kind,
        "ecef_m": [float(v) for v in det.sensor_ecef_m],
        "lat_deg": math.degrees(float(lat)),
        "lon_deg": math.degrees(float(lon)),
        "height_m": float(h),
        "rot": np.asarray(det.rot, dtype=float).tolist(),
    }
    if isinstance(spec, RadarSpec):
        out["max_range_m"] = spec.max_range_m
        out["revisit_s"] = spec.revisit_s
    elif isinstance(spec, InfraredSatelliteSpec):
        out["revisit_s"] = spec.revisit_s
    return out


def truth_records(traj: Trajectory) -> Iterator[tuple[int, dict[str, Any]]]:
    lla = ecef_to_geodetic(traj.r_ecef_m)
    lat = np.degrees(lla[:, 0]).tolist()
    lon = np.degrees(lla[:, 1]).tolist()
    alt = lla[:, 2].tolist()
    r = traj.r_ecef_m.tolist()
    v = traj.v_ecef_mps.tolist()
    speed = np.linalg.norm(traj.v_ecef_mps, axis=-1).tolist()
    burning = traj.burning.tolist()
    rcs = traj.rcs_m2.tolist()
    for i, t in enumerate(traj.t_ns.tolist()):
        yield (
            t,
            {
                "type": "truth",
                "missile_id": traj.missile_id,
                "missile_class": traj.missile_class,
                "t_ns": t,
                "t_utc": iso_utc(t),
                "lat_deg": lat[i],
                "lon_deg": lon[i],
                "alt_m": alt[i],
                "x_m": r[i][0],
                "y_m": r[i][1],
                "z_m": r[i][2],
                "vx_mps": v[i][0],
                "vy_mps": v[i][1],
                "vz_mps": v[i][2],
                "speed_mps": speed[i],
                "burning": bool(burning[i]),
                "rcs_m2": rcs[i],
            },
        )


def detection_records(det: Detections) -> Iterator[tuple[int, dict[str, Any]]]:
    """Reports in edge units: measurement ``[range_m,] az_deg, el_deg``; ``cov`` in the
    same units (m^2, m*deg, deg^2), i.e. ``R`` scaled by the Jacobian of the conversion."""
    radar = det.dim == 3
    scale = (
        np.array([1.0, math.degrees(1.0), math.degrees(1.0)])
        if radar
        else np.full(2, math.degrees(1.0))
    )
    z = (det.z * scale).tolist()
    cov = (det.R * scale[:, None] * scale[None, :]).tolist()
    sigma = np.sqrt(np.diagonal(det.R, axis1=-2, axis2=-1)) * scale
    sigma_l = sigma.tolist()
    snr = det.snr_db.tolist()
    truth = det.truth_id.tolist()
    for i, t in enumerate(det.t_ns.tolist()):
        zi, si = z[i], sigma_l[i]
        yield (
            t,
            {
                "type": "detection",
                "sensor_id": det.sensor_id,
                "nation": det.nation,
                "kind": det.kind,
                "t_ns": t,
                "t_utc": iso_utc(t),
                "range_m": zi[0] if radar else None,
                "az_deg": zi[-2],
                "el_deg": zi[-1],
                "sigma_range_m": si[0] if radar else None,
                "sigma_az_deg": si[-2],
                "sigma_el_deg": si[-1],
                "cov": cov[i],
                "snr_db": _clean(snr[i]),
                "truth_id": truth[i] or None,
            },
        )


def records(result: SimulationResult) -> Iterator[dict[str, Any]]:
    """Every line of the file, as dicts, in file order."""
    yield scenario_record(result)
    for spec, det in zip(result.scenario.sensors, result.detections, strict=True):
        yield sensor_record(spec, det)
    timed: list[tuple[int, int, dict[str, Any]]] = []
    for traj in result.trajectories:
        timed.extend((t, 0, rec) for t, rec in truth_records(traj))
    for det in result.detections:
        timed.extend((t, 1, rec) for t, rec in detection_records(det))
    timed.sort(key=lambda item: (item[0], item[1]))
    for _, _, rec in timed:
        yield rec


def write_jsonl(result: SimulationResult, out: IO[str] | Path) -> int:
    """Write the records to a stream or a path; returns the number of lines."""
    if isinstance(out, Path):
        with out.open("w", encoding="utf-8") as f:
            return write_jsonl(result, f)
    n = 0
    for rec in records(result):
        out.write(json.dumps(rec, allow_nan=False, separators=(",", ":")))
        out.write("\n")
        n += 1
    return n
