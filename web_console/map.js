// redband console, the map: an offline SVG of the operator's part of the city (no tiles, no CDN) with the open
// incidents on it. Loaded before app.js, whose state, labels and selection it uses when called.
"use strict";

let project = null;

function drawMap() {
  const svg = $("map");
  const m = state.welcome.map;
  const pts = [...m.sites.map((s) => [s.lat, s.lon]), ...m.precincts.filter((p) => p.bounds)
    .flatMap((p) => [[p.bounds[0], p.bounds[1]], [p.bounds[2], p.bounds[3]]])];
  if (!pts.length) { svg.replaceChildren(); return; }
  const lats = pts.map((p) => p[0]), lons = pts.map((p) => p[1]);
  const [la0, la1, lo0, lo1] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  const sx = 380 / Math.max(1e-6, lo1 - lo0), sy = 280 / Math.max(1e-6, la1 - la0);
  project = (lat, lon) => [10 + (lon - lo0) * sx, 290 - (lat - la0) * sy];
  const ns = "http://www.w3.org/2000/svg";
  const el = (tag, attrs) => { const e = document.createElementNS(ns, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; };
  const layer = [];
  for (const p of m.precincts) {
    if (!p.bounds) continue;
    const [x0, y0] = project(p.bounds[0], p.bounds[1]), [x1, y1] = project(p.bounds[2], p.bounds[3]);
    layer.push(el("rect", { class: "precinct", x: Math.min(x0, x1), y: Math.min(y0, y1), width: Math.abs(x1 - x0), height: Math.abs(y1 - y0) }));
    const name = el("text", { x: Math.min(x0, x1) + 3, y: Math.min(y0, y1) + 10 });
    name.textContent = p.id;
    layer.push(name);
  }
  for (const d of m.devices) {
    const [x, y] = project(d.lat, d.lon);
    const c = el("circle", { class: "device", cx: x, cy: y, r: 1.5, "data-id": d.id });
    c.appendChild(el("title", {})).textContent = `${d.id} · ${label("devices", d.kind)}`;
    layer.push(c);
  }
  for (const s of m.sites) {
    const [x, y] = project(s.lat, s.lon);
    const c = el("circle", { class: "site", cx: x, cy: y, r: 3 });
    c.appendChild(el("title", {})).textContent = `${s.id} ${s.name} · ${label("sites", s.kind)}`;
    layer.push(c);
  }
  layer.push(el("g", { id: "incident-layer" }));
  svg.replaceChildren(...layer);
  drawIncidents();
}

function drawIncidents() {
  const g = document.getElementById("incident-layer");
  if (!g || !project) return;
  const ns = "http://www.w3.org/2000/svg";
  g.replaceChildren(...sortedOpen().filter((i) => i.kind !== "device.offline").map((i) => {
    const [x, y] = project(i.lat, i.lon);
    const c = document.createElementNS(ns, "circle");
    c.setAttribute("class", `incident${i.id === state.selected ? " selected" : ""}`);
    c.setAttribute("cx", x); c.setAttribute("cy", y); c.setAttribute("r", 6);
    c.dataset.id = i.id;
    c.addEventListener("click", () => select(i.id));
    return c;
  }));
}
