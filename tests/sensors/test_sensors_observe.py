"""observe / observe_all: dispatch, reproducible and independent random streams, batches."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from sensors_truth import T0_NS, ballistic_arc, ir_satellite, radar

from trilink.geo.wgs84 import DEG
from trilink.sensors import Detections, observe, observe_all, sensor_rng


@pytest.fixture(scope="module")
def flights():
    a = ballistic_arc(39.2, 125.7, 100.0, 2_000.0, 45.0, missile_id="srbm-1", burn_s=60.0)
    b = ballistic_arc(
        39.7, 124.7, 90.0, 3_000.0, 50.0, missile_id="mrbm-1", burn_s=90.0, t0_ns=T0_NS + 20 * 10**9
    )
    return [a, b]


def _specs():
    return [
        radar(
            sensor_id="kor-1",
            lat_rad=36.8 * DEG,
            lon_rad=127.6 * DEG,
            ref_snr_db=20.0,
            swerling=1,
            false_alarms_per_scan=0.5,
        ),
        radar(
            sensor_id="jpn-1",
            nation="JPN",
            lat_rad=38.1 * DEG,
            lon_rad=138.4 * DEG,
            ref_snr_db=25.0,
            false_alarms_per_scan=0.2,
        ),
        ir_satellite(sensor_id="usa-ir", pd=0.9, false_alarms_per_scan=0.1),
    ]


def _window(flights) -> tuple[int, int]:
    return min(t.launch_t_ns for t in flights), max(t.impact_t_ns for t in flights)


def _same(a: Detections, b: Detections) -> bool:
    return (
        len(a) == len(b)
        and np.array_equal(a.t_ns, b.t_ns)
        and np.array_equal(a.z, b.z)
        and np.array_equal(a.R, b.R)
        and np.array_equal(a.snr_db, b.snr_db, equal_nan=True)
        and np.array_equal(a.truth_id, b.truth_id)
    )


def test_same_seed_same_detections_different_seed_different(flights) -> None:
    t0, t1 = _window(flights)
    one = observe_all(_specs(), flights, t0, t1, seed=42)
    two = observe_all(_specs(), flights, t0, t1, seed=42)
    other = observe_all(_specs(), flights, t0, t1, seed=43)
    assert all(_same(a, b) for a, b in zip(one, two, strict=True))
    assert not any(_same(a, b) for a, b in zip(one, other, strict=True))
    assert [d.sensor_id for d in one] == ["kor-1", "jpn-1", "usa-ir"]
    assert [d.kind for d in one] == ["radar", "radar", "ir"]
    assert all(len(d) > 0 and (d.truth_id != "").any() for d in one)


def test_a_sensor_stream_does_not_depend_on_the_other_sensors(flights) -> None:
    t0, t1 = _window(flights)
    specs = _specs()
    alone = observe_all([specs[1]], flights, t0, t1, seed=7)[0]
    reordered = observe_all([specs[2], specs[1], specs[0]], flights, t0, t1, seed=7)[1]
    assert _same(alone, reordered)


def test_streams_of_different_sensors_are_independent() -> None:
    a = sensor_rng(1, "kor-1").standard_normal(20_000)
    b = sensor_rng(1, "kor-2").standard_normal(20_000)
    assert abs(np.corrcoef(a, b)[0, 1]) < 4 / np.sqrt(20_000)


def test_the_stream_is_stable_across_processes() -> None:
    # Python's str hash is salted per process; a stable digest must not be.
    code = (
        "from trilink.sensors import sensor_rng; print(sensor_rng(3, 'kor-gp1').integers(0, 2**62))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(s)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for s in (1, 2)
    }
    assert outs == {str(sensor_rng(3, "kor-gp1").integers(0, 2**62))}


def test_observe_dispatches_on_the_spec_type(flights) -> None:
    t0, t1 = _window(flights)
    rng = np.random.default_rng(0)
    assert observe(_specs()[0], flights, t0, t1, rng).dim == 3
    assert observe(_specs()[2], flights, t0, t1, rng).dim == 2
    with pytest.raises(TypeError):
        observe("radar", flights, t0, t1, rng)  # type: ignore[arg-type]


def test_duplicate_sensor_ids_are_refused(flights) -> None:
    t0, t1 = _window(flights)
    with pytest.raises(ValueError, match="unique"):
        observe_all([_specs()[0], _specs()[0]], flights, t0, t1, seed=1)


def test_batches_are_time_ordered_well_formed_and_do_not_share_memory_with_truth(flights) -> None:
    t0, t1 = _window(flights)
    before = [t.r_ecef_m.copy() for t in flights]
    for d in observe_all(_specs(), flights, t0, t1, seed=5):
        n, m = len(d), d.dim
        assert d.t_ns.dtype == np.int64 and np.all(np.diff(d.t_ns) >= 0)
        assert d.z.shape == (n, m) and d.R.shape == (n, m, m) and d.snr_db.shape == (n,)
        assert np.all(np.linalg.eigvalsh(d.R) > 0)
        assert np.all((d.z[:, -2] > -np.pi) & (d.z[:, -2] <= np.pi))  # azimuth wrapped
        assert d.t_ns.min() >= t0 and d.t_ns.max() <= t1
    assert all(np.array_equal(b, t.r_ecef_m) for b, t in zip(before, flights, strict=True))


def test_no_trajectories_and_no_false_alarms_gives_an_empty_batch() -> None:
    d = observe(radar(), [], T0_NS, T0_NS + 10**11, np.random.default_rng(0))
    assert len(d) == 0 and d.z.shape == (0, 3) and d.R.shape == (0, 3, 3)
