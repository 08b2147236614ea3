"""The server's routes and WebSocket protocol, in process (starlette TestClient)."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from web_scene import KEYRING, NS, T0_NS, HubOut, scene, system_track, warning

from trilink.link import InMemoryBus
from trilink.web import BusFeed, create_app
from trilink.web.assets import Assets, find_assets


def clock() -> int:
    return T0_NS + 3600 * NS


@pytest.fixture
def served():
    bus = InMemoryBus()
    feed = BusFeed(bus, ["JPN", "KOR"], KEYRING, clock=clock)
    app = create_app(feed, ["JPN", "KOR"], tick_s=0.2)
    with TestClient(app) as client:

        def publish(pairs):
            for subject, payload in pairs:
                client.portal.call(bus.publish, subject, payload)

        yield client, publish, app


def test_index_lists_partners_and_pages_exist(served):
    client, _, _ = served
    r = client.get("/")
    assert r.status_code == 200
    assert 'href="/p/JPN"' in r.text and 'href="/p/KOR"' in r.text
    page = client.get("/p/KOR")
    assert page.status_code == 200 and 'data-partner="KOR"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/p/USA").status_code == 404
    assert client.get("/api/partners").json() == {"partners": ["JPN", "KOR"]}


def test_static_vendor_and_map_data_are_served(served):
    client, _, _ = served
    for url in (
        "/static/cop.js",
        "/static/geo.js",
        "/static/cop.css",
        "/vendor/leaflet/leaflet.js",
        "/vendor/leaflet/leaflet.css",
        "/vendor/topojson-client/topojson-client.min.js",
    ):
        assert client.get(url).status_code == 200, url
    topo = client.get("/data/countries-50m.json").json()
    assert topo["type"] == "Topology" and "countries" in topo["objects"]
    # only whitelisted npm files: nothing else under node_modules is reachable
    assert client.get("/vendor/leaflet/package.json").status_code == 404
    assert client.get("/vendor/../package.json").status_code == 404
    assert client.get("/data/land-10m.json").status_code == 404


def test_territory_is_the_partners_own(served):
    client, _, _ = served
    fc = client.get("/data/territory/KOR").json()
    assert fc["type"] == "FeatureCollection"
    if "note" not in fc:  # built data present (scripts/build_geodata.py)
        assert {f["properties"]["nation"] for f in fc["features"]} == {"KOR"}
        assert {f["properties"]["kind"] for f in fc["features"]} == {"land", "territorial", "zone"}
    assert client.get("/data/territory/PRK").status_code == 404


def test_territory_without_built_data_says_how_to_build(tmp_path):
    a = Assets(node_modules=tmp_path, territory_geojson=None)
    fc = a.territory("JPN")
    assert fc["features"] == [] and "build_geodata" in fc["note"]


def test_snapshot_api_matches_partner(served):
    client, publish, _ = served
    publish(scene(HubOut(), until_s=120.0))
    kor = client.get("/api/snapshot/KOR").json()
    jpn = client.get("/api/snapshot/JPN").json()
    assert [t["number"] for t in kor["tracks"]] == [101]
    assert sorted(t["number"] for t in jpn["tracks"]) == [101, 102]
    assert kor["warnings"] == [] and len(jpn["warnings"]) == 1
    assert client.get("/api/snapshot/XYZ").status_code == 404
    health = client.get("/healthz").json()
    assert health["ok"] and health["verified"] and health["partners"] == ["JPN", "KOR"]


def test_websocket_snapshot_then_deltas_then_clock(served):
    client, publish, _ = served
    hub = HubOut()
    publish([hub.seal("JPN", system_track(101, 30.0, ("JPN",)))])
    with client.websocket_connect("/ws/JPN") as ws:
        snap = ws.receive_json()
        assert snap["type"] == "snapshot" and snap["partner"] == "JPN"
        assert [t["number"] for t in snap["tracks"]] == [101]
        assert snap["now_ms"] == clock() / 1e6 and snap["verified"] is True
        publish([hub.seal("JPN", warning("W1", 101, 90.0, "JPN"))])
        frame = ws.receive_json()
        assert frame["type"] == "deltas" and frame["now_ms"] == clock() / 1e6
        kinds = [d["type"] for d in frame["items"]]
        assert kinds == ["warning", "event"]
        assert frame["items"][0]["warning"]["active"] is True
        tick = ws.receive_json()  # idle: a clock tick within tick_s
        assert tick == {"type": "clock", "now_ms": clock() / 1e6, "speed": 1.0}


def test_websocket_isolation_kor_never_gets_jpn_releases(served):
    client, publish, _ = served
    hub = HubOut()
    with client.websocket_connect("/ws/KOR") as ws:
        assert ws.receive_json()["tracks"] == []
        publish(
            [
                hub.seal("JPN", system_track(102, 30.0, ("JPN",))),
                hub.seal("JPN", warning("W1", 102, 90.0, "JPN")),
                hub.seal("KOR", system_track(101, 30.0, ("KOR",))),
            ]
        )
        frame = ws.receive_json()
        while frame["type"] == "clock":
            frame = ws.receive_json()
        text = json.dumps(frame)
        assert [d["track"]["number"] for d in frame["items"] if d["type"] == "track"] == [101]
        assert "W1" not in text and "JPN" not in text


def test_unknown_partner_websocket_is_refused(served):
    client, _, _ = served
    with pytest.raises(WebSocketDisconnect) as e, client.websocket_connect("/ws/PRK"):
        pass
    assert e.value.code == 1008


def test_server_side_kick_closes_with_service_restart(served):
    client, _, app = served
    with client.websocket_connect("/ws/KOR") as ws:
        ws.receive_json()
        assert client.get("/healthz").json()["pages"] == {"JPN": 0, "KOR": 1}
        assert client.portal.call(_kick, app) == 1
        with pytest.raises(WebSocketDisconnect) as e:
            while True:
                ws.receive_json()
        assert e.value.code == 1012
    assert client.get("/healthz").json()["pages"] == {"JPN": 0, "KOR": 0}


async def _kick(app) -> int:
    return app.state.connections.kick()


def test_create_app_refuses_partners_the_feed_does_not_serve():
    feed = BusFeed(InMemoryBus(), ["JPN"], None)
    with pytest.raises(ValueError, match="none of"):
        create_app(feed, ["KOR"], assets=find_assets())


def test_serve_bus_serves_until_cancelled_and_frees_its_port():
    import asyncio
    import socket
    import urllib.request

    from trilink.web import serve_bus

    async def get(url: str) -> dict:
        def fetch() -> dict:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read())

        return await asyncio.to_thread(fetch)

    async def go():
        bus = InMemoryBus()
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            serve_bus(
                bus,
                ["JPN", "KOR"],
                "127.0.0.1",
                0,
                keyring=KEYRING,
                clock=clock,
                on_ready=ready.set_result,
            )
        )
        url = await asyncio.wait_for(ready, 10)
        hub = HubOut()
        await bus.publish(*hub.seal("KOR", system_track(101, 30.0, ("KOR",))))
        await asyncio.sleep(0.05)
        snap = await get(f"{url}/api/snapshot/KOR")
        health = await get(f"{url}/healthz")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return url, snap, health

    url, snap, health = asyncio.run(go())
    assert [t["number"] for t in snap["tracks"]] == [101] and health["verified"]
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as s:  # no listener left: the port binds again (TIME_WAIT aside)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
