// redband console, the map: an offline SVG of the operator's part of the city (no tiles, no CDN) drawn from
// welcome.map, with its legend and the open incidents on it (shaped and coloured by priority; click to select).
// One SVG unit is one screen pixel: the viewBox follows the panel's size, so labels keep their size.
// Uses app.js's globals when called: state, label(), select().
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const MAP_PAD_PX = 22;          // room for the largest marker and its pulse at the edges
const LABEL_PX = 12, PRECINCT_LABEL_PX = 13;
const PRIORITY_SIZE_PX = { 1: 9, 2: 7.5, 3: 7, 4: 5.5, 5: 5 };  // half-widths: P1 largest
const mapView = { project: null, width: 0, height: 0, sites: new Map(), precinctBoxes: [] };

function svgEl(tag, attrs = {}, title = null) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (title !== null) e.appendChild(document.createElementNS(SVG_NS, "title")).textContent = title;
  return e;
}

// The marker shape of a priority, centred on 0,0: P1 circle, P2 diamond, P3 triangle, P4 square, P5 small circle.
function priorityShape(priority) {
  const p = Math.min(5, Math.max(1, priority | 0)), s = PRIORITY_SIZE_PX[p];
  if (p === 1 || p === 5) return svgEl("circle", { class: "shape", r: s });
  if (p === 2) return svgEl("path", { class: "shape", d: `M0 ${-s}L${s} 0L0 ${s}L${-s} 0Z` });
  if (p === 3) return svgEl("path", { class: "shape", d: `M0 ${-s}L${s} ${s * 0.8}L${-s} ${s * 0.8}Z` });
  return svgEl("rect", { class: "shape", x: -s, y: -s, width: 2 * s, height: 2 * s });
}

function mapSize(svg) {
  const box = svg.getBoundingClientRect();
  return box.width > 50 && box.height > 50 ? [Math.round(box.width), Math.round(box.height)] : [400, 300];
}

function drawMap() {
  const svg = document.getElementById("map");
  if (!svg || !state.welcome) return;
  const m = state.welcome.map;
  const [width, height] = mapSize(svg);
  Object.assign(mapView, { width, height, sites: new Map(m.sites.map((s) => [s.id, s])) });
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  drawLegend(svg);
  const pts = [...m.sites, ...m.devices].map((s) => [s.lat, s.lon]).concat(m.precincts.filter((p) => p.bounds)
    .flatMap((p) => [[p.bounds[0], p.bounds[1]], [p.bounds[2], p.bounds[3]]]));
  if (!pts.length) { svg.replaceChildren(); mapView.project = null; return; }
  const lats = pts.map((p) => p[0]), lons = pts.map((p) => p[1]);
  const [la0, la1, lo0, lo1] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  const kx = Math.cos(((la0 + la1) / 2) * Math.PI / 180);  // a degree of longitude is shorter than one of latitude
  const scale = Math.min((width - 2 * MAP_PAD_PX) / Math.max(1e-6, (lo1 - lo0) * kx),
                         (height - 2 * MAP_PAD_PX) / Math.max(1e-6, la1 - la0));
  const x0 = (width - (lo1 - lo0) * kx * scale) / 2, y0 = (height + (la1 - la0) * scale) / 2;
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  mapView.project = (lat, lon) => [clamp(x0 + (lon - lo0) * kx * scale, MAP_PAD_PX, width - MAP_PAD_PX),
                                   clamp(y0 - (lat - la0) * scale, MAP_PAD_PX, height - MAP_PAD_PX)];
  const offline = new Set([...svg.querySelectorAll(".device.offline")].map((d) => d.dataset.id));  // queue.js's marks
  const base = [];
  mapView.precinctBoxes = [];
  for (const p of m.precincts) {
    if (!p.bounds) continue;
    const [xa, ya] = mapView.project(p.bounds[0], p.bounds[1]), [xb, yb] = mapView.project(p.bounds[2], p.bounds[3]);
    const box = { id: p.id, name: p.name || p.id, x: Math.min(xa, xb), y: Math.min(ya, yb),
                  w: Math.abs(xb - xa), h: Math.abs(yb - ya) };
    mapView.precinctBoxes.push(box);
    base.push(svgEl("rect", { class: "precinct", x: box.x, y: box.y, width: box.w, height: box.h, "data-id": p.id },
                    `${box.name} (${p.id})`));
  }
  for (const d of m.devices) {
    const [x, y] = mapView.project(d.lat, d.lon);
    const name = d.label ? `${d.label} · ${label("devices", d.kind)} ${d.id}` : `${label("devices", d.kind)} ${d.id}`;
    base.push(svgEl("circle", { class: offline.has(d.id) ? "device offline" : "device", cx: x, cy: y, r: 1.6,
                                "data-id": d.id }, name));
  }
  for (const s of m.sites) {
    const [x, y] = mapView.project(s.lat, s.lon);
    base.push(svgEl("circle", { class: "site", cx: x, cy: y, r: 3.5, "data-id": s.id }, siteText(s)));
  }
  svg.replaceChildren(...base, svgEl("g", { id: "unit-layer" }), svgEl("g", { id: "pulse-layer" }),
                     svgEl("g", { id: "map-labels" }), svgEl("g", { id: "incident-layer" }));
  drawIncidents();
  if (typeof drawUnits === "function") drawUnits();  // map_units.js: the units layer, under the incidents
}

