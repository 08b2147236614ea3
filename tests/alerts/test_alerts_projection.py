"""Azimuthal equidistant projections against PROJ and geographiclib."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from trilink.alerts.projection import aeqd_forward, aeqd_inverse, aeqd_sphere_forward, wrap_pi
from trilink.geo.geodesic import geodesic_inverse

MM = 1e-3


def test_ellipsoidal_aeqd_matches_proj_to_the_millimetre():
    rng = np.random.default_rng(7)
    centre_deg = (36.0, 138.0)
    pts_deg = np.column_stack([rng.uniform(20, 50, 200), rng.uniform(120, 160, 200)])
    proj = Transformer.from_crs(
        "EPSG:4326",
        f"+proj=aeqd +lat_0={centre_deg[0]} +lon_0={centre_deg[1]} +ellps=WGS84 +units=m",
        always_xy=True,
    )
    x, y = proj.transform(pts_deg[:, 1], pts_deg[:, 0])
    mine = aeqd_forward(np.radians(pts_deg), np.radians(centre_deg))
    np.testing.assert_allclose(mine, np.column_stack([x, y]), atol=1 * MM)


@settings(max_examples=60, deadline=None)
@given(
    lat0=st.floats(-80, 80),
    lon0=st.floats(-180, 180),
    x=st.floats(-1.5e6, 1.5e6),
    y=st.floats(-1.5e6, 1.5e6),
)
def test_inverse_then_forward_round_trips(lat0, lon0, x, y):
    centre = np.radians([lat0, lon0])
    latlon = aeqd_inverse(np.array([x, y]), centre)
    np.testing.assert_allclose(aeqd_forward(latlon, centre), [x, y], atol=1 * MM)
    # Unrolled longitude stays within half a turn of the centre's.
    assert abs(latlon[1] - centre[1]) <= math.pi


def test_spherical_aeqd_distance_within_quarter_percent_of_geodesic():
    rng = np.random.default_rng(11)
    centre = np.radians([38.0, 132.0])
    pts = np.column_stack([rng.uniform(33, 43, 300), rng.uniform(126, 138, 300)])
    xy = aeqd_sphere_forward(np.radians(pts), centre)
    s, az, _ = geodesic_inverse(centre[0], centre[1], np.radians(pts[:, 0]), np.radians(pts[:, 1]))
    rel = np.abs(np.hypot(xy[:, 0], xy[:, 1]) / s - 1.0)
    assert rel.max() < 2.5e-3
    # Azimuths agree too (spherical vs ellipsoidal: a fraction of a degree).
    dz = np.abs(wrap_pi(np.arctan2(xy[:, 0], xy[:, 1]) - az))
    assert np.degrees(dz).max() < 0.25


def test_wrap_pi_range():
    a = wrap_pi(np.array([math.pi, -math.pi, 3 * math.pi + 0.1, -0.1]))
    np.testing.assert_allclose(a, [-math.pi, -math.pi, -math.pi + 0.1, -0.1])
