"""What each national node held over a simulated run, as stacked arrays for evaluation.

A node keeps its latest picture (``system_tracks``) and a log of first events
(``events``); the Monte Carlo evaluation also needs the *history*: every impact- and
launch-point prediction the partner held, from its own tracker and over the link, and
when it got each one. Each :class:`~trilink.nodes.national.NationalNode` is instrumented
(:func:`attach`, on the instance) to keep that history as it runs, changing nothing it
does:

* every TrackReport the node builds at a tick (built in every configuration, published
  only when the link is up) records the tracker's estimate it came from;
* every message the node's link admits (plain or out of a bundle) that is a SystemTrack
  is recorded with its local receive time.

:func:`attach` is passed to :func:`trilink.nodes.simrun.run_simulation` as its ``on_node``
hook, so every node of a trial is probed before the run starts; nothing global is
patched (concurrent trials in threads, as on a threaded Dask worker, are independent).

Arrays: ``held_ns`` (K,) local time the partner held the estimate from; ``t_ns`` (K,) the
estimate's epoch; ``x`` (K, 6) ECEF state; ``impact``/``launch`` (K, 6) rows
``[lat_rad, lon_rad, sigma_major_m, sigma_minor_m, major_azimuth_rad, t_ns]`` (1-sigma
ellipse; NaN where there is no prediction).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trilink.messages import GroundPoint as WireGroundPoint
from trilink.messages import Message, SystemTrack
from trilink.nodes.national import NationalNode
from trilink.tracking.records import GroundPoint as TrackGroundPoint
from trilink.tracking.records import TrackEstimate

Array = NDArray[np.float64]
NAN_POINT = (math.nan,) * 6


@dataclass(frozen=True)
class HeldEstimates:
    """K estimates a partner held (see the module docstring for shapes and units)."""

    held_ns: NDArray[np.int64]
    t_ns: NDArray[np.int64]
    track: NDArray[np.str_]
    x: Array
    impact: Array
    launch: Array

    def __len__(self) -> int:
        return int(self.held_ns.shape[0])

    def take(self, index: NDArray[np.bool_] | NDArray[np.intp]) -> HeldEstimates:
        """A new table with the selected rows."""
        return HeldEstimates(
            self.held_ns[index], self.t_ns[index], self.track[index], self.x[index],
            self.impact[index], self.launch[index],
        )  # fmt: skip

    @classmethod
    def from_rows(cls, rows: list[tuple[int, int, str, Array, tuple, tuple]]) -> HeldEstimates:
        if not rows:
            return cls(
                np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, str),
                np.zeros((0, 6)), np.zeros((0, 6)), np.zeros((0, 6)),
            )  # fmt: skip
        held, t, track, x, impact, launch = zip(*rows, strict=True)
        return cls(
            np.asarray(held, np.int64), np.asarray(t, np.int64), np.asarray(track, str),
            np.asarray(x, float).reshape(-1, 6), np.asarray(impact, float).reshape(-1, 6),
            np.asarray(launch, float).reshape(-1, 6),
        )  # fmt: skip


def track_point(p: TrackGroundPoint | None) -> tuple[float, ...]:
    """A tracker GroundPoint as a row ``[lat, lon, major, minor, azimuth, t_ns]``."""
    if p is None:
        return NAN_POINT
    return (p.lat_rad, p.lon_rad, p.semi_major_m, p.semi_minor_m, p.orientation_rad, p.t_ns)


def wire_point(p: WireGroundPoint | None) -> tuple[float, ...]:
    """A wire GroundPoint (degrees) as a row ``[lat, lon, major, minor, azimuth, t_ns]``."""
    if p is None:
        return NAN_POINT
    e = p.ellipse
    return (
        math.radians(p.lat_deg), math.radians(p.lon_deg), e.sigma_major_m, e.sigma_minor_m,
        math.radians(e.major_azimuth_deg), p.t_ns,
    )  # fmt: skip


class Probe:
    """What one node held: ``own_rows`` (its reports) and ``received_rows`` (SystemTracks)."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.own_rows: list[tuple[int, int, str, Array, tuple, tuple]] = []
        self.received_rows: list[tuple[int, int, str, Array, tuple, tuple]] = []

    def own(self) -> HeldEstimates:
        return HeldEstimates.from_rows(self.own_rows)

    def received(self) -> HeldEstimates:
        return HeldEstimates.from_rows(self.received_rows)


_probes: weakref.WeakKeyDictionary[NationalNode, Probe] = weakref.WeakKeyDictionary()


def attach(node: NationalNode) -> Probe:
    """Instrument one node (its instance only; the class is untouched) and return its
    probe. The node behaves exactly as before: the wrappers only copy what passes."""
    probe = Probe(node.clock)
    link_receive = node.link.receive
    build_report = node._report

    def receive(payload: bytes, subject: str | None) -> list[Message]:
        msgs = link_receive(payload, subject)
        for msg in msgs:
            if isinstance(msg, SystemTrack) and msg.status != "lost":
                probe.received_rows.append(
                    (
                        probe.clock.now_ns(),
                        int(msg.measured_ns),
                        str(msg.system_track_number),
                        np.asarray(msg.state_ecef, float),
                        wire_point(msg.impact),
                        wire_point(msg.launch),
                    )
                )
        return msgs

    def report(est: TrackEstimate, status: str, rel: tuple[str, ...]) -> Any:
        if status != "lost":  # a lost track's last report repeats an estimate already kept
            probe.own_rows.append(
                (
                    probe.clock.now_ns(),
                    int(est.t_ns),
                    str(est.track_id),
                    np.array(est.x, float),
                    track_point(est.impact),
                    track_point(est.launch),
                )
            )
        return build_report(est, status, rel)

    node.link.receive = receive  # type: ignore[method-assign]
    node._report = report  # type: ignore[method-assign]
    _probes[node] = probe
    return probe


def probe_of(node: NationalNode) -> Probe:
    """The probe :func:`attach` gave this node (KeyError for a node never attached)."""
    return _probes[node]
