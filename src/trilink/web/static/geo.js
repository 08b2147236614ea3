// Geometry the page draws with: ellipse rings and great-circle paths, in degrees.
//
// Ellipses follow trilink.alerts.ellipse: one-sigma axes a >= b (metres), the major axis's
// azimuth clockwise from north; the k-sigma contour (k = 2.4477 holds 95 % of a 2-D
// Gaussian) is the set of east/north offsets k (a cos t u + b sin t w) with u the major
// and w the minor axis direction. Each offset is placed at its distance and azimuth from
// the centre (the azimuthal-equidistant map, as the server-side exports do with exact
// geodesics) along a great circle of the sphere that osculates the ellipsoid in that
// direction; tests/web checks the ring against trilink.alerts.ellipse.ellipse_ring.
"use strict";
(function () {
  const A = 6378137.0; // WGS84 semi-major axis, m
  const F = 1 / 298.257223563;
  const E2 = F * (2 - F);
  const DEG = Math.PI / 180;
  const K95 = Math.sqrt(-2 * Math.log(1 - 0.95)); // 2.4477

  function radii(latDeg) {
    const s = Math.sin(latDeg * DEG);
    const w = Math.sqrt(1 - E2 * s * s);
    return { M: (A * (1 - E2)) / (w * w * w), N: A / w };
  }

  // The point at distance d (m) and azimuth az (rad) from (lat, lon) (deg). A great circle
  // on a sphere of Euler's radius R = M N / (N cos^2 az + M sin^2 az) (the ellipsoid's
  // curvature in that direction) carries the second-order terms a flat east/north offset
  // drops (~d^2 tan(lat) / 2R: 0.3 % at 40 km, 41 deg N); its latitude and longitude
  // steps are then rescaled by R/M and R/N so that the first-order step is the
  // ellipsoid's (north d cos az = M dlat, east d sin az = N cos lat dlon).
  function destination(lat, lon, d, az) {
    const { M, N } = radii(lat);
    const c = Math.cos(az), s = Math.sin(az);
    const R = (M * N) / (N * c * c + M * s * s);
    const delta = d / R;
    const p1 = lat * DEG;
    const sp2 = Math.sin(p1) * Math.cos(delta) + Math.cos(p1) * Math.sin(delta) * c;
    const p2 = Math.asin(Math.min(1, Math.max(-1, sp2)));
    const dl = Math.atan2(s * Math.sin(delta) * Math.cos(p1), Math.cos(delta) - Math.sin(p1) * sp2);
    return [lat + ((p2 - p1) * R) / M / DEG, lon + (dl * R) / N / DEG];
  }

  // Closed ring [[lat, lon], ...] (n + 1 points) of the k-sigma ellipse.
  function ellipseRing(lat, lon, aM, bM, azDeg, k, n) {
    n = n || 72;
    const az = azDeg * DEG;
    const ue = Math.sin(az), un = Math.cos(az); // major axis (east, north)
    const we = Math.cos(az), wn = -Math.sin(az); // minor axis, 90 deg clockwise
    const ring = [];
    for (let i = 0; i <= n; i++) {
      const t = (2 * Math.PI * (i % n)) / n;
      const e = k * (aM * Math.cos(t) * ue - bM * Math.sin(t) * we);
      const nn = k * (aM * Math.cos(t) * un - bM * Math.sin(t) * wn);
      ring.push(destination(lat, lon, Math.hypot(e, nn), Math.atan2(e, nn)));
    }
    return ring;
  }

  function toVec(lat, lon) {
    const p = lat * DEG, l = lon * DEG;
    return [Math.cos(p) * Math.cos(l), Math.cos(p) * Math.sin(l), Math.sin(p)];
  }

  // n + 1 points along the great circle from (lat1, lon1) to (lat2, lon2) (spherical
  // interpolation): the ground path of a ballistic flight, to the Coriolis drift.
  function greatCircle(lat1, lon1, lat2, lon2, n) {
    n = n || 32;
    const a = toVec(lat1, lon1), b = toVec(lat2, lon2);
    const dot = Math.min(1, Math.max(-1, a[0] * b[0] + a[1] * b[1] + a[2] * b[2]));
    const om = Math.acos(dot);
    if (om < 1e-9) return [[lat1, lon1], [lat2, lon2]];
    const out = [];
    for (let i = 0; i <= n; i++) {
      const f = i / n;
      const s1 = Math.sin((1 - f) * om) / Math.sin(om), s2 = Math.sin(f * om) / Math.sin(om);
      const x = s1 * a[0] + s2 * b[0], y = s1 * a[1] + s2 * b[1], z = s1 * a[2] + s2 * b[2];
      let lon = Math.atan2(y, x) / DEG;
      if (out.length) { // keep longitudes continuous for Leaflet
        const prev = out[out.length - 1][1];
        lon += 360 * Math.round((prev - lon) / 360);
      }
      out.push([Math.atan2(z, Math.hypot(x, y)) / DEG, lon]);
    }
    return out;
  }

  // ---- ballistic path (vacuum, J2) ------------------------------------------------
  // The same model as trilink.physics.propagate's vacuum coast: point mass + J2 gravity
  // (Vallado eq. 8-30) in the inertial frame aligned with ECEF at the state's epoch,
  // classical RK4; positions are rotated back into ECEF at each step. No drag: the path
  // drawn for a re-entering warhead ends a little beyond where the air would stop it.
  const GM = 3.986004418e14, J2 = 1.08263e-3, OMEGA = 7.292115e-5, B = A * (1 - F); // as trilink.geo.wgs84

  function gravity(x, y, z) {
    const r2 = x * x + y * y + z * z, rn = Math.sqrt(r2), zr2 = (z * z) / r2;
    const k = (1.5 * J2 * GM * A * A) / (r2 * r2 * rn), mu = GM / (r2 * rn);
    return [-mu * x - k * x * (1 - 5 * zr2), -mu * y - k * y * (1 - 5 * zr2), -mu * z - k * z * (3 - 5 * zr2)];
  }

  // Height above the ellipsoid along the geocentric radius (exactly 0 on it).
  function radialHeight(x, y, z) {
    const r2 = x * x + y * y + z * z, s2 = (z * z) / r2;
    return Math.sqrt(r2) - (A * B) / Math.sqrt(B * B * (1 - s2) + A * A * s2);
  }

  // ECEF (m) -> [lat deg, lon deg, h m] (Bowring's start, two fixed-point refinements).
  function geodetic(x, y, z) {
    const p = Math.hypot(x, y), lon = Math.atan2(y, x);
    let lat = Math.atan2(z, p * (1 - E2)), h = 0;
    for (let i = 0; i < 3; i++) {
      const s = Math.sin(lat), N = A / Math.sqrt(1 - E2 * s * s);
      h = Math.abs(Math.cos(lat)) > 1e-9 ? p / Math.cos(lat) - N : Math.abs(z) - N * (1 - E2);
      lat = Math.atan2(z, p * (1 - (E2 * N) / (N + h)));
    }
    return [lat / DEG, lon / DEG, h];
  }

  // Points [lat, lon, h] every stepS from an ECEF state [x, y, z, vx, vy, vz] (m, m/s)
  // to the ground (the last point interpolated onto it) or for at most maxS seconds.
  function ballisticPath(state, stepS, maxS) {
    stepS = stepS || 2; maxS = maxS || 3600;
    let r = state.slice(0, 3);
    let v = [state[3] - OMEGA * state[1], state[4] + OMEGA * state[0], state[5]]; // + w x r
    const out = [geodetic(r[0], r[1], r[2])];
    let hPrev = radialHeight(r[0], r[1], r[2]);
    const acc = (p) => gravity(p[0], p[1], p[2]);
    const add = (a, b, k) => [a[0] + k * b[0], a[1] + k * b[1], a[2] + k * b[2]];
    for (let t = stepS; t <= maxS + 1e-9; t += stepS) {
      const h = stepS;
      const a1 = acc(r), r2 = add(r, v, h / 2), v2 = add(v, a1, h / 2);
      const a2 = acc(r2), r3 = add(r, v2, h / 2), v3 = add(v, a2, h / 2);
      const a3 = acc(r3), r4 = add(r, v3, h), v4 = add(v, a3, h);
      const a4 = acc(r4);
      const rn = [0, 1, 2].map((i) => r[i] + (h / 6) * (v[i] + 2 * v2[i] + 2 * v3[i] + v4[i]));
      const vn = [0, 1, 2].map((i) => v[i] + (h / 6) * (a1[i] + 2 * a2[i] + 2 * a3[i] + a4[i]));
      const hNew = radialHeight(rn[0], rn[1], rn[2]);
      // a step that reaches the ground ends the path there (linear within the step)
      const f = hNew <= 0 ? hPrev / (hPrev - hNew) : 1;
      const ri = add(r, [rn[0] - r[0], rn[1] - r[1], rn[2] - r[2]], f);
      const th = OMEGA * (t - h + f * h), c = Math.cos(th), sn = Math.sin(th);
      const g = geodetic(c * ri[0] + sn * ri[1], -sn * ri[0] + c * ri[1], ri[2]); // Rz(-wt)
      g[1] += 360 * Math.round((out[out.length - 1][1] - g[1]) / 360); // continuous for Leaflet
      if (hNew <= 0) { out.push([g[0], g[1], 0]); return out; }
      out.push(g);
      r = rn; v = vn; hPrev = hNew;
    }
    return out;
  }

  function pad(v) { return String(v).padStart(2, "0"); }

  // "T-04:32" style countdown from seconds (negative: passed).
  function countdown(s) {
    const sign = s < 0 ? "+" : "\u2212";
    const a = Math.abs(Math.round(s));
    const h = Math.floor(a / 3600), m = Math.floor((a % 3600) / 60), sec = a % 60;
    return "T" + sign + (h ? h + ":" + pad(m) : pad(m)) + ":" + pad(sec);
  }

  function utc(ms) {
    if (ms === null || ms === undefined) return "--:--:--";
    const d = new Date(ms);
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }

  window.TrilinkGeo = { K95, radii, destination, ellipseRing, geodetic, ballisticPath, greatCircle, countdown, utc };
})();
