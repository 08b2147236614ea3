"""The hub's warner, fast path: the same warnings as before the speed work, byte for byte.

``data/warner_salvo.msgpack.gz`` holds every call the hub made to its warner in one
Monte Carlo trial of the SRBM salvo and the warnings the warner of commit 3a66fe6
(before the speed work) returned, with the SHA-256 of each CAP document (how it was
made: ``record_warner_salvo.py``). Replayed here through today's warner, fast and
reference paths. The batch geometry is also checked against the one-at-a-time rules on
inputs built to sit on the edges the shortcuts rely on (bounding boxes, lazy distances).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import math
import re
from pathlib import Path

import msgspec
import numpy as np
import pytest
from alerts_fixtures import recorded_zones
from geographiclib.geodesic import Geodesic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trilink import messages
from trilink.alerts import load_territory, threat_from_system_track, to_cap_document
from trilink.alerts.batch import ground_tracks, rings, threat_products
from trilink.alerts.changes import severity_change
from trilink.alerts.ellipse import ellipse_ring, ellipse_ring_numpy
from trilink.alerts.footprints import distance_near_m, footprints, within_m
from trilink.alerts.rules import ImpactPrediction, WarningRules, footprint
from trilink.geo.geodesic import (
    geodesic_direct,
    geodesic_inverse,
    geodesic_samples,
    vincenty_direct,
    vincenty_distance_m,
    vincenty_inverse,
)
from trilink.nodes.warnings import make_warner, warning_message
from trilink.scenario import load_scenario

DATA = Path(__file__).resolve().parent / "data" / "warner_salvo.msgpack.gz"


@pytest.fixture(scope="module")
def record():
    rec = msgspec.msgpack.decode(gzip.decompress(DATA.read_bytes()))
    products = [msgspec.msgpack.decode(b, type=messages.SystemTrack) for b in rec["products"]]
    calls = [
        (p, t, [msgspec.structs.replace(products[i], releasability=(p,)) for i in idx])
        for p, t, idx, _ in rec["calls"]
    ]
    return rec, calls


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("korea-japan")


@pytest.fixture
def zones_of_the_recording(tmp_path_factory):
    """The recording's warnings were decided on the zones without median lines."""
    with recorded_zones(tmp_path_factory.getbasetemp()):
        yield


def replay(calls, warner):
    out, caps = [], []
    for partner, t_ns, tracks in calls:
        events = warner.events(partner, tracks, t_ns)
        out.extend(msgspec.msgpack.encode(warning_message(e)) for e in events)
        caps.extend(hashlib.sha256(to_cap_document(e)).hexdigest() for e in events)
    return out, caps


# The one wording changed since the recording: a threat held by hysteresis whose ellipse
# has left every area was headed "possible impact in Japan's outside its waters".
_NEW_HELD = re.compile(rb"possible impact near (.{1,40}?)s 200-nm zone")
_OLD_HELD = rb"possible impact in \1s outside its waters"


def as_recorded(data: bytes) -> tuple[bytes, bool]:
    """Today's CAP document with the held-threat headline in the recorded wording."""
    back = _NEW_HELD.sub(_OLD_HELD, data)
    return back, back != data


def as_recorded_warning(msg: messages.Warning) -> tuple[bytes, bool]:
    """Today's Warning, encoded, with its text in the recorded wording."""
    text, changed = as_recorded(msg.text.encode())
    return msgspec.msgpack.encode(msgspec.structs.replace(msg, text=text.decode())), changed


RECORDED_RULES = WarningRules(stand_down_hold_s=0.0)
"""The rules the recording was decided by: every stand-down sent at once."""


