"""Plain track records for exports (CZML, GeoJSON, KML) of a recorded run.

A record is one state of one track at one time: position (geodetic, radians and metres),
flight phase, and optionally the launch point and the impact prediction known then. The
recorder's message log is turned into these by whoever reads it (the CLI); the exporters
here see only these values.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from trilink.alerts.rules import ImpactPrediction, ThreatInput
from trilink.geo.frames import ecef_to_geodetic


@dataclass(frozen=True)
class TrackRecord:
    """One track state: ``lat_rad``, ``lon_rad``, ``alt_m`` (height above the ellipsoid)."""

    track_id: str
    t_ns: int
    lat_rad: float
    lon_rad: float
    alt_m: float
    phase: str = "unknown"
    impact: ImpactPrediction | None = None
    launch_lat_rad: float = math.nan
    launch_lon_rad: float = math.nan
    launch_t_ns: int | None = None

    @property
    def has_launch_point(self) -> bool:
        return math.isfinite(self.launch_lat_rad) and math.isfinite(self.launch_lon_rad)

    @classmethod
    def from_threat(cls, threat: ThreatInput) -> TrackRecord:
        """From a :class:`ThreatInput` that has ``r_ecef_m``."""
        if threat.r_ecef_m is None:
            raise ValueError(f"track {threat.track_id}: a record needs r_ecef_m")
        lat, lon, alt = (float(v) for v in ecef_to_geodetic(threat.r_ecef_m))
        return cls(
            track_id=threat.track_id,
            t_ns=threat.t_ns,
            lat_rad=lat,
            lon_rad=lon,
            alt_m=alt,
            phase=threat.phase,
            impact=threat.impact,
            launch_lat_rad=threat.launch_lat_rad,
            launch_lon_rad=threat.launch_lon_rad,
            launch_t_ns=threat.launch_t_ns,
        )


def by_track(records: Iterable[TrackRecord]) -> dict[str, list[TrackRecord]]:
    """Records grouped per track, each group sorted by time (input order kept otherwise)."""
    groups: dict[str, list[TrackRecord]] = defaultdict(list)
    for r in records:
        groups[r.track_id].append(r)
    return {k: sorted(v, key=lambda r: r.t_ns) for k, v in groups.items()}


def launch_of(track: list[TrackRecord]) -> TrackRecord | None:
    """The latest record that knows the launch point (estimates improve with time)."""
    known = [r for r in track if r.has_launch_point]
    return known[-1] if known else None


def ellipse_intervals(
    track: list[TrackRecord], min_interval_s: float = 0.0, tail_s: float = 60.0
) -> list[tuple[int, int, ImpactPrediction]]:
    """``(start_ns, stop_ns, prediction)`` spans over which each prediction was current.

    Predictions closer than ``min_interval_s`` to the previous kept one are dropped
    (the last one is always kept); the last span runs to its predicted impact time or
    ``tail_s`` past the last record, whichever is later.
    """
    with_impact = [(r.t_ns, r.impact) for r in track if r.impact is not None]
    kept: list[tuple[int, ImpactPrediction]] = []
    for item in with_impact:
        if kept and (item[0] - kept[-1][0]) < min_interval_s * 1e9:
            continue
        kept.append(item)
    if with_impact and kept[-1] is not with_impact[-1]:
        kept.append(with_impact[-1])
    spans = []
    for i, (t_ns, impact) in enumerate(kept):
        if i + 1 < len(kept):
            stop = kept[i + 1][0]
        else:
            stop = max(impact.t_ns, track[-1].t_ns + int(tail_s * 1e9))
        spans.append((t_ns, max(stop, t_ns + 1), impact))
    return spans
