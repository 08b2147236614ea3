"""Cursor on Target events: fields, ce/le from the covariance, the impact ellipse as a
TAK drawing, and streaming to a real TCP/UDP listener on the loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import xml.etree.ElementTree as ET
from datetime import datetime

import numpy as np
import pytest
from alerts_fixtures import D, flight

from trilink.alerts.cot import (
    cot_events,
    enu_covariance,
    horizontal_ce_m,
    impact_ellipse_cot,
    parse_cot_url,
    stream_cot,
    to_cot,
)
from trilink.alerts.ellipse import K95
from trilink.geo.frames import ecef_to_geodetic, enu_rotation, geodetic_to_ecef
from trilink.geo.geodesic import geodesic_inverse


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def mid():
    return flight()[30]


def test_track_event_core_fields(mid):
    ev = ET.fromstring(
        to_cot(mid, releasable_to=("USA", "KOR", "JPN"), caveat="REL TO USA, KOR, JPN")
    )
    assert ev.tag == "event" and ev.get("version") == "2.0"
    assert ev.get("type") == "a-h-A-W-M-S-S" and ev.get("how") == "m-f"
    assert ev.get("uid") == "trilink.T0001"
    assert ev.get("time") == ev.get("start")
    assert (_t(ev.get("stale")) - _t(ev.get("time"))).total_seconds() == pytest.approx(20.0)
    assert ev.get("access") == "Unclassified" and ev.get("releasableTo") == "USA KOR JPN"
    point = ev.find("point")
    lat, lon, h = ecef_to_geodetic(mid.r_ecef_m)
    assert float(point.get("lat")) == pytest.approx(math.degrees(lat), abs=1e-7)
    assert float(point.get("lon")) == pytest.approx(math.degrees(lon), abs=1e-7)
    assert float(point.get("hae")) == pytest.approx(h, abs=0.1)
    assert "REL TO USA, KOR, JPN" in ev.findtext("detail/remarks")


def test_uid_is_stable_across_updates():
    events = flight()
    uids = {ET.fromstring(to_cot(e)).get("uid") for e in events[:5]}
    assert uids == {"trilink.T0001"}


def test_ce_le_from_a_known_enu_covariance(mid):
    lat, lon, _ = ecef_to_geodetic(mid.r_ecef_m)
    rot = enu_rotation(lat, lon)
    p_enu = np.diag([100.0**2, 50.0**2, 30.0**2])
    p_ecef = rot.T @ p_enu @ rot  # R maps ECEF to ENU, so P_ecef = R^T P_enu R
    ev = ET.fromstring(to_cot(dataclasses.replace(mid, cov_pos_ecef_m2=p_ecef)))
    assert float(ev.find("point").get("ce")) == pytest.approx(100.0, abs=0.1)
    assert float(ev.find("point").get("le")) == pytest.approx(30.0, abs=0.1)
    np.testing.assert_allclose(enu_covariance(p_ecef, lat, lon), p_enu, atol=1e-6)


def test_ce_is_the_largest_horizontal_sigma():
    # A 45-degree tilted ellipse with sigmas 200 m and 20 m.
    c, s = math.cos(D(45)), math.sin(D(45))
    r = np.array([[c, -s], [s, c]])
    cov = r @ np.diag([200.0**2, 20.0**2]) @ r.T
    assert float(horizontal_ce_m(cov)) == pytest.approx(200.0)


def test_unknown_errors_are_9999999(mid):
    ev = ET.fromstring(to_cot(dataclasses.replace(mid, cov_pos_ecef_m2=None)))
    assert ev.find("point").get("ce") == "9999999.0" and ev.find("point").get("le") == "9999999.0"


def test_course_speed_slope_from_velocity():
    lat, lon = D(38.0), D(133.0)
    r = geodetic_to_ecef([lat, lon, 100e3])
    v_enu = np.array([1000.0, 1000.0, -500.0])
    v = enu_rotation(lat, lon).T @ v_enu
    t = dataclasses.replace(
        flight()[10],
        r_ecef_m=r,
        v_ecef_mps=v,
        cov_vel_ecef_m2s2=enu_rotation(lat, lon).T
        @ np.diag([4.0, 4.0, 1.0])
        @ enu_rotation(lat, lon),
    )
    track = ET.fromstring(to_cot(t)).find("detail/track")
    assert float(track.get("course")) == pytest.approx(45.0)
    assert float(track.get("speed")) == pytest.approx(math.hypot(1000, 1000), abs=0.01)
    assert float(track.get("slope")) == pytest.approx(
        math.degrees(math.atan2(-500, math.hypot(1000, 1000))), abs=0.01
    )
    assert float(track.get("eSpeed")) == pytest.approx(2.0, abs=0.01)
    assert float(track.get("eCourse")) == pytest.approx(
        math.degrees(2.0 / math.hypot(1000, 1000)), abs=1e-3
    )


def test_impact_ellipse_as_atak_ellipse_drawing(mid):
    ev = ET.fromstring(impact_ellipse_cot(mid))
    assert ev.get("type") == "u-d-c-e" and ev.get("uid") == "trilink.T0001.ipp"
    ell = ev.find("detail/shape/ellipse")
    imp = mid.impact
    # ATAK reads major/minor as full lengths (diameters) and angle as the major axis heading.
    assert float(ell.get("major")) == pytest.approx(2 * K95 * imp.semi_major_m, abs=0.1)
    assert float(ell.get("minor")) == pytest.approx(2 * K95 * imp.semi_minor_m, abs=0.1)
    assert float(ell.get("angle")) == pytest.approx(70.0)
    assert float(ev.find("point").get("lat")) == pytest.approx(40.2, abs=1e-7)
    assert _t(ev.get("stale")) > _t(ev.get("time"))


def test_impact_ellipse_as_closed_polygon(mid):
    ev = ET.fromstring(impact_ellipse_cot(mid, form="polygon", vertices=24))
    assert ev.get("type") == "u-d-f"
    links = [
        tuple(float(v) for v in link.get("point").split(",")) for link in ev.findall("detail/link")
    ]
    assert len(links) == 25 and links[0] == links[-1]
    imp = mid.impact
    lat, lon, _ = links[0]
    s, az, _ = geodesic_inverse(imp.lat_rad, imp.lon_rad, D(lat), D(lon))
    assert s == pytest.approx(K95 * imp.semi_major_m, abs=1.0)  # first vertex: major-axis tip
    assert math.degrees(az) == pytest.approx(70.0, abs=0.01)


def test_no_prediction_no_ellipse_and_point_required(mid):
    assert impact_ellipse_cot(dataclasses.replace(mid, impact=None)) is None
    assert len(cot_events(mid)) == 2
    with pytest.raises(ValueError):
        to_cot(dataclasses.replace(mid, r_ecef_m=None))
    with pytest.raises(ValueError):
        impact_ellipse_cot(mid, form="circle")


@pytest.mark.parametrize("url", ["http://h:1", "tcp://:8087", "tcp://host", "udp:host:1"])
def test_bad_urls(url):
    with pytest.raises(ValueError):
        parse_cot_url(url)


def test_stream_over_tcp_to_a_local_listener():
    events = [e for t in flight()[:10] for e in cot_events(t)]

    async def main():
        received = bytearray()
        done = asyncio.Event()

        async def handle(reader, writer):
            received.extend(await reader.read())  # until the sender closes
            writer.close()
            done.set()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            sent = await stream_cot(events, f"tcp://127.0.0.1:{port}")
            await asyncio.wait_for(done.wait(), 5.0)
        return sent, received.decode("utf-8")

    sent, text = asyncio.run(main())
    docs = [d + "</event>" for d in text.split("</event>") if d.strip()]
    parsed = [ET.fromstring(d) for d in docs]
    assert sent == len(events) == len(parsed) == 20
    assert [p.get("type") for p in parsed[:2]] == ["a-h-A-W-M-S-S", "u-d-c-e"]


def test_stream_over_udp_one_datagram_per_event():
    events = [to_cot(t) for t in flight()[:5]]

    async def main():
        got: list[bytes] = []
        loop = asyncio.get_running_loop()

        class Listener(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                got.append(data)

        transport, _ = await loop.create_datagram_endpoint(Listener, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]

        async def gen():  # an async source, as a live run would give
            for e in events:
                yield e

        sent = await stream_cot(gen(), f"udp://127.0.0.1:{port}")
        for _ in range(50):
            if len(got) == sent:
                break
            await asyncio.sleep(0.01)
        transport.close()
        return sent, got

    sent, got = asyncio.run(main())
    assert sent == 5 and [ET.fromstring(g).get("uid") for g in got] == ["trilink.T0001"] * 5
