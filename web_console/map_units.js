// redband console, the units layer on the map: a dot per unit the operator may see (a station its precinct's, the
// command center all), coloured by the unit's state (labels from welcome.labels.unit_states), a police unit outlined,
// a stale position (over 300 s old) faded; the legend says which colour is which. Asked every few seconds while the
// map is shown, one request in flight (a lost answer is asked again after a while). The answer's patrol figures go to
// figures.js (state.patrol). Uses app.js's state, send(), label(), fmtSeconds(); map.js's mapView, svgEl(), keyed().
"use strict";

// the units map asked again this often while shown: 3 s; tests set a shorter window.REDBAND_UNIT_MAP_EVERY_MS
// before the page loads.
const UNIT_MAP_EVERY_MS = Number(window.REDBAND_UNIT_MAP_EVERY_MS) > 0 ? Number(window.REDBAND_UNIT_MAP_EVERY_MS)
  : 3000;
const UNIT_MAP_LOST_MS = 10000, UNIT_R_PX = 3.5;
const unitMap = { answer: null, asking: false, askedAt: 0, ws: null };

const seesUnits = () => !!state.welcome && ["station", "command_center"].includes(state.welcome.role);

function askUnitMap() {
  if (!state.live || !seesUnits() || $("app").hidden || $("incidents-view").hidden) return;
  const lost = Date.now() - unitMap.askedAt > UNIT_MAP_LOST_MS || unitMap.ws !== state.ws;
  if (unitMap.asking && !lost) return;
  if (Date.now() - unitMap.askedAt < UNIT_MAP_EVERY_MS && !lost) return;
  if (send({ type: "unit_map" })) Object.assign(unitMap, { asking: true, askedAt: Date.now(), ws: state.ws });
}

function renderUnitMap(msg) {
  unitMap.asking = false;
  unitMap.answer = msg;
  state.patrol = msg.figures || state.patrol;
  drawUnits();
  if (typeof renderFigures === "function") renderFigures();
}

function unitClass(u) {
  return `unit s-${u.state}${u.stale ? " stale" : ""}${u.kind === "volunteer" ? "" : " police"}`;
}

function drawUnits() {
  const layer = document.getElementById("unit-layer");
  legendUnits();
  if (!layer || !mapView.project) return;
  const shown = unitMap.answer ? unitMap.answer.units.map((u) => ({ ...u, id: u.unit })) : [];
  keyed(layer, shown, (dot, u) => {
    const shape = u.kind === "volunteer" ? "circle" : "rect";
    if (!dot || dot.tagName !== shape) {
      dot = svgEl(shape, shape === "rect" ? { width: 2 * UNIT_R_PX, height: 2 * UNIT_R_PX } : { r: UNIT_R_PX });
      dot.appendChild(svgEl("title"));
    }
    const [x, y] = mapView.project(u.lat, u.lon);
    if (shape === "circle") { dot.setAttribute("cx", x.toFixed(1)); dot.setAttribute("cy", y.toFixed(1)); }
    else { dot.setAttribute("x", (x - UNIT_R_PX).toFixed(1)); dot.setAttribute("y", (y - UNIT_R_PX).toFixed(1)); }
    const cls = unitClass(u);
    if (dot.getAttribute("class") !== cls) dot.setAttribute("class", cls);
    dot.dataset.state = u.state;
    dot.querySelector("title").textContent = `${u.unit} · ${label("units", u.kind)} · ${label("unit_states", u.state)}` +
      `\nposition ${fmtSeconds(u.age_s)} old${u.stale ? " (stale: not recommended)" : ""}`;
    return dot;
  });
  layer.dataset.count = String(shown.length);
  layer.dataset.truncated = String(unitMap.answer ? unitMap.answer.truncated : 0);
}

// The legend's unit entries, once: a dot per state, and a faded one for a stale position.
function legendUnits() {
  const legend = document.getElementById("map-legend");
  if (!legend || !seesUnits() || legend.querySelector(".unit")) return;
  const item = (cls, text) => {
    const span = document.createElement("span");
    span.className = "legend-item";
    const icon = svgEl("svg", { viewBox: "-6 -6 12 12", width: 12, height: 12, "aria-hidden": "true" });
    icon.appendChild(svgEl("circle", { class: cls, r: UNIT_R_PX }));
    span.append(icon, text);
    return span;
  };
  const states = Object.entries(labels().unit_states || {});
  legend.append(...states.map(([s, text]) => item(`unit s-${s}`, `unit ${text.toLowerCase()}`)),
                item("unit s-available stale", "unit, position stale"));
}

setInterval(askUnitMap, 500);
