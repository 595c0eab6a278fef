// redband console, dispatch: the selected incident's dispatch (offered to whom, en route, on scene, none available...)
// with Cancel and Reassign, the units recommended for it (nearest available first, with distances, an Offer button
// each) and why each other unit was not chosen, the cameras within 200 m, and the dispatch's log. The dispatch view is
// asked on selection and every few seconds while the incident stays selected (one request in flight); a command's
// view comes back before its result. Answers for an incident no longer selected are dropped. Labels from the welcome
// (units, unit_states, not_chosen, dispatch). Uses app.js's state, send(), label(), toast(); detail.js's helpers.
"use strict";

const DISPATCH_EVERY_MS = 3000, DISPATCH_LOST_MS = 10000, LOG_LINES = 6;
const HOLDING = ["offering", "en_route", "on_scene"];  // a unit is offered the incident or works on it
const OPEN_DISPATCH = [...HOLDING, "awaiting_operator", "none_available"];
const units = { incident: null, answer: null, dispatch: null, asking: null, askedAt: 0, ws: null };

const mayDispatch = () => !!state.welcome && ["station", "command_center"].includes(state.welcome.role);

function askUnits() {
  const i = selectedIncident();
  if (!i) return;
  units.incident = i.id;
  units.answer = null;
  $("units").replaceChildren(Object.assign(document.createElement("li"), { textContent: "asking…", className: "muted" }));
  send({ type: "units", incident: i.id, k: 5 });
}

function unitsSelectionChanged() {
  Object.assign(units, { incident: null, answer: null, dispatch: null, asking: null });
  for (const id of ["units", "cameras", "dispatch-log"]) $(id).replaceChildren();
  $("dispatch-reason").value = "";
  renderDispatchState();
  askDispatch();
}

function metres(d) { return d == null ? "no position" : d >= 1000 ? `${(d / 1000).toFixed(1)} km` : `${Math.round(d)} m`; }

function renderUnits(msg) {
  if (msg && msg.incident !== units.incident) return;  // an answer for an incident no longer selected
  if (msg) units.answer = msg;
  const answer = units.answer;
  if (!answer) return;
  const held = units.dispatch && HOLDING.includes(units.dispatch.state) ? units.dispatch.unit : "";
  const items = answer.chosen.map((u, n) => {
    const li = Object.assign(document.createElement("li"), {
      className: "unit chosen", textContent: `${n + 1}. ${u.unit} · ${label("units", u.kind)} · ${metres(u.distance_m)}` });
    li.dataset.unit = u.unit;
    if (mayDispatch() && u.unit !== held) {
      const button = Object.assign(document.createElement("button"), {
        type: "button", className: "offer", textContent: held ? "Reassign here" : "Offer" });
      button.dataset.unit = u.unit;
      button.onclick = () => (held ? reassign(u.unit) : offer(u.unit));
      li.append(button);
    }
    return li;
  });
  if (!items.length) items.push(Object.assign(document.createElement("li"), {
    className: "unit none", textContent: label("not_chosen", "none_available") }));
  for (const u of answer.passed.slice(0, 8)) {
    items.push(Object.assign(document.createElement("li"), {
      className: "unit passed", textContent: `${u.unit} · ${label("unit_states", u.state)} · ` +
        `${label("not_chosen", u.reason)} · ${metres(u.distance_m)}`,
    }));
  }
  $("units").replaceChildren(...items);
}

// -- the incident's dispatch ---------------------------------------------------------------------------------

function askDispatch() {
  const i = selectedIncident();
  if (!i || isTerminal(i) || !mayDispatch() || !state.ws) return;
  const lost = Date.now() - units.askedAt > DISPATCH_LOST_MS || units.ws !== state.ws;  // no answer: ask again
  if (units.asking && !lost) return;
  if (send({ type: "dispatch", incident: i.id })) Object.assign(units, { asking: i.id, askedAt: Date.now(), ws: state.ws });
}

function renderDispatch(msg) {
  if (msg.incident === units.asking) units.asking = null;
  if (msg.incident !== state.selected) return;
  units.dispatch = msg;
  renderDispatchState();
  $("cameras").replaceChildren(...(msg.cameras.length ? msg.cameras.map((c) => {
    const li = el("li", "camera", `${c.label || label("devices", "camera")} · ${c.camera} · ${metres(c.distance_m)}`);
    li.dataset.camera = c.camera;
    return li;
  }) : [el("li", "none", "no camera within 200 m")]));
  $("dispatch-log").replaceChildren(...msg.log.slice(-LOG_LINES).map((line) =>
    el("li", "", `${fmtClock(line.t_s)} ${line.effect}${line.unit ? " · " + line.unit : ""}${line.note ? " · " + line.note : ""}`)));
  renderUnits(null);  // Offer becomes Reassign while a unit holds the incident
}

function renderDispatchState() {
  const d = units.dispatch, box = $("dispatch-state");
  const s = d ? d.state : "";
  box.dataset.state = s;
  box.dataset.unit = d ? d.unit : "";
  let text = "";
  if (!d) text = "";
  else if (s === "none") text = "No unit dispatched";
  else if (s === "offering") {
    const left = d.deadline_s == null ? "" : ` · answer within ${fmtSeconds(d.deadline_s - nowS())}`;
    text = `${label("unit_states", "offered")}: ${d.unit}${left}`;
  } else text = `${label("dispatch", s)}${d.unit ? ": " + d.unit : ""}`;
  box.textContent = text;
  $("dispatch").hidden = !mayDispatch();
  $("act-cancel-dispatch").disabled = !d || !OPEN_DISPATCH.includes(s);
  $("act-reassign").disabled = !d || !OPEN_DISPATCH.includes(s);
}

// -- commands: an id each, answered by a result (toasted by app.js) after the dispatch's new view ----------

function dispatchCommand(type, fields, what) {
  const i = selectedIncident();
  if (!i) return;
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) { toast("not connected", true); return; }
  const id = state.nextId++;
  state.pending.set(id, what(i.id));
  state.ws.send(JSON.stringify({ type, id, incident: i.id, ...fields }));
}

function offer(unit) { dispatchCommand("offer", { unit }, (id) => `Offer ${id} to ${unit}`); }
function reassign(unit) {
  dispatchCommand("reassign", { unit: unit || "", reason: $("dispatch-reason").value.trim() },
                  (id) => `Reassign ${id} to ${unit || "the next candidate"}`);
}
function cancelDispatch() {
  dispatchCommand("cancel_dispatch", { reason: $("dispatch-reason").value.trim() }, (id) => `Cancel the dispatch of ${id}`);
}

$("act-units").onclick = askUnits;
$("act-reassign").onclick = () => reassign("");
$("act-cancel-dispatch").onclick = cancelDispatch;
setInterval(() => {
  if (!$("app").hidden && !$("incidents-view").hidden && Date.now() - units.askedAt >= DISPATCH_EVERY_MS) askDispatch();
  if (units.dispatch && units.dispatch.state === "offering") renderDispatchState();  // the offer's countdown
}, 500);
