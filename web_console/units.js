// redband console, dispatch: the units recommended for the selected incident (nearest available first, with
// distances) and why each other unit was not chosen. Asked of the server on a click; the answer is for one incident
// and is dropped when the selection moves on. Labels from the welcome (units, unit_states, not_chosen).
"use strict";

const units = { incident: null };

function askUnits() {
  const i = selectedIncident();
  if (!i) return;
  units.incident = i.id;
  $("units").replaceChildren(Object.assign(document.createElement("li"), { textContent: "asking…", className: "muted" }));
  send({ type: "units", incident: i.id, k: 5 });
}

function unitsSelectionChanged() {
  units.incident = null;
  $("units").replaceChildren();
}

function metres(d) { return d == null ? "no position" : d >= 1000 ? `${(d / 1000).toFixed(1)} km` : `${Math.round(d)} m`; }

function renderUnits(msg) {
  if (msg.incident !== units.incident) return;  // an answer for an incident no longer selected
  const items = msg.chosen.map((u, n) => Object.assign(document.createElement("li"), {
    className: "unit chosen", textContent: `${n + 1}. ${u.unit} · ${label("units", u.kind)} · ${metres(u.distance_m)}`,
  }));
  if (!items.length) items.push(Object.assign(document.createElement("li"), {
    className: "unit none", textContent: label("not_chosen", "none_available") }));
  for (const u of msg.passed.slice(0, 8)) {
    items.push(Object.assign(document.createElement("li"), {
      className: "unit passed", textContent: `${u.unit} · ${label("unit_states", u.state)} · ` +
        `${label("not_chosen", u.reason)} · ${metres(u.distance_m)}`,
    }));
  }
  $("units").replaceChildren(...items);
}

$("act-units").onclick = askUnits;