function siteText(s) {
  return `${s.name} · ${label("sites", s.kind)}${s.address ? "\n" + s.address : ""}` +
    `${s.zone ? "\nZone: " + s.zone : ""}`;
}

function openIncidents() {
  const terminal = (state.welcome && state.welcome.labels && state.welcome.labels.terminal) || [];
  return [...state.incidents.values()].filter((i) => !terminal.includes(i.state) && inGrid(i));  // grid.js
}

function drawIncidents() {
  const layer = document.getElementById("incident-layer"), pulses = document.getElementById("pulse-layer");
  if (!layer || !pulses || !mapView.project) return;
  const shown = openIncidents().filter((i) => i.kind !== "device.offline")  // device health has its own panel
    .sort((a, b) => b.priority - a.priority || (a.id === state.selected) - (b.id === state.selected));
  const at = spread(shown);
  // Markers are updated in place, not redrawn: a tooltip being read and a pulse in progress survive a change.
  keyed(layer, shown, (g, i) => incidentMarker(g, i, at.get(i.id)));
  keyed(pulses, shown.filter((i) => i.priority === 1 && i.state === "raised"), (c, i) => {
    c = c || svgEl("circle", { class: "pulse", r: PRIORITY_SIZE_PX[1] });
    const [x, y] = at.get(i.id);
    if (c.getAttribute("cx") !== x.toFixed(1)) c.setAttribute("cx", x.toFixed(1));
    if (c.getAttribute("cy") !== y.toFixed(1)) c.setAttribute("cy", y.toFixed(1));
    return c;
  });
  drawLabels(new Set(shown.map((i) => i.site_id)));
}

// Where each marker goes: incidents within a marker's width of each other (one site) are fanned out around their
// place, in the order of their ids, so that each can be seen and clicked.
function spread(incidents) {
  const groups = [];
  for (const i of [...incidents].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const [x, y] = mapView.project(i.lat, i.lon);
    const group = groups.find((g) => Math.hypot(g.x - x, g.y - y) < 2 * PRIORITY_SIZE_PX[1]);
    if (group) group.members.push(i.id); else groups.push({ x, y, members: [i.id] });
  }
  const at = new Map(), inside = (v, size) => Math.min(size - MAP_PAD_PX, Math.max(MAP_PAD_PX, v));
  for (const g of groups) {
    const n = g.members.length, radius = n === 1 ? 0 : Math.max(13, (n * 2 * PRIORITY_SIZE_PX[1] + 4) / (2 * Math.PI));
    g.members.forEach((id, k) => {
      const angle = -Math.PI / 2 + (2 * Math.PI * k) / n;
      at.set(id, [inside(g.x + radius * Math.cos(angle), mapView.width),
                  inside(g.y + radius * Math.sin(angle), mapView.height)]);
    });
  }
  return at;
}

