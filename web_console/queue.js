// redband console, the queue: the open incidents in order, their ages and countdowns, device health and figures.
// Loaded after app.js, whose state and helpers it uses.
"use strict";

function sortedOpen() {
  return [...state.incidents.values()].filter((i) => !isTerminal(i))
    .sort((a, b) => a.priority - b.priority || a.raised_s - b.raised_s);
}

function select(id) {
  if (!id) return;
  state.selected = id;
  render();
}

function render() {
  const tbody = $("queue").querySelector("tbody");
  const rows = sortedOpen();
  if (state.selected && !state.incidents.has(state.selected)) state.selected = null;
  if (!state.selected && rows.length) state.selected = rows[0].id;
  tbody.replaceChildren(...rows.map((i) => {
    const tr = document.createElement("tr");
    tr.dataset.id = i.id;
    tr.className = `state-${i.state}${i.priority === 1 ? " p1" : ""}${i.id === state.selected ? " selected" : ""}`;
    tr.innerHTML = `<td class="prio">P${i.priority}</td><td class="id"></td><td class="kind"></td>` +
      `<td class="state"></td><td class="level"></td><td class="age"></td><td class="countdown"></td>`;
    tr.querySelector(".id").textContent = i.id;
    tr.querySelector(".kind").textContent = label("kinds", i.kind);
    tr.querySelector(".state").textContent = label("states", i.state);
    tr.querySelector(".level").textContent = label("levels", i.level);
    tr.onclick = () => select(i.id);
    return tr;
  }));
  $("empty").hidden = rows.length > 0;
  renderDetail();
  renderHealth();
  renderFigures();
  drawIncidents();
  renderClock();
}

function renderClock() {
  const now = nowS();
  for (const tr of $("queue").querySelectorAll("tbody tr")) {
    const i = state.incidents.get(tr.dataset.id);
    if (!i) continue;
    const age = now - i.raised_s;
    tr.classList.toggle("age-fresh", age < 30);
    tr.classList.toggle("age-warm", age >= 30 && age < 120);
    tr.classList.toggle("age-old", age >= 120);
    tr.querySelector(".age").textContent = fmtSeconds(age);
    tr.querySelector(".countdown").textContent = i.deadline_s == null ? "—" : fmtSeconds(i.deadline_s - now);
  }
}

function renderHealth() {
  const offline = sortedOpen().filter((i) => i.kind === "device.offline");
  $("health").replaceChildren(...(offline.length ? offline.map((i) => {
    const li = document.createElement("li");
    li.textContent = `${i.device_id} offline since +${fmtSeconds(nowS() - i.raised_s)} ago`;
    return li;
  }) : [Object.assign(document.createElement("li"), { textContent: "all devices reporting", className: "muted" })]));
  for (const dot of document.querySelectorAll("#map .device")) {
    dot.classList.toggle("offline", offline.some((i) => i.device_id === dot.dataset.id));
  }
}

function renderFigures() {
  const open = sortedOpen();
  const byLevel = {};
  for (const i of open) byLevel[i.level] = (byLevel[i.level] || 0) + 1;
  const ackTimes = [...state.incidents.values()].map((i) => {
    const ack = i.timeline.find((e) => e.event === "acknowledged");
    return ack ? ack.t_s - i.raised_s : null;
  }).filter((t) => t !== null);
  const mean = ackTimes.length ? ackTimes.reduce((a, b) => a + b, 0) / ackTimes.length : null;
  const items = [["Open incidents", open.length], ...Object.entries(byLevel).map(([l, n]) => [`at ${label("levels", l)}`, n]),
                 ["Mean time to acknowledge", mean === null ? "—" : fmtSeconds(mean)]];
  if (state.engine) {
    const e = state.engine;
    items.push(["Device events /s", Math.round(e.events_per_s).toLocaleString()],
               ["Devices reporting", `${e.devices_active.toLocaleString()} of ${e.devices.toLocaleString()}`]);
  }
  $("figures").replaceChildren(...items.flatMap(([k, v]) => [
    Object.assign(document.createElement("dt"), { textContent: k }),
    Object.assign(document.createElement("dd"), { textContent: String(v) })]));
}
