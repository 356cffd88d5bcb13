// Understudy status page: polls the admin API and renders it. Plain
// JavaScript, no dependencies. Data from the API is only ever put into the
// page as text (textContent), never as HTML.
"use strict";

const REFRESH_MS = 2000;
const API = "../v1/";
// HISTORY is how many pool samples the chart keeps (10 minutes at 2 s).
const HISTORY = 300;

const poolHistory = new Map(); // region -> [{t, active, standby, target}]
let refreshes = 0;

// get fetches one API path. It resolves to the decoded body, to null when
// the endpoint does not exist on this coordinator (404 on the path itself),
// and rejects on other errors.
async function get(path) {
  const resp = await fetch(API + path, { headers: { Accept: "application/json" }, cache: "no-store" });
  if (resp.status === 404) {
    return null;
  }
  if (!resp.ok) {
    let msg = resp.status + " " + resp.statusText;
    try { msg = (await resp.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new Error(path + ": " + msg);
  }
  return resp.json();
}

// el builds an element with attributes and children (strings become text).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "field") e.dataset.field = v;
    else if (k === "key") e.dataset.key = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function badge(text, kind) {
  return el("span", { class: "badge " + kind }, text);
}

const STATUS_KIND = {
  alive: "ok", passing: "ok", leader: "info",
  warning: "warn", suspect: "warn", candidate: "warn",
  failed: "bad", dead: "bad", critical: "bad",
  left: "idle", follower: "idle",
};

function statusBadge(s) {
  return badge(s || "unknown", STATUS_KIND[s] || "idle");
}

// fill replaces a table's body with rows, or a single "empty" row.
function fill(tableId, rows, emptyText) {
  const tbody = document.querySelector("#" + tableId + " tbody");
  const cols = document.querySelectorAll("#" + tableId + " thead th").length;
  if (rows.length === 0) {
    tbody.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: cols }, emptyText)));
    return;
  }
  tbody.replaceChildren(...rows);
}

function ago(ms) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return s + " s ago";
  if (s < 90 * 60) return Math.round(s / 60) + " min ago";
  if (s < 36 * 3600) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

function timeCell(ms, field) {
  return el("td", { field, title: ms ? new Date(ms).toISOString() : "" }, ago(ms));
}

function duration(ms) {
  if (ms === undefined || ms === null) return "";
  if (ms < 1000) return ms + " ms";
  if (ms < 120000) return (ms / 1000).toFixed(1) + " s";
  return Math.round(ms / 60000) + " min";
}

function renderCluster(peers, members) {
  fill("peers-table", (peers || []).map((p) => el("tr", { key: p.id },
    el("td", { field: "id" }, p.id),
    el("td", { field: "address", class: "mono" }, p.address),
    el("td", { field: "role" }, statusBadge(p.leader ? "leader" : "follower")),
    el("td", { field: "voter" }, p.voter ? "yes" : "no"),
  )), "no Raft configuration yet");
  const sorted = (members || []).slice().sort((a, b) =>
    (a.kind === b.kind ? 0 : a.kind === "coordinator" ? -1 : 1) || a.name.localeCompare(b.name));
  fill("members-table", sorted.map((m) => el("tr", { key: m.name },
    el("td", { field: "name" }, m.name),
    el("td", { field: "kind" }, m.kind),
    el("td", { field: "region" }, m.region || ""),
    el("td", { field: "state" }, statusBadge(m.state)),
    el("td", { field: "version", class: "muted" }, m.version || ""),
  )), "no members");
}

function renderHosts(hosts, services) {
  const primaryFor = new Map();
  for (const s of services || []) {
    if (!s.primary) continue;
    if (!primaryFor.has(s.primary)) primaryFor.set(s.primary, []);
    primaryFor.get(s.primary).push(s.name);
  }
  const rows = (hosts || []).slice().sort((a, b) => a.name.localeCompare(b.name)).map((h) => el("tr", { key: h.name },
    el("td", { field: "name" }, h.name),
    el("td", { field: "region" }, h.region),
    el("td", { field: "role" }, h.role),
    el("td", { field: "status", title: h.status_since ? "since " + new Date(h.status_since).toISOString() : "" },
      statusBadge(h.status), h.fenced ? [" ", badge("fenced", "bad")] : null),
    el("td", { field: "address", class: "mono" }, h.address),
    el("td", { field: "primary", class: "wrap" }, (primaryFor.get(h.name) || []).sort().join(", ")),
    el("td", { field: "version", class: "muted" }, h.version || ""),
  ));
  fill("hosts-table", rows, "no hosts registered");
}

