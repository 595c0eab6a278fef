// redband console: one WebSocket, a snapshot then deltas; see docs/console-protocol.md.
"use strict";

const STALE_AFTER_MS = 5000;

const state = {
  token: sessionStorage.getItem("redband.token"),
  ws: null, welcome: null, incidents: new Map(), seq: 0, selected: null,
  offsetMs: 0, lastMessageMs: 0, reconnectTimer: null, attempts: 0, nextId: 1, pending: new Map(),
  soundOn: false, audio: null, alerted: new Set(), stale: false, engine: null,
};
const $ = (id) => document.getElementById(id);

// Labels, the escalation chain and the terminal states come from the server's welcome (protocols/kinds.py):
// the console keeps no copy. A value the table does not know is shown as it is.
const labels = () => (state.welcome && state.welcome.labels) || {};
const label = (table, value) => (labels()[table] || {})[value] || value;
const chain = () => labels().chain || [];
const isTerminal = (incident) => (labels().terminal || []).includes(incident.state);

// -- login ----------------------------------------------------------------------------------------

function wsUrl(path) { return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`; }

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  const ws = new WebSocket(wsUrl("/login"));
  ws.onopen = () => ws.send(JSON.stringify({ type: "login", username: $("username").value, password: $("password").value }));
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "token") {
      state.token = msg.token;
      sessionStorage.setItem("redband.token", msg.token);
      start();
    } else {
      $("login-error").textContent = msg.reason || "login refused";
    }
  };
  ws.onerror = () => { $("login-error").textContent = "cannot reach the server"; };
});

$("logout").addEventListener("click", () => {
  sessionStorage.removeItem("redband.token");
  state.token = null;
  if (state.ws) state.ws.close();
  location.reload();
});

function start() {
  $("login").hidden = true;
  $("app").hidden = false;
  connect();
}

// -- the connection: snapshot, deltas, heartbeats, staleness, reconnects ----------------------------

function connect() {
  clearTimeout(state.reconnectTimer);
  const ws = new WebSocket(wsUrl("/ws"));
  state.ws = ws;
  $("status").textContent = "connecting…";
  $("status").classList.remove("live");
  ws.onopen = () => { ws.send(JSON.stringify({ type: "auth", token: state.token })); state.lastMessageMs = Date.now(); };
  ws.onmessage = (m) => { if (ws === state.ws) onMessage(JSON.parse(m.data)); };
  ws.onclose = () => { if (ws === state.ws) scheduleReconnect(); };
}

function scheduleReconnect() {
  state.ws = null;
  $("status").textContent = "reconnecting…";
  $("status").classList.remove("live");
  const delay = Math.min(5000, 250 * 2 ** state.attempts++) * (0.5 + Math.random() / 2);
  state.reconnectTimer = setTimeout(connect, delay);
}

function onMessage(msg) {
  state.lastMessageMs = Date.now();
  if (state.stale) setStale(false);
  switch (msg.type) {
    case "welcome":
      state.welcome = msg;
      state.offsetMs = msg.server_s * 1000 - Date.now();
      $("who").textContent = `${msg.operator} — ${label("levels", msg.level)}${msg.scope ? " " + msg.scope : ""}`;
      $("tab-audit").hidden = msg.role !== "command_center";  // only the command center sees the audit trail
      drawMap();
      break;
    case "snapshot":  // replaces everything: a reconnect never duplicates nor misses
      state.incidents = new Map(msg.incidents.map((i) => [i.id, i]));
      state.seq = msg.seq;
      state.attempts = 0;
      state.offsetMs = msg.server_s * 1000 - Date.now();
      $("status").textContent = "live";
      $("status").classList.add("live");
      for (const i of msg.incidents) state.alerted.add(i.id);  // no siren for what was already there
      render();
      break;
    case "changes": {  // one frame per server tick: every change since the last, in seq order
      let changed = false;
      for (const item of msg.items) {
        if (item.seq <= state.seq) continue;  // already in the snapshot
        state.seq = item.seq;
        state.incidents.set(item.incident.id, item.incident);
        alertIfUrgent(item.incident);
        changed = true;
      }
      if (changed) render();
      break;
    }
    case "heartbeat":
      state.offsetMs = msg.server_s * 1000 - Date.now();
      if (msg.engine) {  // the command center's heartbeats carry the engine's counters
        state.engine = msg.engine;
        renderFigures();
      }
      break;
    case "result": {
      const what = state.pending.get(msg.id);
      state.pending.delete(msg.id);
      toast(msg.ok ? `${what}: done` : `${what}: refused — ${msg.error}`, !msg.ok);
      break;
    }
    case "audit":
      renderAudit(msg);
      break;
    case "error":
      toast(msg.reason, true);
      if (/token|auth/.test(msg.reason)) { sessionStorage.removeItem("redband.token"); location.reload(); }
      break;
  }
}

function setStale(stale) {
  state.stale = stale;
  $("stale").hidden = !stale;
}

setInterval(() => {
  if (!state.ws || !state.lastMessageMs) return;
  if (Date.now() - state.lastMessageMs > STALE_AFTER_MS && !state.stale) {
    setStale(true);
    const ws = state.ws;
    state.ws = null;
    ws.close();
    scheduleReconnect();
  }
  renderClock();
}, 250);

function send(message, what) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) { toast("not connected", true); return; }
  if (message.type === "command") {  // commands carry an id, echoed by their result
    message = { ...message, id: state.nextId++ };
    state.pending.set(message.id, what || message.action);
  }
  state.ws.send(JSON.stringify(message));
}

function command(action, extra = {}) {
  if (!state.selected) return;
  send({ type: "command", action, incident: state.selected, ...extra }, `${action} ${state.selected}`);
}

window.redband = { send: (m) => state.ws && state.ws.send(JSON.stringify(m)), state };  // for integrators' tests

// -- keyboard and buttons ---------------------------------------------------------------------------

document.addEventListener("keydown", (event) => {
  if (event.target.tagName === "INPUT") return;
  const rows = sortedOpen();
  const index = rows.findIndex((i) => i.id === state.selected);
  if (event.key === "a" || event.key === "A") { command("acknowledge"); event.preventDefault(); }
  else if (event.key === "ArrowDown") { select(rows[Math.min(rows.length - 1, index + 1)]?.id); event.preventDefault(); }
  else if (event.key === "ArrowUp") { select(rows[Math.max(0, index - 1)]?.id); event.preventDefault(); }
});
$("act-acknowledge").onclick = () => command("acknowledge");
$("act-dispatch").onclick = () => command("dispatch", { unit: $("unit").value });
$("act-on_scene").onclick = () => command("on_scene");
$("act-resolve").onclick = () => command("resolve");
$("act-close").onclick = () => command("close", { disposition: $("disposition").value });
$("act-false_alarm").onclick = () => command("false_alarm", { disposition: $("disposition").value });
$("tab-incidents").onclick = () => showTab("incidents");
$("tab-audit").onclick = () => showTab("audit");

// The Audit tab's content is audit.js's (openAudit, renderAudit); until it defines them, a plain query and table.
function showTab(name) {
  for (const [tab, view] of [["incidents", "incidents-view"], ["audit", "audit"]]) {
    $(`tab-${tab}`).classList.toggle("active", tab === name);
    $(`tab-${tab}`).setAttribute("aria-selected", String(tab === name));
    $(view).hidden = tab !== name;
  }
  if (name === "audit") {
    if (typeof openAudit === "function") openAudit();
    else send({ type: "audit", limit: 200 }, "audit");
  }
}
$("sound").onclick = () => {
  state.audio = state.audio || new AudioContext();
  state.audio.resume().then(() => {
    state.soundOn = state.audio.state === "running";
    $("sound-warning").hidden = state.soundOn;
    $("sound").textContent = state.soundOn ? "Sound on" : "Enable sound";
  });
};

function alertIfUrgent(incident) {
  if (incident.priority !== 1 || incident.state !== "raised" || state.alerted.has(incident.id)) return;
  state.alerted.add(incident.id);
  if (!state.soundOn || !state.audio) { $("sound-warning").hidden = false; return; }
  const osc = state.audio.createOscillator();
  const gain = state.audio.createGain();
  osc.frequency.value = 880;
  gain.gain.value = 0.2;
  osc.connect(gain).connect(state.audio.destination);
  osc.start();
  osc.stop(state.audio.currentTime + 0.6);
}

// -- rendering ------------------------------------------------------------------------------------

function nowS() { return (Date.now() + state.offsetMs) / 1000; }

function fmtSeconds(s) {
  s = Math.max(0, Math.round(s));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

function renderAudit(msg) {  // a stand-in: audit.js, loaded later, replaces it
  $("audit").querySelector("tbody").replaceChildren(...msg.rows.map((r) => {
    const tr = document.createElement("tr");
    for (const v of [new Date(r.t_s * 1000).toLocaleTimeString(), r.actor, r.action, r.target, r.outcome, r.scope, r.reason]) {
      tr.appendChild(Object.assign(document.createElement("td"), { textContent: v }));
    }
    return tr;
  }));
}

let toastTimer = null;
function toast(text, bad = false) {
  const el = $("toast");
  el.textContent = text;
  el.className = `toast${bad ? " bad" : ""}`;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

if (state.token) start();
