// redband console, the queue: the open incidents in the order a dispatcher works them (awaiting acknowledgement
// first, then priority, then oldest first), in words (place, what, state, level), with their age coloured by the
// policy's thresholds per priority and the countdown to their next escalation. Uses app.js's state and helpers.
"use strict";

// An incident waits for someone to take it while the lifecycle still allows acknowledging it (welcome's transitions).
const awaitingAck = (i) => ((labels().transitions || {})[i.state] || []).includes("acknowledge");

function sortedOpen() {
  return [...state.incidents.values()].filter((i) => !isTerminal(i) && inGrid(i))  // grid.js: the grid filter
    .sort((a, b) => awaitingAck(b) - awaitingAck(a) || a.priority - b.priority || a.raised_s - b.raised_s);
}

// The welcome's sites and devices by id (thousands of devices: looked up per row and per map dot).
let mapIndex = { welcome: null };
function mapInfo(list, id) {
  const w = state.welcome;
  if (!w) return undefined;
  if (mapIndex.welcome !== w) {
    mapIndex = { welcome: w, sites: new Map(w.map.sites.map((s) => [s.id, s])),
                 devices: new Map(w.map.devices.map((d) => [d.id, d])) };
  }
  return mapIndex[list].get(id);
}
const siteOf = (i) => mapInfo("sites", i.site_id);
const deviceOf = (i) => mapInfo("devices", i.device_id);

// What people call the device: its label, else the kind's label and the id.
function deviceName(i) {
  const d = deviceOf(i);
  if (d && d.label) return d.label;
  return d ? `${label("devices", d.kind)} ${d.id}` : i.device_id;
}

// "S0001-panic1#offline@1796235174516" → "S0001-panic…74516": the row stays narrow, the title has it all.
function shortId(id, max = 18) {
  return id.length <= max ? id : `${id.slice(0, max - 7)}…${id.slice(-5)}`;
}

function select(id) {
  if (!id || id === state.selected) return;
  state.selected = id;
  selectionChanged();  // detail.js: the inputs typed for the last incident go
  render();
}

function cell(cls, lines, title = null) {  // one line: the text; two: each cut with an ellipsis; the whole in its tooltip
  const td = document.createElement("td");
  td.className = cls;
  lines = lines.filter(([, text]) => text != null);
  if (lines.length === 1) td.textContent = lines[0][1];
  else for (const [c, text] of lines) td.appendChild(Object.assign(document.createElement("span"), { className: c, textContent: text }));
  td.title = title || lines.map(([, text]) => text).filter(Boolean).join(" · ");
  return td;
}

function queueRow(i) {
  const tr = document.createElement("tr");
  const site = siteOf(i);
  tr.dataset.id = i.id;
  tr.title = i.id;
  tr.className = `state-${i.state} prio-${i.priority}` + (i.priority === 1 ? " p1" : "") +
    (awaitingAck(i) ? " unacked" : "") + (i.priority === 1 && awaitingAck(i) ? " pulse" : "") +
    (i.id === state.selected ? " selected" : "");
  tr.append(
    cell("prio", [["p", `P${i.priority}`]]),
    cell("place", [["site", site ? site.name : i.site_id], ["zone sub", site && site.zone ? site.zone : null]]),
    cell("what", [["kind", label("kinds", i.kind)], ["device sub", `${deviceName(i)} · ${shortId(i.id)}`]],
      `${label("kinds", i.kind)} · ${deviceName(i)} · ${i.id}`),
    cell("state", [["s", label("states", i.state)]]),
    cell("level", [["l", label("levels", i.level)]]),
    cell("age", [["", ""]]),
    cell("countdown", [["", ""]]));
  tr.onclick = () => select(i.id);
  return tr;
}

function render() {
  const rows = sortedOpen();
  if (state.selected && !state.incidents.has(state.selected)) state.selected = null;
  if (!state.selected && rows.length) { state.selected = rows[0].id; selectionChanged(); }
  placeRows($("queue").querySelector("tbody"), rows);
  $("empty").hidden = rows.length > 0;
  $("queue-count").textContent = rows.length ? `${rows.length} open` : "";
  const selectedRow = $("queue").querySelector("tr.selected");
  if (selectedRow && selectedRow.dataset.id !== state.lastScrolled) {  // keep the selection in view, once
    selectedRow.scrollIntoView({ block: "nearest" });
    state.lastScrolled = selectedRow.dataset.id;
  }
  renderTips();  // tips.js: the Tips tab of this panel
  renderDetail();
  renderHealth();
  renderFigures();
  drawIncidents();
  renderClock();
}

// Rows are kept while their incident's version, the selection and the welcome are the same, and moved only when the
// order changes: a frame that changes one incident leaves the other rows (a hover, a click under way) alone.
const rowCache = new Map();  // incident id -> {tr, key, welcome}
function placeRows(tbody, rows) {
  const keep = new Set();
  rows.forEach((i, n) => {
    const key = `${i.version}:${i.id === state.selected}`;
    let cached = rowCache.get(i.id);
    if (!cached || cached.key !== key || cached.welcome !== state.welcome) {
      cached = { tr: queueRow(i), key, welcome: state.welcome };
      rowCache.set(i.id, cached);
    }
    keep.add(cached.tr);
    if (tbody.children[n] !== cached.tr) tbody.insertBefore(cached.tr, tbody.children[n] || null);
  });
  for (const tr of [...tbody.children]) if (!keep.has(tr)) tr.remove();
  for (const id of rowCache.keys()) if (!keep.has(rowCache.get(id).tr)) rowCache.delete(id);
}

// Ageing per priority from the welcome (the policies file): fresh, then warm, then old.
function ageClass(i, age) {
  const [warm, old] = ((state.welcome && state.welcome.ageing) || {})[String(i.priority)] || [Infinity, Infinity];
  return age >= old ? "age-old" : age >= warm ? "age-warm" : "age-fresh";
}

function setText(element, text) { if (element.textContent !== text) element.textContent = text; }

function renderClock() {
  const now = nowS();
  for (const tr of $("queue").querySelectorAll("tbody tr")) {
    const i = state.incidents.get(tr.dataset.id);
    if (!i) continue;
    const age = now - i.raised_s, cls = ageClass(i, age);
    for (const c of ["age-fresh", "age-warm", "age-old"]) tr.classList.toggle(c, c === cls);
    setText(tr.querySelector(".age"), fmtSeconds(age));
    setText(tr.querySelector(".countdown"), i.deadline_s == null ? "—" : fmtSeconds(i.deadline_s - now));
    tr.querySelector(".countdown").classList.toggle("due", i.deadline_s != null && i.deadline_s - now < 10);
  }
  renderTipsClock();
  renderDetailClock();
}
