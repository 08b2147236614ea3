"""``trilink trajectory``: design one missile flight and report its figures.

Contract (other checks rely on it):
``trilink trajectory --launch LAT,LON (--impact LAT,LON | --azimuth-deg A --range-km R)
[--apogee-km H] [--missile CLASS] [--json]``. ``--json`` prints one JSON object with at
least flight_time_s, apogee_km, range_km, burnout_time_s, impact_lat, impact_lon
(degrees) and max_speed_mps. An impossible flight or a bad argument prints one line on
stderr and exits with code 2.
"""

from __future__ import annotations

import json
import math

import typer
from rich.console import Console
from rich.table import Table

from trilink.cli.app import app


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, soft_wrap=True, highlight=False).print(f"error: {message}", markup=False)
    return typer.Exit(2)


def _lat_lon(text: str, option: str) -> tuple[float, float]:
    """Parse 'LAT,LON' in degrees; raise the exit-2 error on anything else."""
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise _fail(f"{option} wants LAT,LON in degrees (e.g. 39.2,125.7), got {text!r}") from None
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90.0 or abs(lon) > 360.0:
        raise _fail(
            f"{option}: latitude must be within +-90 and longitude within +-360 degrees, got {text!r}"
        )
    return lat, lon


@app.command("trajectory")
def trajectory(
    launch: str = typer.Option(
        ..., "--launch", help="Launch point LAT,LON in degrees (north, east positive)."
    ),
    impact: str | None = typer.Option(None, "--impact", help="Impact point LAT,LON in degrees."),
    azimuth_deg: float | None = typer.Option(
        None,
        "--azimuth-deg",
        help="Launch azimuth in degrees clockwise from north (with --range-km).",
    ),
    range_km: float | None = typer.Option(
        None, "--range-km", help="Ground range in km (with --azimuth-deg)."
    ),
    apogee_km: float | None = typer.Option(
        None,
        "--apogee-km",
        help="Requested apogee in km (lofted or depressed); default: minimum energy.",
    ),
    missile: str = typer.Option("SRBM", "--missile", help="Missile class: SRBM, IRBM or ICBM."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
) -> None:
    """Design a ballistic flight (boost, pitch programme, coast, re-entry) and report it."""
    from trilink.errors import TrajectoryInfeasible
    from trilink.physics import MISSILE_CLASSES, design_flight

    lat0, lon0 = _lat_lon(launch, "--launch")
    if impact is not None and (azimuth_deg is not None or range_km is not None):
        raise _fail("give either --impact or --azimuth-deg with --range-km, not both")
    if impact is None and (azimuth_deg is None or range_km is None):
        raise _fail("give --impact LAT,LON, or both --azimuth-deg and --range-km")
    if missile.upper() not in MISSILE_CLASSES:
        raise _fail(f"--missile must be one of {', '.join(MISSILE_CLASSES)}, got {missile!r}")
    for name, value in (
        ("--azimuth-deg", azimuth_deg),
        ("--range-km", range_km),
        ("--apogee-km", apogee_km),
    ):
        if value is not None and not math.isfinite(value):
            raise _fail(f"{name} must be a finite number")
    if range_km is not None and range_km <= 0.0:
        raise _fail(f"--range-km must be positive, got {range_km}")
    if apogee_km is not None and apogee_km <= 0.0:
        raise _fail(f"--apogee-km must be positive, got {apogee_km}")

    lat1 = lon1 = az = rng = None
    if impact is not None:
        lat_d, lon_d = _lat_lon(impact, "--impact")
        lat1, lon1 = math.radians(lat_d), math.radians(lon_d)
    else:
        assert azimuth_deg is not None and range_km is not None
        az, rng = math.radians(azimuth_deg), range_km * 1e3
    try:
        traj = design_flight(
            math.radians(lat0),
            math.radians(lon0),
            impact_lat_rad=lat1,
            impact_lon_rad=lon1,
            azimuth_rad=az,
            range_m=rng,
            apogee_m=None if apogee_km is None else apogee_km * 1e3,
            missile_class=missile.upper(),
        )
    except TrajectoryInfeasible as exc:
        raise _fail(f"infeasible: {exc.reason}") from None
    except ValueError as exc:
        raise _fail(str(exc)) from None

    m = traj.meta
    lon_imp = (math.degrees(m["impact_lon_rad"]) + 180.0) % 360.0 - 180.0
    report: dict[str, float | int | str | bool] = {
        "missile_class": traj.missile_class,
        "launch_lat": lat0,
        "launch_lon": lon0,
        "impact_lat": round(math.degrees(m["impact_lat_rad"]), 6),
        "impact_lon": round(lon_imp, 6),
        "range_km": round(m["range_m"] / 1e3, 3),
        "apogee_km": round(m["apogee_m"] / 1e3, 3),
        "flight_time_s": round(m["flight_time_s"], 2),
        "burnout_time_s": round(m["burnout_time_s"], 2),
        "burnout_altitude_km": round(m["burnout_altitude_m"] / 1e3, 3),
        "max_speed_mps": round(m["max_speed_mps"], 1),
        "impact_speed_mps": round(m["impact_speed_mps"], 1),
        "launch_azimuth_deg": round(math.degrees(m["launch_azimuth_rad"]) % 360.0, 4),
        "kick_deg": round(math.degrees(m["kick_rad"]), 5),
        "last_stage_burn_s": round(m["last_burn_s"], 3),
        "miss_m": round(m["miss_m"], 1),
        "minimum_energy": bool(m["min_energy"]),
        "samples": len(traj.t_ns),
    }
    if as_json:
        print(json.dumps(report))
        return
    table = Table(title=f"{traj.missile_class} trajectory", show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    flight_s = m["flight_time_s"]
    rows = [
        ("launch", f"{lat0:.4f}, {lon0:.4f} deg"),
        ("impact", f"{report['impact_lat']:.4f}, {report['impact_lon']:.4f} deg"),
        ("miss from request", f"{report['miss_m']:.0f} m"),
        ("ground range", f"{report['range_km']:.1f} km"),
        ("apogee", f"{report['apogee_km']:.1f} km"),
        ("flight time", f"{flight_s:.0f} s ({flight_s / 60:.1f} min)"),
        ("burnout", f"{report['burnout_time_s']:.1f} s at {report['burnout_altitude_km']:.1f} km"),
        ("max speed", f"{report['max_speed_mps']:.0f} m/s"),
        ("impact speed", f"{report['impact_speed_mps']:.0f} m/s"),
        ("launch azimuth", f"{report['launch_azimuth_deg']:.2f} deg"),
        ("pitch-over kick", f"{report['kick_deg']:.3f} deg"),
        ("last-stage burn", f"{report['last_stage_burn_s']:.1f} s"),
        ("profile", "minimum energy" if report["minimum_energy"] else "requested apogee"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    Console().print(table)
