"""CZML (CesiumJS) export of a recorded run: trajectories and impact ellipses over time.

Structure per the CZML guide (CesiumGS czml-writer wiki, "CZML Structure", "Packet",
"Position", "Ellipse", "Double"): a JSON array whose first packet has ``id: "document"``
and ``version: "1.0"`` with the clock; then, per track,

- ``track/<id>``: ``availability``; ``position`` as time-tagged samples
  ``cartographicDegrees: [t_s, lon, lat, h, ...]`` (seconds from ``epoch``), Lagrange
  interpolation of degree 1 (the samples are dense); a ``point`` and a trailing ``path``;
- ``trajectory/<id>``: the whole flown trajectory as a ``polyline`` (``arcType: NONE``:
  straight segments between the 3-D samples, not draped on the ground);
- ``launch/<id>``: the launch point (``point`` and ``label``);
- ``ipp/<id>``: the 95 % impact ellipse, piecewise constant over the intervals during
  which each prediction was current: ``position`` and the ``ellipse``'s
  ``semiMajorAxis``/``semiMinorAxis``/``rotation`` as arrays of ``{interval, number}``.

Cesium's ellipse ``rotation`` is "the angle from north, counter-clockwise, in radians"
(at 0 the major axis points north), so ``rotation = -orientation`` for trilink's
clockwise-from-north azimuth.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from trilink.alerts.ellipse import K95
from trilink.alerts.records import TrackRecord, by_track, ellipse_intervals, launch_of
from trilink.alerts.timefmt import iso_z

RED = [230, 40, 40, 255]
ORANGE = [255, 140, 0, 255]


def _deg(rad: float) -> float:
    return round(math.degrees(rad), 6)


def _lon(rad: float) -> float:
    return round((math.degrees(rad) + 180.0) % 360.0 - 180.0, 6)


def _interval(a_ns: int, b_ns: int) -> str:
    return f"{iso_z(a_ns)}/{iso_z(b_ns)}"


def _solid(rgba: list[int]) -> dict[str, Any]:
    return {"solidColor": {"color": {"rgba": rgba}}}


def czml_packets(records: Iterable[TrackRecord], name: str = "trilink run") -> list[dict[str, Any]]:
    """The CZML packets (document first) for the given track records."""
    tracks = by_track(records)
    all_t = [r.t_ns for tr in tracks.values() for r in tr]
    spans_by_track = {tid: ellipse_intervals(tr) for tid, tr in tracks.items()}
    ends = [s[1] for spans in spans_by_track.values() for s in spans]
    t0 = min(all_t) if all_t else 0
    t1 = max(all_t + ends) if all_t else 0
    packets: list[dict[str, Any]] = [
        {
            "id": "document",
            "name": name,
            "version": "1.0",
            "clock": {
                "interval": _interval(t0, max(t1, t0 + 1)),
                "currentTime": iso_z(t0),
                "multiplier": 10,
                "range": "LOOP_STOP",
                "step": "SYSTEM_CLOCK_MULTIPLIER",
            },
        }
    ]
    for tid, track in tracks.items():
        start, stop = track[0].t_ns, track[-1].t_ns
        samples: list[float] = []
        for r in track:
            samples += [
                round((r.t_ns - start) / 1e9, 3),
                _lon(r.lon_rad),
                _deg(r.lat_rad),
                round(r.alt_m, 1),
            ]
        packets.append(
            {
                "id": f"track/{tid}",
                "name": f"Missile {tid}",
                "availability": _interval(start, max(stop, start + 1)),
                "position": {
                    "epoch": iso_z(start),
                    "cartographicDegrees": samples,
                    "interpolationAlgorithm": "LAGRANGE",
                    "interpolationDegree": 1,
                },
                "point": {"color": {"rgba": RED}, "pixelSize": 9, "outlineWidth": 1},
                "path": {"material": _solid(RED), "width": 2, "leadTime": 0, "trailTime": 86400},
                "label": {"text": tid, "pixelOffset": {"cartesian2": [12, 0]}, "scale": 0.6},
            }
        )
        positions: list[float] = []
        for r in track:
            positions += [_lon(r.lon_rad), _deg(r.lat_rad), round(r.alt_m, 1)]
        packets.append(
            {
                "id": f"trajectory/{tid}",
                "name": f"Trajectory {tid}",
                "polyline": {
                    "positions": {"cartographicDegrees": positions},
                    "arcType": "NONE",
                    "width": 1.5,
                    "material": _solid([255, 120, 120, 160]),
                },
            }
        )
        launch = launch_of(track)
        if launch is not None:
            packets.append(
                {
                    "id": f"launch/{tid}",
                    "name": f"Launch point {tid}",
                    "position": {
                        "cartographicDegrees": [
                            _lon(launch.launch_lon_rad),
                            _deg(launch.launch_lat_rad),
                            0.0,
                        ]
                    },
                    "point": {"color": {"rgba": ORANGE}, "pixelSize": 10},
                    "label": {
                        "text": f"launch {tid}",
                        "pixelOffset": {"cartesian2": [12, 0]},
                        "scale": 0.6,
                    },
                }
            )
        spans = spans_by_track[tid]
        if spans:
            packets.append(_ipp_packet(tid, spans))
    return packets


def _ipp_packet(tid: str, spans) -> dict[str, Any]:
    def series(value) -> list[dict[str, Any]]:
        return [{"interval": _interval(a, b), "number": value(p)} for a, b, p in spans]

    return {
        "id": f"ipp/{tid}",
        "name": f"Impact ellipse 95% {tid}",
        "availability": _interval(spans[0][0], spans[-1][1]),
        "position": [
            {
                "interval": _interval(a, b),
                "cartographicDegrees": [_lon(p.lon_rad), _deg(p.lat_rad), 0.0],
            }
            for a, b, p in spans
        ],
        "ellipse": {
            # Cesium rejects zero axes; a metre is below anything a tracker reports.
            "semiMajorAxis": series(lambda p: round(max(K95 * p.semi_major_m, 1.0), 1)),
            "semiMinorAxis": series(lambda p: round(max(K95 * p.semi_minor_m, 1.0), 1)),
            "rotation": series(lambda p: round(-p.orientation_rad, 6)),
            "material": _solid([230, 40, 40, 70]),
            "outline": True,
            "outlineColor": {"rgba": RED},
            "height": 0,
        },
    }


def to_czml(records: Iterable[TrackRecord], name: str = "trilink run") -> str:
    """CZML document text for the records."""
    return json.dumps(czml_packets(records, name), separators=(",", ":"))