// The children of `layer` become one element per item, in order, made or updated by `update(old element, item)`.
function keyed(layer, items, update) {
  const old = new Map([...layer.children].map((e) => [e.dataset.id, e]));
  const next = items.map((i) => {
    const e = update(old.get(i.id), i);
    e.dataset.id = i.id;
    return e;
  });
  const same = next.length === layer.children.length && next.every((e, k) => layer.children[k] === e);
  if (!same) layer.replaceChildren(...next);
}

function incidentMarker(g, i, [x, y]) {
  const p = Math.min(5, Math.max(1, i.priority | 0)), selected = i.id === state.selected;
  if (!g) {
    g = svgEl("g");
    g.addEventListener("click", () => select(g.dataset.id));
  }
  const cls = `incident p${p} ${i.state === "raised" ? "unacked" : "acked"}${selected ? " selected" : ""}`;
  if (g.getAttribute("class") !== cls) g.setAttribute("class", cls);
  const at = `translate(${x.toFixed(1)} ${y.toFixed(1)})`;
  if (g.getAttribute("transform") !== at) g.setAttribute("transform", at);
  g.dataset.priority = String(p);
  const shape = `${p}${selected}`;
  if (g.dataset.shape !== shape) {
    g.dataset.shape = shape;
    g.replaceChildren(...(selected ? [svgEl("circle", { class: "halo", r: PRIORITY_SIZE_PX[p] + 4 })] : []),
                      priorityShape(p), svgEl("title"));
  }
  const site = mapView.sites.get(i.site_id);
  const place = !site ? i.site_id
    : `${site.name}${site.address ? ", " + site.address : ""}${site.zone ? " (" + site.zone + ")" : ""}`;
  const tip = `P${p} ${label("kinds", i.kind)} · ${label("states", i.state)}\n${place}\n${i.id}`;
  const title = g.querySelector("title");
  if (title.textContent !== tip) title.textContent = tip;
  return g;
}

let measurer = null;
const textWidths = new Map();
function textWidth(text, px, weight = 400) {  // the label's width on screen, as the SVG will draw it
  const key = `${weight} ${px} ${text}`;
  if (!textWidths.has(key)) {
    measurer = measurer || document.createElement("canvas").getContext("2d");
    measurer.font = `${weight} ${px}px ${getComputedStyle(document.getElementById("map")).fontFamily}`;
    textWidths.set(key, measurer.measureText(text).width + 2);
  }
  return textWidths.get(key);
}

