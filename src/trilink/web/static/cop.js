// trilink COP page: one partner's released picture, live over a WebSocket.
//
// Protocol (docs/web.md): the server sends {"type": "snapshot", ...} on connect, then
// {"type": "deltas", "now_ms", "items": [...]} and {"type": "clock", "now_ms", "speed"}.
// The page keeps no state the snapshot cannot rebuild: on every (re)connection it
// clears everything and redraws from the snapshot.
"use strict";
(function () {
  const G = window.TrilinkGeo;
  const partner = document.body.dataset.partner;
  const THEATRE = [[27.5, 119.0], [46.5, 147.0]]; // Korea, Japan and the seas between
  const PHASE_COLOUR = { boost: "#ffb020", ballistic: "#ff7a3d", reentry: "#ff3355", unknown: "#b8c4cf" };

  // ---- map ------------------------------------------------------------------------
  const map = L.map("map", { zoomSnap: 0.25, minZoom: 2, maxZoom: 12, worldCopyJump: false });
  map.fitBounds(THEATRE);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("Natural Earth (public domain) via world-atlas · trilink");
  for (const [name, z] of [["base", 200], ["borders", 250], ["territory", 300], ["threat", 420], ["tracks", 450]]) {
    map.createPane(name).style.zIndex = z;
  }
  let userMoved = false;
  // Once the operator has touched the map, new tracks no longer move the view.
  for (const ev of ["pointerdown", "wheel"]) map.getContainer().addEventListener(ev, () => { userMoved = true; }, { passive: true });

  function graticule() {
    const lines = [];
    for (let lat = -80; lat <= 80; lat += 5) lines.push([[lat, -180], [lat, 180]]);
    for (let lon = -180; lon <= 180; lon += 5) {
      const l = []; for (let lat = -85; lat <= 85; lat += 5) l.push([lat, lon]); lines.push(l);
    }
    L.polyline(lines, { pane: "base", color: "#17324a", weight: 0.6, interactive: false }).addTo(map);
  }
  graticule();

  const notes = [];
  fetch("/data/countries-50m.json").then((r) => r.json()).then((topo) => {
    const land = topojson.feature(topo, topo.objects.countries);
    L.geoJSON(land, { pane: "base", interactive: false,
      style: { color: "#2f4559", weight: 0.5, fillColor: "#1c2a36", fillOpacity: 1 } }).addTo(map);
    const borders = topojson.mesh(topo, topo.objects.countries, (a, b) => a !== b);
    L.geoJSON(borders, { pane: "borders", interactive: false, style: { color: "#5d738a", weight: 0.8 } }).addTo(map);
  });
  fetch("/data/territory/" + encodeURIComponent(partner)).then((r) => r.json()).then((fc) => {
    if (fc.note) { notes.push(fc.note); renderStatus(); }
    const style = {
      land: { color: "#3fb6b0", weight: 0.8, fillColor: "#1d4a4c", fillOpacity: 0.9 },
      territorial: { color: "#3fb6b0", weight: 0.6, opacity: 0.6, fill: false },
      zone: { color: "#3fb6b0", weight: 1.2, dashArray: "6 5", fillColor: "#3fb6b0", fillOpacity: 0.05 },
    };
    const order = { zone: 0, territorial: 1, land: 2 };
    fc.features.sort((a, b) => order[a.properties.kind] - order[b.properties.kind]);
    L.geoJSON(fc, { pane: "territory", interactive: false, style: (f) => style[f.properties.kind] || style.zone }).addTo(map);
  });

  const legend = L.control({ position: "bottomleft" });
  legend.onAdd = () => {
    const d = L.DomUtil.create("div", "legend");
    d.innerHTML =
      '<div><i class="dash" style="border-color:#3fb6b0"></i>' + partner + " 200-nm zone</div>" +
      '<div><i class="dot" style="border-color:#ff7a3d"></i>track · trail · 1σ</div>' +
      '<div><i class="dash" style="border-color:#ff7a3d"></i>predicted path</div>' +
      '<div><i class="fill" style="border-color:#ff3355;background:rgba(255,51,85,.25)"></i>impact 95 %</div>' +
      '<div><i class="dot" style="border-color:#ffd36b"></i>launch point</div>';
    return d;
  };
  legend.addTo(map);

  // ---- state ----------------------------------------------------------------------
  const state = { tracks: new Map(), launches: new Map(), warnings: new Map(), events: [], status: null, rejected: {} };
  const layers = { tracks: new Map(), launches: new Map(), warnings: new Map() };
  const clock = { now_ms: null, perf: performance.now(), speed: 1 };
  const conn = { ws: null, attempt: 0, snapshots: 0, reconnects: 0, state: "connecting", verified: null, timer: null };

  function nowMs() {
    return clock.now_ms === null ? null : clock.now_ms + (performance.now() - clock.perf) * clock.speed;
  }
  function setClock(now_ms, speed) {
    if (now_ms === null || now_ms === undefined) return;
    clock.now_ms = now_ms; clock.perf = performance.now();
    if (speed) clock.speed = speed;
  }

  // ---- drawing --------------------------------------------------------------------
  function ellipse(gp, k, style) {
    return L.polygon(G.ellipseRing(gp.lat, gp.lon, gp.sigma_major_m, gp.sigma_minor_m, gp.azimuth_deg, k), style);
  }

  function drawTrack(t) {
    const old = layers.tracks.get(t.number);
    if (old) old.remove();
    const colour = t.status === "lost" ? "#6d7b88" : (PHASE_COLOUR[t.phase] || PHASE_COLOUR.unknown);
    const g = L.layerGroup();
    const opts = { pane: "tracks" };
    if (t.impact) {
      g.addLayer(ellipse(t.impact, G.K95, { ...opts, pane: "threat", color: "#ff3355", weight: 1.5, fillColor: "#ff3355", fillOpacity: 0.22 }));
      g.addLayer(L.circleMarker([t.impact.lat, t.impact.lon], { ...opts, pane: "threat", radius: 3, color: "#ff3355", weight: 2, fill: true, fillOpacity: 1 }));
    }
    // Predicted path: coasting (ballistic, re-entry), the vacuum J2 arc from the track's
    // state to the ground; under thrust, where no coast prediction holds, the great
    // circle to the hub's predicted impact point.
    if (t.status !== "lost" && t.phase !== "boost" && t.phase !== "unknown") {
      const path = G.ballisticPath(t.state_ecef, 5, 3600).map((p) => [p[0], p[1]]);
      g.addLayer(L.polyline(path, { ...opts, color: colour, weight: 1.5, dashArray: "5 6", opacity: 0.9 }));
    } else if (t.status !== "lost" && t.impact) {
      g.addLayer(L.polyline(G.greatCircle(t.lat, t.lon, t.impact.lat, t.impact.lon, 48), { ...opts, color: colour, weight: 1.2, dashArray: "2 7", opacity: 0.7 }));
    }
    if (t.trail.length > 1) {
      g.addLayer(L.polyline(t.trail.map((p) => [p[0], p[1]]), { ...opts, color: colour, weight: 2.5, opacity: 0.95 }));
    }
    const s = t.sigma;
    g.addLayer(L.polygon(G.ellipseRing(t.lat, t.lon, s.major_m, s.minor_m, s.azimuth_deg, 1), { ...opts, color: "#ffffff", weight: 1, fillOpacity: 0.15 }));
    const m = L.circleMarker([t.lat, t.lon], { ...opts, radius: 5, color: "#ffffff", weight: 1.5, fillColor: colour, fillOpacity: 1 });
    const label = "T" + t.number + (t.missile_class ? " " + t.missile_class : "") + " " + (t.alt_m / 1000).toFixed(0) + " km";
    m.bindTooltip(label, { permanent: true, direction: "right", offset: [8, 0], className: "trk-label" });
    g.addLayer(m);
    g.addTo(map);
    layers.tracks.set(t.number, g);
  }

  function drawLaunch(l) {
    const old = layers.launches.get(l.number);
    if (old) old.remove();
    const gp = l.launch;
    const g = L.layerGroup([
      ellipse(gp, G.K95, { pane: "threat", color: "#ffd36b", weight: 1, fillColor: "#ffd36b", fillOpacity: 0.15 }),
      L.circleMarker([gp.lat, gp.lon], { pane: "threat", radius: 4, color: "#ffd36b", weight: 2, fillColor: "#5b4300", fillOpacity: 1 })
        .bindTooltip("launch T" + l.number + " " + G.utc(gp.t_ms) + "Z", { className: "trk-label", direction: "left" }),
    ]);
    g.addTo(map);
    layers.launches.set(l.number, g);
  }

  function drawWarning(w) {
    const old = layers.warnings.get(w.id);
    if (old) { old.remove(); layers.warnings.delete(w.id); }
    if (!w.active || w.polygon.length < 4) return;
    const poly = L.polygon(w.polygon, { pane: "threat", color: "#ff3355", weight: 2.5, dashArray: "2 4", fill: false });
    poly.addTo(map);
    layers.warnings.set(w.id, poly);
  }

  function fitToPicture() {
    if (userMoved) return;
    const b = L.latLngBounds(THEATRE);
    for (const t of state.tracks.values()) {
      b.extend([t.lat, t.lon]);
      if (t.impact) b.extend([t.impact.lat, t.impact.lon]);
    }
    for (const l of state.launches.values()) b.extend([l.launch.lat, l.launch.lon]);
    if (!L.latLngBounds(THEATRE).contains(b)) map.fitBounds(b, { padding: [20, 20] });
  }

  // ---- panels ---------------------------------------------------------------------
  const el = (id) => document.getElementById(id);
  function text(tag, cls, s) { const e = document.createElement(tag); if (cls) e.className = cls; e.textContent = s; return e; }

  function renderTracks() {
    const body = el("tracks").tBodies[0];
    body.replaceChildren();
    const rows = [...state.tracks.values()].sort((a, b) => a.number - b.number);
    el("no-tracks").hidden = rows.length > 0;
    for (const t of rows) {
      const tr = document.createElement("tr");
      tr.dataset.number = t.number;
      if (t.status === "lost") tr.className = "lost";
      const ph = text("td", "", "");
      const dot = text("span", "phase", ""); dot.style.background = PHASE_COLOUR[t.phase] || PHASE_COLOUR.unknown;
      ph.append(dot, t.phase);
      tr.append(text("td", "", "T" + t.number), text("td", "", t.missile_class || "—"), ph,
        text("td", "", (t.alt_m / 1000).toFixed(1)), text("td", "", (t.speed_mps / 1000).toFixed(2)),
        text("td", "", String(t.quality)), text("td", "tti", ""));
      tr.lastChild.dataset.impact = t.impact ? t.impact.t_ms : "";
      body.append(tr);
    }
    tickTimes();
  }

  // Newest first. A run of updates to one track's warning folds into its newest line
  // ("×N"): the prediction is revised every few seconds and would bury everything else.
  function renderTimeline() {
    const ol = el("timeline");
    ol.replaceChildren();
    let prev = null, prevLi = null, folded = 1;
    for (const e of state.events.slice().reverse()) {
      if (prev && e.kind === "update" && prev.kind === "update" && e.number === prev.number) {
        folded += 1;
        prevLi.querySelector(".k").textContent = "update ×" + folded;
        continue;
      }
      const li = document.createElement("li");
      li.className = "ev-" + e.kind;
      const lat = "+" + e.latency_s.toFixed(1) + " s" + (e.since_launch_s === null ? "" : " · L+" + e.since_launch_s.toFixed(0) + " s");
      li.append(text("span", "t", G.utc(e.received_ms)), text("span", "k k-" + e.kind, e.kind.replace("_", " ")),
        text("span", "x", e.text), text("span", "lat", lat));
      ol.append(li);
      prev = e; prevLi = li; folded = 1;
    }
  }

  // The countdown runs to the newest impact time released to this partner: the warning's,
  // or its track's when the track's prediction is more recent than the warning.
  function impactOf(w) {
    const t = state.tracks.get(w.number);
    if (t && t.impact && t.t_ms > w.t_ms && t.status !== "lost") return t.impact.t_ms;
    return w.impact_ms === null ? "" : w.impact_ms;
  }

  // Threats (CAP severity Extreme/Severe) are the red MISSILE WARNING; other warnings
  // (a launch somewhere, no threat to this partner yet) an amber notice.
  const SEVERE = new Set(["Extreme", "Severe"]);
  function renderBanner() {
    const active = [...state.warnings.values()].filter((w) => w.active)
      .sort((a, b) => SEVERE.has(b.severity) - SEVERE.has(a.severity) || a.number - b.number);
    const banner = el("banner");
    banner.replaceChildren();
    banner.hidden = active.length === 0;
    banner.className = active.some((w) => SEVERE.has(w.severity)) ? "severe" : "notice";
    const MAX_LINES = 3;
    for (const w of active.slice(0, MAX_LINES)) {
      const severe = SEVERE.has(w.severity);
      const d = text("div", "warning " + (severe ? "severe" : "notice"), "");
      d.dataset.id = w.id;
      d.append(text("span", "head", severe ? "\u26A0 MISSILE WARNING" : "LAUNCH NOTICE"),
        text("span", "what", w.event + (w.area_desc ? " — " + w.area_desc : "") + " · T" + w.number + " · " + w.urgency + "/" + w.severity +
          (state.tracks.get(w.number)?.status === "lost" ? " · track lost, no all-clear received" : "")),
        text("span", "count", ""));
      d.lastChild.dataset.impact = impactOf(w);
      banner.append(d);
    }
    if (active.length > MAX_LINES) {
      banner.append(text("div", "warning more", "+ " + (active.length - MAX_LINES) + " more active (see timeline)"));
    }
    tickTimes();
  }

  function renderStatus() {
    const parts = [];
    if (state.status) parts.push("hub " + state.status.state + " · up " + state.status.uptime_s.toFixed(0) + " s");
    const rej = Object.entries(state.rejected);
    if (rej.length) parts.push("refused: " + rej.map(([k, v]) => k + " " + v).join(", "));
    parts.push(...notes);
    el("status").textContent = parts.join(" · ");
  }

  function tickTimes() {
    const now = nowMs();
    el("clock").textContent = now === null ? "--:--:--Z" : G.utc(now) + "Z";
    for (const c of document.querySelectorAll("#banner .count, #tracks td.tti")) {
      const imp = c.dataset.impact;
      if (!imp || now === null) { c.textContent = c.classList.contains("count") ? "" : "—"; continue; }
      const s = (Number(imp) - now) / 1000;
      c.textContent = s >= 0 ? G.countdown(s) : "impact " + G.countdown(s);
    }
  }
  setInterval(tickTimes, 250);

  function renderAll() { renderTracks(); renderTimeline(); renderBanner(); renderStatus(); }

  // ---- protocol -------------------------------------------------------------------
  function reset() {
    for (const kind of ["tracks", "launches", "warnings"]) {
      for (const l of layers[kind].values()) l.remove();
      layers[kind].clear();
      state[kind].clear();
    }
    state.events = []; state.status = null; state.rejected = {};
  }

  function applySnapshot(s) {
    reset();
    for (const t of s.tracks) { state.tracks.set(t.number, t); drawTrack(t); }
    for (const l of s.launches) { state.launches.set(l.number, l); drawLaunch(l); }
    for (const w of s.warnings) { state.warnings.set(w.id, w); drawWarning(w); }
    state.events = s.events; state.status = s.status; state.rejected = s.rejected;
    setClock(s.now_ms, s.speed);
    conn.verified = s.verified;
    el("verified").textContent = s.verified ? "signatures verified" : "signatures NOT verified";
    el("verified").className = "badge" + (s.verified ? "" : " unverified");
    el("speed").textContent = s.speed !== 1 ? "×" + s.speed : "";
    conn.snapshots += 1;
    renderAll();
    fitToPicture();
  }

  function applyDelta(d) {
    switch (d.type) {
      case "track": state.tracks.set(d.track.number, d.track); drawTrack(d.track); return "tracks";
      case "track_removed": { const l = layers.tracks.get(d.number); if (l) l.remove(); layers.tracks.delete(d.number); state.tracks.delete(d.number); return "tracks"; }
      case "launch": state.launches.set(d.launch.number, d.launch); drawLaunch(d.launch); return "tracks";
      case "warning": state.warnings.set(d.warning.id, d.warning); drawWarning(d.warning); return "banner";
      case "event": state.events.push(d.event); if (state.events.length > 500) state.events.shift(); return "timeline";
      case "status": state.status = d.status; return "status";
      case "rejected": state.rejected = d.rejected; return "status";
      default: return null;
    }
  }

  function onMessage(ev) {
    const m = JSON.parse(ev.data);
    if (m.type === "snapshot") { applySnapshot(m); conn.attempt = 0; setConn("live"); return; }
    if (m.type === "clock") { setClock(m.now_ms, m.speed); tickTimes(); return; }
    if (m.type === "deltas") {
      setClock(m.now_ms);
      const dirty = new Set(m.items.map(applyDelta));
      if (dirty.has("tracks")) { renderTracks(); fitToPicture(); }
      if (dirty.has("timeline")) renderTimeline();
      if (dirty.has("banner") || dirty.has("tracks")) renderBanner();
      if (dirty.has("status")) renderStatus();
    }
  }

  function setConn(s, detail) {
    conn.state = s;
    const c = el("conn");
    c.className = "conn " + s;
    c.textContent = detail ? s + " " + detail : s;
  }

  function connect() {
    conn.timer = null;
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/" + encodeURIComponent(partner);
    const ws = new WebSocket(url);
    conn.ws = ws;
    ws.onmessage = onMessage;
    ws.onclose = () => {
      if (conn.ws !== ws) return;
      conn.ws = null;
      // Exponential back-off with jitter: 0.5 s, 1 s, 2 s ... capped at 10 s.
      const delay = Math.min(10000, 500 * 2 ** conn.attempt) * (0.75 + 0.5 * Math.random());
      conn.attempt = Math.min(conn.attempt + 1, 8);
      conn.reconnects += 1;
      setConn("reconnecting", "in " + (delay / 1000).toFixed(1) + " s");
      conn.timer = setTimeout(connect, delay);
    };
  }
  connect();

  window.cop = { state, conn, map, nowMs };
})();
