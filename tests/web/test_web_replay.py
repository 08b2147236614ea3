"""ReplayFeed and ``trilink serve``: a recorded run played back to the pages."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner
from web_scene import KEYRING, NS, HubOut, scene

from trilink.cli import commands  # noqa: F401  (registers every command on app)
from trilink.cli.app import app
from trilink.errors import DecodeError
from trilink.link import decode
from trilink.link.recordlog import LogWriter
from trilink.web import ReplayFeed

LATENCY_NS = 300_000_000  # each release recorded 0.3 s after its measurement


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    with LogWriter(run / "messages.tlog") as log:
        # national traffic the replay must ignore, then the hub's releases
        log.append(1, "trilink.KOR.tracks", b"\x80", {})
        for subject, payload in scene(HubOut(), until_s=120.0):
            log.append(decode(payload).measured_ns + LATENCY_NS, subject, payload, {})
    (run / "keyring.json").write_text(json.dumps(KEYRING.to_hex()))
    return run


def test_replay_rebuilds_each_partners_picture_with_recorded_receive_times(recording):
    feed = ReplayFeed(recording / "messages.tlog", speed=100.0, keyring=KEYRING)
    assert feed.partners == ("JPN", "KOR")
    assert feed.t_start_ns == feed.records[0].t_ns - 5 * NS  # 5 s before the first release

    async def go():
        await feed.start()
        await asyncio.wait_for(feed.done.wait(), 10)
        await asyncio.sleep(0.05)
        snaps = {p: feed.snapshot(p) for p in feed.partners}
        await feed.stop()
        return snaps

    snaps = asyncio.run(go())
    assert feed.published == len(feed.records) == len(scene(HubOut(), until_s=120.0))
    jpn, kor = snaps["JPN"], snaps["KOR"]
    assert sorted(t["number"] for t in jpn["tracks"]) == [101, 102]
    assert [t["number"] for t in kor["tracks"]] == [101]
    assert len(jpn["warnings"]) == 1 and kor["warnings"] == []
    assert jpn["rejected"] == {} and kor["rejected"] == {} and jpn["verified"]
    # the replay clock is the recorded time of the message being taken in: latency 0.3 s,
    # plus the event loop's scheduling delay times the speed (100x: 10 ms -> 1 s)
    lat = [e["latency_s"] for s in snaps.values() for e in s["events"]]
    assert lat and all(0.3 <= x < 0.3 + 1.0 for x in lat), lat


def test_replay_refuses_a_log_without_hub_releases(tmp_path):
    with LogWriter(tmp_path / "messages.tlog") as log:
        log.append(1, "trilink.KOR.tracks", b"\x80", {})
    with pytest.raises(DecodeError, match="no hub releases"):
        ReplayFeed(tmp_path / "messages.tlog")
    with pytest.raises(DecodeError, match="cannot read"):
        ReplayFeed(tmp_path / "missing.tlog")
    with pytest.raises(ValueError, match="speed"):
        ReplayFeed(tmp_path / "messages.tlog", speed=0)


def test_altered_recording_shows_up_as_refusals(recording):
    log = recording / "messages.tlog"
    data = bytearray(log.read_bytes())
    i = data.rfind(b"Ballistic missile")  # inside the JPN warning's signed text
    data[i] = ord("b")
    log.write_bytes(bytes(data))
    feed = ReplayFeed(log, speed=400.0, keyring=KEYRING)

    async def go():
        await feed.start()
        await asyncio.wait_for(feed.done.wait(), 10)
        await asyncio.sleep(0.05)
        snap = feed.snapshot("JPN")
        await feed.stop()
        return snap

    snap = asyncio.run(go())
    assert snap["warnings"] == [] and snap["rejected"] == {"bad_signature": 1}


def test_serve_command_rejects_bad_input_with_exit_2(tmp_path, recording):
    runner = CliRunner()
    r = runner.invoke(app, ["serve", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "no recording" in r.output
    r = runner.invoke(app, ["serve", str(recording), "--speed", "0"])
    assert r.exit_code == 2 and "--speed" in r.output
    (tmp_path / "bad.json").write_text("{not json")
    r = runner.invoke(app, ["serve", str(recording), "--keys", str(tmp_path / "bad.json")])
    assert r.exit_code == 2 and "keyring" in r.output
    empty = tmp_path / "empty"
    with LogWriter(empty / "messages.tlog") as log:
        log.append(1, "trilink.KOR.tracks", b"\x80", {})
    r = runner.invoke(app, ["serve", str(empty)])
    assert r.exit_code == 2 and "no hub releases" in r.output


def test_serve_command_serves_the_replay_and_stops_cleanly(recording):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "trilink"), "serve", str(recording), "--port", "0",
         "--speed", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        url = None
        lines = []
        deadline = time.monotonic() + 20
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            m = re.search(r"JPN: (http://\S+)/p/JPN", line)
            url = m and m[1]
        assert url, lines
        assert "signatures verified" in "".join(lines)  # keyring.json found beside the log
        snap = {}
        while time.monotonic() < deadline and len(snap.get("warnings", [])) < 1:
            with urllib.request.urlopen(f"{url}/api/snapshot/JPN") as r:
                snap = json.loads(r.read())
            time.sleep(0.1)
        assert len(snap["warnings"]) == 1 and snap["verified"]
        with urllib.request.urlopen(f"{url}/p/KOR") as r:
            assert r.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
