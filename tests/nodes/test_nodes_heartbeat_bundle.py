"""A national node's heartbeat rides last in the bundle of its tick's reports (ICD section
14): one payload, one signature; the hub admits it and its watermark advances only with
the reports it vouches for. A tick without reports heartbeats alone on the status subject.
"""

from __future__ import annotations

import numpy as np

from trilink.link import Decoder, Keyring
from trilink.link.codec import iter_payload_messages
from trilink.link.subjects import status, tracks
from trilink.messages import Heartbeat, TrackReport
from trilink.nodes.base import simulation_keys
from trilink.nodes.clock import SimClock
from trilink.nodes.hub import HUB_ID, HubNode
from trilink.nodes.national import NationalNode
from trilink.policy import Policy
from trilink.tracking.records import TrackEstimate

T0 = 1_772_323_200_000_000_000
KEYS = simulation_keys(["KOR", HUB_ID], seed=5)
RING = Keyring.of_private(KEYS)


def _estimate(track_id: int, t_ns: int) -> TrackEstimate:
    """A confirmed midcourse track 300 km up over Korea (a plausible, valid state)."""
    x = np.array([-3.05e6, 4.05e6, 3.95e6, 1500.0, 1200.0, -800.0])
    return TrackEstimate(
        track_id=track_id, t_ns=t_ns, status="confirmed", phase="midcourse", p_boost=0.0,
        x=x, P=np.diag([200.0**2] * 3 + [20.0**2] * 3), thrust_mps2=0.0, kappa_m2pkg=0.0,
        impact=None, launch=None, apogee_m=float("nan"), apogee_sigma_m=float("nan"),
        n_updates=12, sensors=("KOR-R1",),
    )  # fmt: skip


class _Tracker:
    """What NationalNode.tick reads of its tracker: ids, confirmed flags, last-hit times
    and the estimates (the real tracker is tested in tests/tracking)."""

    def __init__(self) -> None:
        self.ids = np.array([7, 9])
        self.confirmed = np.array([True, True])
        self.t_hit = np.array([T0 + 100_000_000, T0 + 200_000_000])

    def tracks(self, predictions=()):
        return [_estimate(int(i), int(t)) for i, t in zip(self.ids, self.t_hit, strict=True)]


def _node_and_hub() -> tuple[NationalNode, HubNode, SimClock]:
    clock = SimClock(T0 + 500_000_000)
    node = NationalNode("KOR", KEYS["KOR"], RING, clock, hub_nation=HUB_ID)
    node.tracker = _Tracker()  # type: ignore[assignment]
    hub = HubNode(
        KEYS[HUB_ID], RING, clock, partners=["KOR"], sources=["KOR"], policy=Policy(()),
        start_ns=T0,
    )  # fmt: skip
    return node, hub, clock


def test_the_heartbeat_is_the_last_item_of_the_reports_bundle():
    node, hub, _ = _node_and_hub()
    watermark = T0 + 500_000_000
    out = node.tick(watermark)
    assert [o.subject for o in out] == [tracks("KOR")]  # one payload, nothing on status
    msgs = iter_payload_messages(out[0].payload, Decoder(["KOR", HUB_ID]))
    assert [type(m) for m in msgs] == [TrackReport, TrackReport, Heartbeat]
    beat = msgs[-1]
    assert beat.measured_ns == watermark
    # last_seq_sent: the message just before the heartbeat (its bundle's last report)
    assert beat.peers[0].last_seq_sent == msgs[-2].seq == beat.seq - 1
    assert hub.on_message(out[0].subject, out[0].payload) == []  # nothing refused
    assert hub.watermarks["KOR"] == watermark
    assert hub.reports_in == 2 and hub.due()  # the cycle at T0 + 0.5 s may run


def test_a_tick_without_reports_heartbeats_alone_on_status():
    node, hub, clock = _node_and_hub()
    for o in node.tick(T0 + 500_000_000):
        hub.on_message(o.subject, o.payload)
    clock.advance_to(T0 + 1_000_000_000)
    out = node.tick(T0 + 1_000_000_000)  # no track was updated since: nothing to report
    assert [o.subject for o in out] == [status("KOR")]
    (beat,) = iter_payload_messages(out[0].payload, Decoder(["KOR", HUB_ID]))
    assert isinstance(beat, Heartbeat) and beat.peers[0].last_seq_sent == beat.seq - 1
    assert hub.on_message(out[0].subject, out[0].payload) == []
    assert hub.watermarks["KOR"] == T0 + 1_000_000_000


def test_without_bundles_the_heartbeat_goes_on_status_after_the_reports():
    node, hub, _ = _node_and_hub()
    node.bundle_reports = False
    out = node.tick(T0 + 500_000_000)
    assert [o.subject for o in out] == [tracks("KOR")] * 2 + [status("KOR")]
    for o in out:
        assert hub.on_message(o.subject, o.payload) == []
    assert hub.reports_in == 2 and hub.watermarks["KOR"] == T0 + 500_000_000
