"""A nation alone warns its people from its own picture (``NationalNode.own_warner``).

Without the link, ``run_simulation`` gives each national node a warner of its own: each
tick the node runs the hub's warning rules over the reports it would have sent, numbered
by its own track ids. Checked here against the warner fed the same reports directly
(decoded from what the node's ticks put out, converted by this test, decided by the
one-track reference rules), and on the built-in scenario's IRBM, which crosses northern
Japan: Japan alone gets a threat alert of its own, later than with the link, whose U.S.
and Korean sensors see the missile first.
"""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from trilink.messages import SystemTrack, TrackReport
from trilink.nodes.base import LinkEndpoint
from trilink.nodes.coalition import Identity
from trilink.nodes.hub import HUB_ID
from trilink.nodes.national import NationalNode
from trilink.nodes.simrun import RunConfig, run_simulation
from trilink.nodes.warnings import make_warner
from trilink.scenario import load_scenario
from trilink.scenario.model import Scenario
from trilink.scenario.simulate import simulate

S = 1_000_000_000


def _only(launch_id: str, duration_s: float) -> Scenario:
    """The built-in scenario with one of its launches, 5 s after the start."""
    full = load_scenario("korea-japan")
    launch = next(x for x in full.launches if x.id == launch_id)
    launch = dataclasses.replace(launch, launch_t_ns=full.start_t_ns + 5 * S)
    return dataclasses.replace(full, launches=(launch,), duration_s=duration_s)


def _as_system_track(r: TrackReport) -> SystemTrack:
    """What this test expects the rules to see of a report: every field the rules read,
    numbered by the node's track id (``<nation>-<id>``)."""
    return SystemTrack(
        source=r.source, measured_ns=r.measured_ns, releasability=r.releasability,
        system_track_number=int(r.track_id.split("-")[-1]), state_ecef=r.state_ecef,
        covariance_ecef=r.covariance_ecef, phase=r.phase, status=r.status, quality=r.quality,
        launch=r.launch, impact=r.impact, apogee_height_m=r.apogee_height_m,
        missile_class=r.missile_class,
    )  # fmt: skip


def _first_threat_s(node: NationalNode, launch_t_ns: int) -> float | None:
    times = [e.t_ns for e in node.events if e.kind == "warning" and e.detail == "threat"]
    return (min(times) - launch_t_ns) / S if times else None


@pytest.fixture(scope="module")
def srbm_alone():
    """SRBM 3 (Wonsan into the Sea of Japan, between Korea's and Japan's zones) with
    each nation alone; every tick's reports decoded as the hub would receive them."""
    sc = _only("srbm-3", 420.0)
    sim = simulate(sc, seed=1)
    identity = Identity.simulated(sc, sim.seed)
    ticks: dict[str, list[tuple[int, list[TrackReport]]]] = {}

    def spy(node: NationalNode) -> None:
        tick = node.tick
        rx = LinkEndpoint(
            HUB_ID, identity.keys[HUB_ID], identity.keyring, node.clock, check_clock=False
        )
        log = ticks.setdefault(node.nation, [])

        def spied(watermark_ns: int):
            out = tick(watermark_ns)
            msgs = [m for ob in out for m in rx.receive(ob.payload, ob.subject)]
            log.append((node.clock.now_ns(), [m for m in msgs if isinstance(m, TrackReport)]))
            return out

        node.tick = spied  # type: ignore[method-assign]

    result = run_simulation(sc, sim, RunConfig(link=False), warner_factory=make_warner, on_node=spy)
    return sc, result, ticks


def test_alone_node_decides_what_the_warner_decides_on_its_reports(srbm_alone) -> None:
    sc, result, ticks = srbm_alone
    assert result.hub is None and result.messages == 0  # nothing was sent
    kinds = set()
    for nation, node in result.nodes.items():
        reference = make_warner(sc)
        reference.fast = False  # the one-track, one-partner rules
        expected = [
            w
            for t_ns, reports in ticks[nation]
            for w in reference(nation, [_as_system_track(r) for r in reports], t_ns)
        ]
        got = list(node.own_warnings.values())
        assert all(w.source == nation for w in got)  # the node's own, not the hub's
        # Field for field (ids, types, urgency, times, areas, references, texts).
        assert [msgspec.structs.replace(w, source=HUB_ID) for w in got] == expected
        events = [e for e in node.events if e.kind == "warning"]
        assert [(e.ref, e.measured_ns) for e in events] == [
            (str(w.system_track_number), w.measured_ns) for w in got
        ]
        assert [e.detail == "threat" for e in events] == [
            w.msg_type != "Cancel" and w.urgency == "Immediate" for w in got
        ]
        kinds |= {(nation, w.msg_type, w.urgency) for w in got}
    # Every nation's launch Alert and all-clear; a threat somewhere (the ellipse reaches a zone).
    for nation in result.nodes:
        assert (nation, "Alert", "Expected") in kinds and (nation, "Cancel", "Past") in kinds
    assert any(u == "Immediate" for _, _, u in kinds)


def test_linked_nodes_have_no_own_warner(srbm_alone) -> None:
    sc, _, _ = srbm_alone
    sim = simulate(dataclasses.replace(sc, duration_s=40.0), seed=1)
    result = run_simulation(sc, sim, RunConfig(link=True), warner_factory=make_warner)
    assert all(n.own_warner is None and not n.own_warnings for n in result.nodes.values())
    alone = run_simulation(sc, sim, RunConfig(link=False))  # no factory: no warnings
    assert all(n.own_warner is None for n in alone.nodes.values())
    assert not any(e.kind == "warning" for n in alone.nodes.values() for e in n.events)


def test_japan_alone_is_alerted_to_the_irbm_later_than_linked() -> None:
    sc = _only("irbm-1", 200.0)
    sim = simulate(sc, seed=1)
    launch_t_ns = sim.trajectories[0].launch_t_ns
    first = {
        link: _first_threat_s(
            run_simulation(sc, sim, RunConfig(link=link), warner_factory=make_warner).nodes["JPN"],
            launch_t_ns,
        )
        for link in (True, False)
    }
    assert first[True] is not None and first[False] is not None
    # Alone, Japan's own radars must see the missile rise over the horizon first.
    assert first[True] < first[False] < 200.0