function renderServices(services) {
  const rows = (services || []).slice().sort((a, b) => a.name.localeCompare(b.name)).map((s) => {
    const insts = s.instances || [];
    const primary = insts.find((i) => i.primary && i.host === s.primary);
    const standbys = insts.filter((i) => i.host !== s.primary);
    return el("tr", { key: s.name },
      el("td", { field: "name" }, s.name),
      el("td", { field: "primary" }, s.primary || badge("none", "bad")),
      el("td", { field: "health" }, primary ? statusBadge(primary.health) : badge("no primary", "bad"),
        primary && primary.running ? [" ", badge("running", "info")] : null),
      el("td", { field: "epoch", class: "mono" }, String(s.epoch)),
      el("td", { field: "standbys", class: "wrap" }, standbys.length === 0 ? el("span", { class: "muted" }, "none") :
        standbys.map((i) => el("span", { class: "standby", "data-host": i.host, "data-health": i.health },
          i.host, statusBadge(i.health), i.fenced ? badge("fenced", "bad") : null))),
      timeCell(s.last_failover, "last-failover"),
    );
  });
  fill("services-table", rows, "no services registered");
}

function renderDatasets(datasets) {
  const section = document.getElementById("datasets");
  if (datasets === null) { section.hidden = true; return; }
  section.hidden = false;
  const rows = datasets.slice().sort((a, b) =>
    a.dataset.localeCompare(b.dataset) || (a.replica === b.replica ? a.host.localeCompare(b.host) : a.replica === "source" ? -1 : 1))
    .map((d) => {
      let state = badge("fresh", "ok");
      if (d.last_error) state = badge("error", "bad");
      else if (d.stale) state = badge("stale", "warn");
      const drill = d.last_drill ? [ago(d.last_drill), " ", d.drill_ok ? badge(duration(d.drill_ms), "ok") : badge("failed", "bad")] : "never";
      return el("tr", { key: d.host + "/" + d.dataset },
        el("td", { field: "dataset", class: "wrap" }, d.dataset, d.class ? el("span", { class: "muted" }, " (" + d.class + ")") : null),
        el("td", { field: "host" }, d.host),
        el("td", { field: "replica" }, d.replica),
        timeCell(d.last_snapshot, "last-snapshot"),
        el("td", { field: "lag" }, d.replica === "mirror" ? duration(d.lag_ms || 0) : ""),
        timeCell(d.last_archive, "last-archive"),
        el("td", { field: "drill" }, drill),
        el("td", { field: "state", title: d.last_error || "" }, state),
      );
    });
  fill("datasets-table", rows, "no dataset reports yet");
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

// chart draws a pool's history: active, ready standby and target over time.
function chart(samples, maxServers) {
  const W = 600, H = 150, L = 28, R = 8, T = 8, B = 18;
  const s = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img" });
  const now = Date.now();
  const span = Math.max(10000, now - (samples.length ? samples[0].t : now));
  let top = 1;
  for (const p of samples) top = Math.max(top, p.active, p.standby, p.target);
  if (maxServers && maxServers <= top * 1.5) top = Math.max(top, maxServers);
  top = Math.ceil(top * 1.15);
  const x = (t) => L + (W - L - R) * (1 - (now - t) / span);
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const step = Math.max(1, Math.ceil(top / 4));
  for (let v = 0; v <= top; v += step) {
    s.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    const label = svg("text", { class: "axis", x: L - 4, y: y(v) + 3, "text-anchor": "end" });
    label.textContent = String(v);
    s.append(label);
  }
  const ageLabel = svg("text", { class: "axis", x: L, y: H - 4 });
  ageLabel.textContent = "−" + Math.round(span / 1000) + " s";
  s.append(ageLabel);
  const nowLabel = svg("text", { class: "axis", x: W - R, y: H - 4, "text-anchor": "end" });
  nowLabel.textContent = "now";
  s.append(nowLabel);
  // Lines at the same level are drawn a little apart so that none hides
  // another; the dashed target goes on top.
  const offset = { active: -2, standby: 2, target: 0 };
  for (const series of ["active", "standby", "target"]) {
    // Step lines: a level holds until the next sample.
    const at = (v) => (y(v) + offset[series]).toFixed(1);
    const pts = [];
    samples.forEach((p, i) => {
      if (i > 0) pts.push(`${x(p.t).toFixed(1)},${at(samples[i - 1][series])}`);
      pts.push(`${x(p.t).toFixed(1)},${at(p[series])}`);
    });
    if (samples.length) pts.push(`${x(now).toFixed(1)},${at(samples[samples.length - 1][series])}`);
    s.append(svg("polyline", { class: series, points: pts.join(" "), "data-series": series }));
  }
  return s;
}

function renderPools(pools) {
  const section = document.getElementById("pools");
  if (pools === null) { section.hidden = true; return; }
  section.hidden = false;
  const now = Date.now();
  const list = document.getElementById("pools-list");
  if (pools.length === 0) {
    list.replaceChildren(el("p", { class: "muted" }, "No standby pools: set a region's policy with ", el("code", {}, "pool set REGION"), "."));
    return;
  }
  const cards = pools.slice().sort((a, b) => a.region.localeCompare(b.region)).map((p) => {
    let h = poolHistory.get(p.region);
    if (!h) { h = []; poolHistory.set(p.region, h); }
    h.push({ t: now, active: p.active, standby: p.ready, target: p.target });
    if (h.length > HISTORY) h.splice(0, h.length - HISTORY);
    const pol = p.policy || {};
    return el("div", { class: "pool", key: p.region },
      el("h3", {}, p.region, p.state && p.state.raised ? [" ", badge("raised ×" + p.state.multiplier, "warn")] : null),
      el("div", { class: "figures" },
        el("span", {}, "active ", el("b", { "data-field": "active" }, String(p.active))),
        el("span", {}, "standby ready ", el("b", { "data-field": "ready" }, String(p.ready))),
        el("span", {}, "target ", el("b", { "data-field": "target" }, String(p.target))),
        el("span", {}, "booting ", el("b", { "data-field": "booting" }, String(p.booting))),
        el("span", {}, "floor ", el("b", {}, String(pol.standby_floor ?? ""))),
        el("span", {}, "max servers ", el("b", {}, String(pol.max_servers ?? ""))),
        el("span", {}, "allocated ", el("b", { "data-field": "allocated" }, String((p.allocations || []).length))),
      ),
      chart(h, pol.max_servers),
      el("div", { class: "legend" },
        el("span", {}, el("i", { class: "active" }), "active"),
        el("span", {}, el("i", { class: "standby" }), "standby ready"),
        el("span", {}, el("i", { class: "target" }), "target"),
      ),
    );
  });
  list.replaceChildren(...cards);
}

function renderEvents(promotions) {
  const recent = (promotions || []).slice(-50).reverse();
  fill("events-table", recent.map((p) => el("tr", { key: p.service + "@" + p.epoch },
    timeCell(p.at, "at"),
    el("td", { field: "service" }, p.service),
    el("td", { field: "from" }, p.from || ""),
    el("td", { field: "to" }, p.to),
    el("td", { field: "epoch", class: "mono" }, String(p.epoch)),
    el("td", { field: "kind" }, p.planned ? badge("planned", "info") : badge("automatic", "warn")),
    el("td", { field: "reason", class: "muted wrap" }, p.reason || ""),
  )), "no promotions yet");
}

function renderSummary(peers, hosts, services) {
  const leader = (peers || []).find((p) => p.leader);
  const alive = (hosts || []).filter((h) => h.status === "alive").length;
  const healthy = (services || []).filter((s) =>
    (s.instances || []).some((i) => i.primary && i.host === s.primary && i.health === "passing")).length;
  const part = (label, value, field) => el("span", {}, label + " ", el("b", { "data-field": field }, value));
  document.getElementById("summary").replaceChildren(
    part("leader", leader ? leader.id : "none", "leader"),
    part("coordinators", String((peers || []).length), "coordinators"),
    part("hosts alive", alive + "/" + (hosts || []).length, "hosts"),
    part("services serving", healthy + "/" + (services || []).length, "services"),
  );
}

function setConn(state, text) {
  const c = document.getElementById("conn");
  c.dataset.state = state;
  c.textContent = text;
}

const ENDPOINTS = ["peers", "members", "hosts", "services", "promotions", "pools", "datasets"];

// refresh reads every endpoint and redraws the sections whose data
// arrived; a section whose endpoint failed keeps its last picture.
async function refresh() {
  try {
    const results = await Promise.allSettled(ENDPOINTS.map(get));
    const d = {};
    const errors = [];
    results.forEach((r, i) => {
      if (r.status === "fulfilled") d[ENDPOINTS[i]] = r.value;
      else errors.push(r.reason.message);
    });
    const has = (...names) => names.every((n) => n in d);
    if (has("peers", "hosts", "services")) renderSummary(d.peers, d.hosts, d.services);
    if (has("peers", "members")) renderCluster(d.peers, d.members);
    if (has("hosts", "services")) renderHosts(d.hosts, d.services);
    if (has("services")) renderServices(d.services);
    if (has("datasets")) renderDatasets(d.datasets);
    if (has("pools")) renderPools(d.pools);
    if (has("promotions")) renderEvents(d.promotions);
    refreshes++;
    document.body.dataset.refreshes = String(refreshes);
    if (errors.length) setConn("error", errors.join("; "));
    else setConn("ok", "updated " + new Date().toLocaleTimeString());
  } catch (err) {
    setConn("error", "cannot reach the API: " + err.message);
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

refresh();