@pytest.mark.parametrize("fast", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_salvo_warnings_equal_the_recorded_ones(record, scenario, fast, zones_of_the_recording):
    rec, calls = record
    warner = make_warner(scenario, RECORDED_RULES)
    warner.fast = fast
    out, caps = [], []
    reworded = 0
    for partner, t_ns, tracks in calls:
        for e in warner.events(partner, tracks, t_ns):
            msg, changed = as_recorded_warning(warning_message(e))
            reworded += changed
            out.append(msg)
            doc, _ = as_recorded(to_cap_document(e))
            caps.append(hashlib.sha256(doc).hexdigest())
    assert len(out) == len(rec["warnings"]) == 40
    for got, want in zip(out, rec["warnings"], strict=True):
        assert got == want
    assert caps == rec["caps_sha256"]
    assert reworded == 5  # Japan's five held-threat updates of srbm-3's track


def _events(calls, warner):
    return [e for partner, t_ns, tracks in calls for e in warner.events(partner, tracks, t_ns)]


def test_salvo_with_the_stand_down_hold(record, scenario, zones_of_the_recording):
    """The recording under today's rules: the messages the rules spare are Japan's on
    srbm-3 (track 3), whose 95 % ellipse left and re-entered its zone within 0.5 s, then
    left for good while it shrank; every first threat goes at the same call as before.
    The stand-down itself goes out 5.5 s after the escalation, not after the 15 s hold,
    because the impact came 10 s sooner with it (an impact due sooner is never held)."""
    _, calls = record
    before = _events(calls, make_warner(scenario, RECORDED_RULES))
    now = _events(calls, make_warner(scenario))

    def per_thread(events):
        out: dict[tuple[str, str], list] = {}
        for e in events:
            out.setdefault((e.partner, e.track_id), []).append(e)
        return out

    old, new = per_thread(before), per_thread(now)
    assert {k: len(v) for k, v in old.items() if len(v) != len(new[k])} == {("JPN", "3"): 9}
    assert len(new[("JPN", "3")]) == 7 and len(now) == 38
    for key, events in old.items():
        first = next((e.sent_t_ns for e in events if e.level == "threat"), None)
        assert first == next((e.sent_t_ns for e in new[key] if e.level == "threat"), None)
    japan = [(e.reason, e.changes[:1]) for e in new[("JPN", "3")]]
    assert japan == [
        ("launch", ()),
        ("escalated", ()),
        ("changed", ("impact_place zone -> outside",)),  # with the impact 10 s sooner
        ("changed", ("95% ellipse semi-major 18.6 -> 8.7 km",)),
        ("changed", ("95% ellipse semi-major 8.7 -> 3.1 km",)),
        ("changed", ("impact_place outside -> zone",)),  # in re-entry: quick to warn
        ("impacted", ()),
    ]
    down = new[("JPN", "3")][2]
    assert "impact time moved -10 s" in down.changes
    # the rule without a hold had already stood down, and sent more, before this
    up = new[("JPN", "3")][1]
    early = [e for e in old[("JPN", "3")] if up.sent_t_ns < e.sent_t_ns < down.sent_t_ns]
    assert len(early) >= 2 and early[0].changes[0] == "impact_place zone -> outside"


def test_every_partner_shares_one_product_per_track_and_cycle(record, scenario):
    _, calls = record
    warner = make_warner(scenario)
    made = []
    real = warner._products_of

    def counting(msgs, t_ns):
        before = len(warner._products) if t_ns == warner._cycle_t_ns else 0
        got = real(msgs, t_ns)
        made.append(len(warner._products) - before)
        return got

    warner._products_of = counting  # type: ignore[method-assign]
    some = [c for c in calls if c[2]][:600]
    for partner, t_ns, tracks in some:
        warner.events(partner, tracks, t_ns)
    # the first partner of a cycle converts its tracks, the other two reuse them
    steps = sum(len(c[2]) for c in some)
    assert steps > 600 and 0 < sum(made) <= steps / 2


def test_median_lines_spare_korea_the_threats_from_the_launch_coast(record, scenario):
    # The same calls on today's zones (cut at median lines): Korea's zone no longer
    # reaches Wonsan's coast, so no SRBM is a threat to Korea from its first track (on the
    # recording's zones all three were); srbm-3 (track 3) falls 7.5 km outside Korea's
    # zone, on the DPRK's side of the line, and becomes a "possible" threat once its
    # ellipse shrinks onto the line; srbm-1 and -2 fall farther out. Japan's zone ends
    # ~140 km from every impact: launch alerts only.
    _, calls = record
    warner = make_warner(scenario)
    first_seen: dict[tuple[str, str], int] = {}
    threats: dict[tuple[str, str], list[int]] = {}
    for partner, t_ns, tracks in calls:
        for e in warner.events(partner, tracks, t_ns):
            key = (partner, e.track_id)
            first_seen.setdefault(key, t_ns)
            if e.level == "threat":
                threats.setdefault(key, []).append(t_ns)
    assert {k for k in threats} == {("KOR", "3")}
    assert min(threats[("KOR", "3")]) - first_seen[("KOR", "3")] > 10e9  # not from launch
    # Korea's threat messages for it: 23 Updates before the stand-down hold (15 in the
    # 68 s of re-entry, 14 of them in 27 s, as the ellipse swung across the line), 6 with
    # it (3 in re-entry: the threat, its stand-down 41 s later, the threat again)
    assert len(threats[("KOR", "3")]) == 6


# ---- the compiled geodesics against their references ----------------------------------


def test_vincenty_direct_equals_the_numpy_version_to_a_few_ulp():
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(-1.4, 1.4, 5000), rng.uniform(-np.pi, np.pi, 5000)
    az, s = rng.uniform(-np.pi, np.pi, 5000), rng.uniform(0.0, 5e6, 5000)
    want = geodesic_direct(lat, lon, az, s)
    got = vincenty_direct(lat, lon, az, s)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=0, atol=4e-15)


