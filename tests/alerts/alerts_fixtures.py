"""Shared helpers for the alerts tests: a simple flight described as ThreatInputs.

The flight is kinematic, not physical (the warning rules only see positions and
predictions): the ground track is the WGS84 geodesic from launch to impact, the height a
parabola with the given apogee, the impact prediction the true impact point with a 1-sigma
ellipse shrinking linearly from ``a0_m`` to ``a1_m``.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from trilink.alerts.geodata import build_territories, write_geodata
from trilink.alerts.rules import ImpactPrediction, ThreatInput
from trilink.alerts.territory import ENV_VAR
from trilink.geo.frames import geodetic_to_ecef
from trilink.geo.geodesic import geodesic_direct, geodesic_inverse

D = math.radians
T0_NS = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
WONSAN = (39.17, 127.48)


def flight(
    launch_deg: tuple[float, float] = WONSAN,
    impact_deg: tuple[float, float] = (40.2, 137.6),
    duration_s: float = 600.0,
    n: int = 61,
    apogee_m: float = 500e3,
    a0_m: float = 30e3,
    a1_m: float = 3e3,
    track_id: str = "T0001",
    impact_offset_deg: tuple[float, float] = (0.0, 0.0),
) -> list[ThreatInput]:
    """``n`` ThreatInputs, evenly spaced from launch to impact (the last one 'impacted')."""
    lat1, lon1 = D(launch_deg[0]), D(launch_deg[1])
    lat2, lon2 = D(impact_deg[0]), D(impact_deg[1])
    s12, az1, _ = geodesic_inverse(lat1, lon1, lat2, lon2)
    f = np.linspace(0.0, 1.0, n)
    lat, lon = geodesic_direct(lat1, lon1, az1, f * s12)
    h = 4.0 * apogee_m * f * (1.0 - f)
    r = geodetic_to_ecef(np.column_stack([lat, lon, h]))
    t_ns = T0_NS + (f * duration_s * 1e9).astype(np.int64)
    v = np.gradient(r, f * duration_s, axis=0)
    impact_t = int(T0_NS + duration_s * 1e9)
    out = []
    for i in range(n):
        frac = f[i]
        a = a0_m + (a1_m - a0_m) * frac
        imp = ImpactPrediction(
            lat2 + D(impact_offset_deg[0]),
            lon2 + D(impact_offset_deg[1]),
            impact_t,
            5.0,
            a,
            a / 3.0,
            D(70.0),
        )
        status = "impacted" if i == n - 1 else "in_flight"
        phase = "boost" if frac < 0.1 else ("reentry" if frac > 0.85 else "ballistic")
        out.append(
            ThreatInput(
                track_id=track_id,
                t_ns=int(t_ns[i]),
                status=status,
                phase=phase,
                launch_lat_rad=lat1,
                launch_lon_rad=lon1,
                launch_t_ns=T0_NS,
                impact=imp,
                ground_track_rad=np.column_stack([lat[i:], lon[i:]]),
                r_ecef_m=r[i],
                v_ecef_mps=v[i],
                cov_pos_ecef_m2=np.diag([400.0**2, 300.0**2, 200.0**2]),
            )
        )
    return out


def threat_at(
    impact_deg: tuple[float, float],
    a_m: float = 20e3,
    b_m: float | None = None,
    orientation_deg: float = 0.0,
    t_s: float = 100.0,
    track_id: str = "T0001",
    ground_track_deg: np.ndarray | None = None,
    status: str = "in_flight",
    impact_in_s: float = 300.0,
) -> ThreatInput:
    """A single ThreatInput with a given impact prediction (and optional ground track)."""
    t_ns = T0_NS + int(t_s * 1e9)
    imp = ImpactPrediction(
        D(impact_deg[0]),
        D(impact_deg[1]),
        t_ns + int(impact_in_s * 1e9),
        5.0,
        a_m,
        b_m if b_m is not None else a_m / 2.0,
        D(orientation_deg),
    )
    track = np.zeros((0, 2)) if ground_track_deg is None else np.radians(ground_track_deg)
    return ThreatInput(
        track_id=track_id,
        t_ns=t_ns,
        status=status,
        phase="ballistic",
        launch_lat_rad=D(WONSAN[0]),
        launch_lon_rad=D(WONSAN[1]),
        launch_t_ns=T0_NS,
        impact=imp,
        ground_track_rad=track,
    )


def great_circle_deg(a: tuple[float, float], b: tuple[float, float], n: int = 200) -> np.ndarray:
    """``n`` [lat, lon] degree samples along the geodesic from a to b."""
    s12, az1, _ = geodesic_inverse(D(a[0]), D(a[1]), D(b[0]), D(b[1]))
    lat, lon = geodesic_direct(D(a[0]), D(a[1]), az1, np.linspace(0.0, float(s12), n))
    return np.degrees(np.column_stack([lat, lon]))


def plain_buffer_geodata(base: Path) -> Path:
    """Territory files as the recorded salvo (``data/warner_salvo.msgpack.gz``) was decided
    against: the 12- and 200-nm buffers without median lines (geodata format 1), built
    once into ``base/plain_geodata`` from the installed world-atlas file (~3 s)."""
    out = base / "plain_geodata"
    if not (out / "manifest.json").is_file():
        source = Path(__file__).resolve().parents[2] / "node_modules/world-atlas/countries-50m.json"
        built = build_territories(json.loads(source.read_text()), median_lines=False)
        write_geodata(out, built.values(), {"file": source.name, "median_lines": False})
    return out


@contextlib.contextmanager
def recorded_zones(base: Path) -> Iterator[None]:
    """Load territories from :func:`plain_buffer_geodata` while inside."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV_VAR, str(plain_buffer_geodata(base)))
        yield
