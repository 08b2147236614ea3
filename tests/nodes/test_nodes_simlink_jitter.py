"""The simulated link's latency jitter (``RunConfig.latency_jitter_s``): the extra delay
is exponential with the stated mean, a leg delivers in the order it was given messages,
the draws follow the run's seed, and the settings are checked."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from trilink.evaluate.mc_probe import attach, probe_of
from trilink.nodes.base import Outbound
from trilink.nodes.clock import SimClock
from trilink.nodes.simrun import RunConfig, SimulatedLink, run_simulation
from trilink.scenario import load_scenario, simulate

MS = 1_000_000
LATENCY_NS = 120 * MS


def _link(mean_ms: float, seed: int = 1) -> tuple[SimulatedLink, SimClock, list[tuple[int, int]]]:
    """A link KOR -> HUB with 120 ms and the given mean jitter; the scheduled deliveries
    land in the returned list as (time, order given)."""
    clock = SimClock(0)
    got: list[tuple[int, int]] = []
    link = SimulatedLink(lambda t, _prio, _fn: got.append((t, len(got))), clock)
    link.latency_ns[("KOR", "HUB")] = LATENCY_NS
    link.jitter_ns[("KOR", "HUB")] = mean_ms * MS
    link.rng = np.random.default_rng(seed)
    link.subscribe("HUB", "trilink.*.tracks", lambda _s, _p: None)
    return link, clock, got


def _send(link: SimulatedLink, clock: SimClock, t_ns: int) -> None:
    clock.advance_to(t_ns)
    link.publish("KOR", Outbound("trilink.KOR.tracks", b"x", {}))


def test_extra_delay_is_exponential_with_the_stated_mean() -> None:
    # Messages a second apart: the leg's order never holds one back, so the extra delay
    # is the draw itself.
    link, clock, got = _link(50.0)
    sent = np.arange(3000) * 1_000 * MS
    for t in sent:
        _send(link, clock, int(t))
    extra_ms = (np.array([t for t, _ in got]) - sent - LATENCY_NS) / MS
    assert extra_ms.min() >= 0.0
    assert stats.kstest(extra_ms, stats.expon(scale=50.0).cdf).pvalue > 1e-3
    assert extra_ms.mean() == pytest.approx(50.0, rel=0.08)  # 4.4 sigma of the mean
    # and it is not some other spread: a mean of 25 ms is rejected
    assert stats.kstest(extra_ms, stats.expon(scale=25.0).cdf).pvalue < 1e-6


def test_a_leg_delivers_in_order() -> None:
    link, clock, got = _link(80.0)
    for k in range(500):  # a burst: 1 ms apart, far closer than the jitter
        _send(link, clock, k * MS)
    times = [t for t, _ in got]
    assert times == sorted(times)
    assert all(t >= k * MS + LATENCY_NS for k, t in enumerate(times))
    # A long draw holds back what follows on the leg (head-of-line, as a retransmission
    # on one TCP connection does): the burst arrives in a few clumps, late.
    assert 1 < len(set(times)) < len(times)
    assert np.mean(times) > np.mean([k * MS + LATENCY_NS for k in range(500)]) + 80 * MS


def test_no_jitter_is_the_fixed_latency() -> None:
    link, clock, got = _link(0.0)
    for k in range(20):
        _send(link, clock, k * 7 * MS)
    assert [t for t, _ in got] == [k * 7 * MS + LATENCY_NS for k in range(20)]


def test_same_seed_same_delays() -> None:
    def delays(seed: int) -> list[int]:
        link, clock, got = _link(30.0, seed)
        for k in range(50):
            _send(link, clock, k * 200 * MS)
        return [t for t, _ in got]

    assert delays(3) == delays(3)
    assert delays(3) != delays(4)


@pytest.mark.parametrize(
    ("field", "value"),
    [("latency_s", -0.1), ("latency_jitter_s", -1e-3), ("local_latency_s", float("nan")),
     ("cycle_s", 0.0), ("tick_s", -0.5), ("latency_jitter_s", float("inf")),
     ("cycle_s", float("inf"))],
)  # fmt: skip
def test_run_config_refuses_bad_values(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"RunConfig.{field}"):
        RunConfig(**{field: value})


def test_a_run_with_jitter_is_seeded_and_slower() -> None:
    """One SRBM for 60 s through the whole chain: the hub's releases reach Japan later
    with jitter, by about the two legs' mean extra delay, and the same seed repeats it."""
    sc = load_scenario("korea-japan")
    srbm = next(x for x in sc.launches if x.id == "srbm-1")
    sc = dataclasses.replace(
        sc, launches=(dataclasses.replace(srbm, launch_t_ns=sc.start_t_ns),), duration_s=60.0
    )
    sim = simulate(sc, seed=11)

    def received(jitter_s: float) -> np.ndarray:
        """Japan's received SystemTracks: receipt minus the cycle's epoch, ms."""
        res = run_simulation(sc, sim, RunConfig(latency_jitter_s=jitter_s), on_node=attach)
        held = probe_of(res.nodes["JPN"]).received()
        assert held.t_ns.size > 20
        return (held.held_ns - held.t_ns) / MS

    plain, jittery = received(0.0), received(0.05)
    assert np.all(plain == 240.0)  # two 120 ms legs from the cycle's epoch
    assert np.median(jittery) > 240.0 + 50.0
    assert np.array_equal(jittery, received(0.05))