def test_vincenty_inverse_agrees_with_karney():
    rng = np.random.default_rng(4)
    lat1, lon1 = rng.uniform(-1.4, 1.4, 400), rng.uniform(-np.pi, np.pi, 400)
    lat2, lon2 = geodesic_direct(
        lat1, lon1, rng.uniform(-np.pi, np.pi, 400), rng.uniform(0, 4e6, 400)
    )
    s, a1, a2 = vincenty_inverse(lat1, lon1, lat2, lon2)
    ks, ka1, ka2 = geodesic_inverse(lat1, lon1, lat2, lon2)
    np.testing.assert_allclose(s, ks, rtol=1e-10, atol=1e-6)  # 1 um at worst
    for got, want in ((a1, ka1), (a2, ka2)):
        assert np.abs(np.angle(np.exp(1j * (got - want)))).max() < 1e-10
    assert vincenty_distance_m(lat1[0], lon1[0], lat2[0], lon2[0]) == s[0]
    assert vincenty_distance_m(0.5, 2.0, 0.5, 2.0) == 0.0


def test_geodesic_samples_follow_the_geodesic_to_its_end():
    lat0, lon0, az0 = math.radians(39.0), math.radians(127.5), math.radians(80.0)
    lat, lon = geodesic_samples([lat0, lat0], [lon0, lon0], [az0, az0], [1e6, 0.0], [51, 2])
    assert lat.shape == (53,)
    d = np.linspace(0.0, 1e6, 51)
    want = geodesic_direct(lat0, lon0, az0, d)
    np.testing.assert_allclose(lat[:51], want[0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(lon[:51], want[1], rtol=0, atol=1e-14)
    g = Geodesic.WGS84.Direct(39.0, 127.5, 80.0, 1e6)
    assert (
        abs(math.degrees(lat[50]) - g["lat2"]) < 1e-9
        and abs(math.degrees(lon[50]) - g["lon2"]) < 1e-9
    )
    assert lat[51] == lat[52] == lat0
    with pytest.raises(ValueError):
        geodesic_samples([lat0], [lon0], [az0], [1.0], [1])


def test_rings_equal_the_numpy_ellipse_ring():
    rules = WarningRules()
    t = threat_from_system_track(_track(7, 40.0, 135.5, 25e3, 0.0))
    got = rings([t.impact], rules.threat_k)[0]
    imp = t.impact
    assert imp is not None
    np.testing.assert_array_equal(
        got,
        ellipse_ring(
            imp.lat_rad,
            imp.lon_rad,
            imp.semi_major_m,
            imp.semi_minor_m,
            imp.orientation_rad,
            rules.threat_k,
        ),
    )
    want = ellipse_ring_numpy(
        imp.lat_rad,
        imp.lon_rad,
        imp.semi_major_m,
        imp.semi_minor_m,
        imp.orientation_rad,
        rules.threat_k,
    )
    np.testing.assert_allclose(got, want, rtol=0, atol=4e-15)


# ---- batch geometry against the one-at-a-time rules ------------------------------------


def _track(
    number,
    lat_deg,
    lon_deg,
    sigma_m,
    az_deg,
    sub=(39.2, 127.5),
    h_m=200e3,
    status="confirmed",
    impact=True,
):
    """A released track at ``sub`` (deg, h_m high, descending) aimed at (lat, lon)."""
    from trilink.geo.frames import geodetic_to_ecef

    r = geodetic_to_ecef(np.array([math.radians(sub[0]), math.radians(sub[1]), h_m]))
    gp = messages.GroundPoint(
        lat_deg=lat_deg, lon_deg=lon_deg, t_ns=1_800_000_000_000_000_000, t_sigma_s=2.0,
        ellipse=messages.Ellipse(sigma_major_m=sigma_m, sigma_minor_m=sigma_m / 2.5, major_azimuth_deg=az_deg % 180.0),
    )  # fmt: skip
    return messages.SystemTrack(
        source="HUB", measured_ns=1_799_999_700_000_000_000, releasability=("JPN",),
        system_track_number=number, state_ecef=(*map(float, r), 0.0, 0.0, -100.0),
        covariance_ecef=messages.pack_covariance(np.diag([1e4] * 3 + [25.0] * 3).tolist()),
        phase="ballistic", status=status, quality=10, impact=gp if impact else None,
    )  # fmt: skip


def _edge_cases() -> list[messages.SystemTrack]:
    """Tracks whose ellipse or ground track sits near Japan's and Korea's areas: points
    along a line crossing the coasts and zone edges, several sizes, some far away,
    a boost-phase track without a prediction, lost and tentative tracks, one aimed
    across the antimeridian."""
    out = []
    rng = np.random.default_rng(11)
    n = 0
    for lat, lon in zip(np.linspace(33.0, 43.0, 25), np.linspace(126.0, 146.0, 25), strict=True):
        for sigma in (300.0, 8e3, 40e3):
            n += 1
            out.append(_track(n, float(lat), float(lon), sigma, float(rng.uniform(0, 180))))
    for sub in ((35.0, 150.0), (45.0, 120.0), (20.0, 125.0)):
        for lat, lon in ((36.0, 138.0), (37.5, 131.0), (30.0, 160.0), (44.0, 179.9)):
            n += 1
            out.append(_track(n, lat, lon, 5e3, 30.0, sub=sub))
    out.append(_track(n + 1, 36.0, 138.0, 5e3, 0.0, impact=False))
    out.append(_track(n + 2, 36.0, 138.0, 5e3, 0.0, status="lost"))
    out.append(_track(n + 3, 36.0, 138.0, 5e3, 0.0, status="tentative"))
    out.append(_track(n + 4, 52.0, -178.0, 9e3, 10.0, sub=(50.0, 175.0)))
    return out


@pytest.mark.parametrize("nation", ["JPN", "KOR", "USA"])
def test_batch_footprints_equal_the_reference(nation):
    rules = WarningRules()
    territory = load_territory(nation)
    msgs = _edge_cases()
    products = threat_products(msgs, rules)
    got = footprints(products, territory, rules)
    places = set()
    for msg, product, fact in zip(msgs, products, got, strict=True):
        ref_threat = threat_from_system_track(msg)
        assert product.threat.status == ref_threat.status
        if not product.flying:
            assert fact is None
            continue
        want = footprint(ref_threat, territory, rules)
        assert (fact.overflight, fact.place, fact.nominal) == (
            want.overflight,
            want.place,
            want.nominal,
        )
        assert fact.distance_m() == pytest.approx(want.distance_m(), rel=1e-9, abs=1e-6)
        places.add((fact.place, fact.overflight))
        # the ground track is drawn when read, and equals the reference's to ~1e-11
        track = product.threat.ground_track_rad
        np.testing.assert_allclose(track, ref_threat.ground_track_rad, rtol=0, atol=1e-11)
    assert len(places) >= 2  # the cases do reach different answers


def test_lazy_ground_track_survives_replace_and_reads_like_a_field():
    (product,) = threat_products([_track(1, 36.0, 138.0, 5e3, 0.0)])
    threat = product.threat
    assert "ground_track_rad" not in threat.__dict__
    copy = dataclasses.replace(threat, t_ns=threat.t_ns + 1)
    assert copy.ground_track_rad.shape[0] > 2 and not copy.ground_track_rad.flags.writeable
    np.testing.assert_array_equal(copy.ground_track_rad, threat.ground_track_rad)
    assert not threat.r_ecef_m.flags.writeable and not threat.cov_pos_ecef_m2.flags.writeable
    with pytest.raises(AttributeError):
        threat.no_such_field  # noqa: B018


def test_ground_tracks_match_the_adapters_sampling():
    from trilink.alerts.adapters import geodesic_ground_track

    t = threat_from_system_track(_track(1, 36.0, 138.0, 5e3, 0.0))
    lat, lon = ecef_lat_lon(t.r_ecef_m)
    want = geodesic_ground_track(lat, lon, t.impact)
    s12, az1, _ = vincenty_inverse(lat, lon, t.impact.lat_rad, t.impact.lon_rad)
    (got,) = ground_tracks(np.array([lat]), np.array([lon]), np.atleast_1d(az1), np.atleast_1d(s12))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)


def ecef_lat_lon(r):
    from trilink.geo.frames import ecef_to_geodetic

    lla = ecef_to_geodetic(r)
    return float(lla[0]), float(lla[1])


@pytest.mark.parametrize("nation", ["JPN", "KOR", "USA"])
def test_zone_distance_from_nearby_segments_equals_the_full_method(nation):
    """Rings scattered around the zones (Guam's for the USA), 1-40 km ellipses at 3 sigma: the
    segment search gives Territory.distance_m's value to the last bit, and
    within_m's None means at least half its radius."""
    territory = load_territory(nation)
    rng = np.random.default_rng(5)
    south, north, west, east = (
        (8.0, 24.0, 138.0, 152.0) if nation == "USA" else (25.0, 48.0, 118.0, 150.0)
    )
    lat, lon = rng.uniform(south, north, 120), rng.uniform(west, east, 120)  # near the zones
    a = rng.uniform(1e3, 40e3, 120)
    impacts = [
        ImpactPrediction(math.radians(la), math.radians(lo), 0, 1.0, s, s / 3, float(az))
        for la, lo, s, az in zip(lat, lon, a, rng.uniform(0, 3, 120), strict=True)
    ]
    near = 0
    for ring in rings(impacts, 3.0):
        want = territory.distance_m(ring)
        assert distance_near_m(territory, ring) == want
        got = within_m(territory, ring, "zone", 102e3)
        if got is None:
            assert want >= 51e3
        else:
            near += 1
            assert got == want < 51e3
    assert near >= 5


def _synthetic_cycles(n_tracks=40, n_cycles=12, seed=21):
    """Cycles of released tracks aimed around Korea and Japan: predictions jittering by
    hundreds of metres to 20 km, ellipses growing and shrinking, a prediction missing
    for a cycle (the predictor failing), tentative tracks, and tracks ending (lost)."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(33.0, 42.0, n_tracks)
    lon = rng.uniform(126.0, 142.0, n_tracks)
    sigma = rng.uniform(1e3, 30e3, n_tracks)
    sub = np.column_stack([rng.uniform(36.0, 41.0, n_tracks), rng.uniform(124.0, 130.0, n_tracks)])
    cycles = []
    for c in range(n_cycles):
        tracks = []
        for k in range(n_tracks):
            if c >= 9 and k % 7 == 0:
                continue  # ended earlier: silent from here on
            jump = 0.2 if rng.random() < 0.05 else 0.002
            status = (
                "lost"
                if (c == 8 and k % 7 == 0)
                else ("tentative" if k % 11 == 0 and c < 3 else "confirmed")
            )
            msg = _track(
                k + 1, float(lat[k] + rng.normal(0, jump)), float(lon[k] + rng.normal(0, jump)),
                float(sigma[k] * rng.uniform(0.7, 1.3)), float(rng.uniform(0, 180)),
                sub=(float(sub[k, 0]), float(sub[k, 1])), h_m=200e3 - 10e3 * c, status=status,
                impact=not (c == 5 and k % 5 == 0),
            )  # fmt: skip
            tracks.append(
                msgspec.structs.replace(msg, measured_ns=msg.measured_ns + c * 500_000_000)
            )
        cycles.append((1_799_999_700_000_000_000 + c * 500_000_000, tracks))
    return cycles


@pytest.mark.parametrize("hold_s", [WarningRules().stand_down_hold_s, 1.0])
def test_fast_and_reference_warners_agree_on_synthetic_cycles(scenario, hold_s):
    # 12 cycles are 6 s: with a 1-s stand-down hold the stand-downs are sent too
    cycles = _synthetic_cycles()
    sent, stand_downs = {}, {}
    for fast in (True, False):
        warner = make_warner(scenario, WarningRules(stand_down_hold_s=hold_s))
        warner.fast = fast
        out, prior = [], {}
        stand_downs[fast] = 0
        for t_ns, tracks in cycles:
            for partner in ("KOR", "JPN", "USA"):
                mine = [msgspec.structs.replace(m, releasability=(partner,)) for m in tracks]
                for e in warner.events(partner, mine, t_ns):
                    out.append(msgspec.msgpack.encode(warning_message(e)))
                    last = prior.get((partner, e.track_id))
                    if last is not None and e.msg_type == "Update":
                        stand_downs[fast] += severity_change(*last, e.level, e.assessment) < 0
                    prior[(partner, e.track_id)] = (e.level, e.assessment)
        sent[fast] = out
    assert len(sent[True]) > 120
    assert sent[True] == sent[False]
    assert (stand_downs[True] > 0) == (hold_s < 6.0)  # sent only within the 6 s of cycles


def test_held_threat_bound_is_never_below_the_distance():
    """The held-threat shortcut: the compiled distance from the 3-sigma ring to one zone
    segment is an upper bound on Territory.distance_m (and equals it, to round-off, for
    the nearest segment, which is what makes the shortcut work)."""
    from trilink.alerts.batch import Product, ring_parameter
    from trilink.alerts.footprints import _segments, _upper_bound_m, _within
    from trilink.geo.kernels_geodesic import ring_segment_bound
    from trilink.geo.wgs84 import E2, A, F

    territory = load_territory("JPN")
    _, seg = _segments(territory, "zone")
    rng = np.random.default_rng(8)
    checked = 0
    for lat, lon, a in zip(
        rng.uniform(30.0, 45.0, 80),
        rng.uniform(128.0, 146.0, 80),
        rng.uniform(1e3, 30e3, 80),
        strict=True,
    ):
        imp = ImpactPrediction(
            math.radians(lat), math.radians(lon), 0, 1.0, a, a / 2, float(lat % 3)
        )
        ring = rings([imp], 3.0)[0]
        d, nearest = _within(territory, ring, "zone", 400e3)
        if d is None or nearest is None or d == 0.0:
            continue
        assert d == territory.distance_m(ring)
        product = Product(
            dataclasses.replace(threat_from_system_track(_track(1, lat, lon, a, 0.0)), impact=imp),
            True,
        )
        bound = _upper_bound_m(territory, product, nearest, 3.0)
        assert d <= bound <= d + 1.0 + 1e-6
        cos_t, sin_t = ring_parameter(72)
        for j in rng.integers(0, len(seg), 20):
            lon0, lat0, lon1, lat1 = np.radians(seg[j])
            other = ring_segment_bound(
                imp.lat_rad, imp.lon_rad, imp.semi_major_m, imp.semi_minor_m, imp.orientation_rad,
                3.0, cos_t, sin_t, np.array([lat0, lon0, lat1, lon1]), np.array([A, F, E2]),
            )  # fmt: skip
            assert other >= d - 1e-6
        checked += 1
    assert checked >= 5


@pytest.fixture(scope="module")
def territories():
    return {n: load_territory(n) for n in ("JPN", "KOR", "USA")}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sub=st.tuples(st.floats(15.0, 60.0), st.floats(110.0, 179.0)),
    aim=st.tuples(st.floats(15.0, 60.0), st.floats(110.0, 200.0)),
    sigma=st.floats(100.0, 80e3),
    az=st.floats(0.0, 179.9),
)
def test_batch_facts_equal_the_reference_anywhere(territories, sub, aim, sigma, az):
    """Property: wherever a track flies and aims (NE Asia to across the antimeridian,
    ellipses of 100 m to 80 km), the bounding-box shortcuts give the reference's facts."""
    lon = aim[1] if aim[1] <= 180.0 else aim[1] - 360.0
    msg = _track(1, aim[0], lon, sigma, az, sub=sub)
    rules = WarningRules()
    (product,) = threat_products([msg], rules)
    ref = threat_from_system_track(msg)
    for territory in territories.values():
        (fact,) = footprints([product], territory, rules)
        want = footprint(ref, territory, rules)
        assert fact is not None
        assert (fact.overflight, fact.place, fact.nominal) == (
            want.overflight,
            want.place,
            want.nominal,
        )
        assert fact.beyond(50e3) == want.beyond(50e3)