// Precinct names always; site names where they fit without overlapping (sites with open incidents first), and
// when most do not fit (too dense to read), only the sites with open incidents.
function drawLabels(busySites) {
  const layer = document.getElementById("map-labels");
  if (!layer) return;
  const taken = [];
  const hit = (r, t) => r.x < t.x + t.w && t.x < r.x + r.w && r.y < t.y + t.h && t.y < r.y + r.h;
  const overlaps = (r) => taken.some((t) => hit(r, t));
  const texts = [];
  // Precincts: inside the box's top left corner, the name if it stays off the other boxes and labels, else the id.
  for (const b of mapView.precinctBoxes) {
    const at = (name) => {
      const w = textWidth(name, PRECINCT_LABEL_PX, 600), x = Math.max(2, Math.min(b.x + 4, mapView.width - w - 2));
      return { name, x, y: b.y + PRECINCT_LABEL_PX + 2, r: { x, y: b.y + 2, w, h: PRECINCT_LABEL_PX + 2 } };
    };
    const named = at(b.name);
    const fits = !overlaps(named.r) && mapView.precinctBoxes.every((o) => o === b || !hit(named.r, o));
    const spot = fits ? named : at(b.id);
    taken.push(spot.r);
    const text = svgEl("text", { class: "precinct-label", x: spot.x, y: spot.y, "data-id": b.id });
    text.textContent = spot.name;
    texts.push(text);
  }
  const place = (s) => {  // right of the dot, else left, above, below, then the corners; null when nowhere is free
    const [x, y] = mapView.project(s.lat, s.lon), w = textWidth(s.name, LABEL_PX), h = LABEL_PX + 2;
    for (const [tx, ty, anchor] of [[x + 6, y + 4, "start"], [x - 6, y + 4, "end"], [x, y - 10, "middle"],
      [x, y + 19, "middle"], [x + 4, y - 10, "start"], [x + 4, y + 19, "start"], [x - 4, y - 10, "end"],
      [x - 4, y + 19, "end"]]) {
      const left = anchor === "start" ? tx : anchor === "end" ? tx - w : tx - w / 2;
      const r = { x: left, y: ty - LABEL_PX, w, h };
      if (left < 1 || left + w > mapView.width - 1 || r.y < 1 || ty > mapView.height - 2 || overlaps(r)) continue;
      return { r, tx, ty, anchor };
    }
    return null;
  };
  const sites = [...mapView.sites.values()];
  const busy = sites.filter((s) => busySites.has(s.id)), quiet = sites.filter((s) => !busySites.has(s.id));
  const before = taken.length;
  const spots = [];
  for (const s of [...busy, ...quiet]) {
    const spot = place(s);
    if (spot) { taken.push(spot.r); spots.push([s, spot]); }
  }
  const dense = sites.length - spots.length > Math.max(1, sites.length / 4);
  if (dense) {  // too many to read: only where something is happening
    taken.length = before;
    spots.length = 0;
    for (const s of busy) { const spot = place(s); if (spot) { taken.push(spot.r); spots.push([s, spot]); } }
  }
  for (const [s, spot] of spots) {
    const t = svgEl("text", { class: `site-label${busySites.has(s.id) ? " busy" : ""}`, x: spot.tx, y: spot.ty,
                              "text-anchor": spot.anchor, "data-id": s.id });
    t.textContent = s.name;
    texts.push(t);
  }
  layer.classList.toggle("dense", dense);
  layer.replaceChildren(...texts);
}

// The legend, under the map: the same shapes as the markers.
function drawLegend(svg) {
  let legend = document.getElementById("map-legend");
  if (legend) return;
  legend = document.createElement("div");
  legend.id = "map-legend";
  legend.className = "map-legend";
  const swatch = (cls, shape, text) => {
    const item = document.createElement("span");
    item.className = "legend-item";
    const icon = svgEl("svg", { viewBox: "-11 -11 22 22", width: 16, height: 16, "aria-hidden": "true" });
    const g = svgEl("g", { class: cls });
    g.appendChild(shape);
    icon.appendChild(g);
    item.append(icon, text);
    return item;
  };
  const items = [1, 2, 3, 4, 5].map((p) => swatch(`incident p${p} unacked`, priorityShape(p), `P${p}`));
  items.push(swatch("incident p3 acked", priorityShape(3), "hollow: acknowledged"),
             swatch("", svgEl("circle", { class: "site", r: 3.5 }), "site"),
             swatch("", svgEl("circle", { class: "device", r: 2.5 }), "device"),
             swatch("", svgEl("circle", { class: "device offline", r: 2.5 }), "device offline"),
             swatch("", svgEl("rect", { class: "precinct", x: -9, y: -7, width: 18, height: 14 }), "precinct"));
  legend.replaceChildren(...items);
  legend.setAttribute("aria-label", "map legend");
  svg.insertAdjacentElement("afterend", legend);
}

// Redraw when the panel changes size, so one SVG unit stays one pixel.
if (window.ResizeObserver) {
  let frame = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => {
      const svg = document.getElementById("map");
      if (!svg || !state.welcome) return;
      const [w, h] = mapSize(svg);
      if (Math.abs(w - mapView.width) > 1 || Math.abs(h - mapView.height) > 1) drawMap();
    });
  }).observe(document.getElementById("map") || document.body);
}
