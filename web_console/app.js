// redband console, the session: state, login and logout, the one WebSocket (a snapshot then deltas, receipts,
// staleness, reconnects with capped backoff), messages in and commands out, tabs, sound and toasts; see
// docs/console-protocol.md. queue.js, detail.js, figures.js, map.js and audit.js render from its state.
"use strict";

// no message for this long (since the last one, or since connecting): reconnect. 5 s; tests set a shorter
// window.REDBAND_STALE_AFTER_MS before the page loads.
const STALE_AFTER_MS = Number(window.REDBAND_STALE_AFTER_MS) > 0 ? Number(window.REDBAND_STALE_AFTER_MS) : 5000;
const RETRY_FIRST_MS = 250, RETRY_MAX_MS = 10000;
const LOGGED_OUT = 4001;  // the server's close code for a token it will not take again (no reconnect)

const state = {
  token: sessionStorage.getItem("redband.token"),
  ws: null, welcome: null, incidents: new Map(), seq: 0, selected: null,
  offsetMs: 0, lastMessageMs: 0, connectedAtMs: 0, reconnectTimer: null, attempts: 0, retryAtMs: 0,
  nextId: 1, pending: new Map(), soundOn: false, audio: null, alerted: new Set(), seenSent: new Set(),
  stale: false, live: false, engine: null, lastError: "",
};
const $ = (id) => document.getElementById(id);

// Labels, the escalation chain, the terminal states and the lifecycle's transitions come from the server's welcome
// (protocols/console_labels.py): the console keeps no copy. A value the table does not know is shown as it is.
const labels = () => (state.welcome && state.welcome.labels) || {};
const label = (table, value) => (labels()[table] || {})[value] || value;
const chain = () => labels().chain || [];
const isTerminal = (incident) => (labels().terminal || []).includes(incident.state);

function nowS() { return (Date.now() + state.offsetMs) / 1000; }

function fmtSeconds(s) {  // 42 → "42s", 65 → "1m05s", 7500 → "2h05m"
  s = Math.max(0, Math.round(s));
  const pad = (n) => String(n).padStart(2, "0");
  if (s >= 3600) return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
  return s >= 60 ? `${Math.floor(s / 60)}m${pad(s % 60)}s` : `${s}s`;
}

function fmtClock(t_s) {  // server seconds → local wall-clock "HH:MM:SS"
  const d = new Date(t_s * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

// -- login and logout -----------------------------------------------------------------------------------

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
  const ws = state.ws;
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "logout" }));  // the server revokes the token
  showLogin("logged out");
});

function start() {
  $("login").hidden = true;
  $("app").hidden = false;
  state.attempts = 0;
  connect();
}

// Back to the login screen with the reason: the token is gone, nothing reconnects.
function showLogin(reason) {
  sessionStorage.removeItem("redband.token");
  state.token = null;
  clearTimeout(state.reconnectTimer);
  const ws = state.ws;
  state.ws = null;  // its close is not a reason to reconnect
  if (ws) ws.close();
  Object.assign(state, { welcome: null, incidents: new Map(), seq: 0, selected: null, engine: null, live: false });
  $("queue").querySelector("tbody").replaceChildren();  // nothing of the last session stays in the page
  $("detail").hidden = true;
  setStale(false);
  showTab("incidents");
  $("app").hidden = true;
  $("login").hidden = false;
  $("password").value = "";
  $("login-error").textContent = reason || "";
}

// -- the connection: snapshot, deltas, receipts, heartbeats, staleness, reconnects ----------------------

function connect() {
  clearTimeout(state.reconnectTimer);
  const ws = new WebSocket(wsUrl("/ws"));
  state.ws = ws;
  state.connectedAtMs = Date.now();
  state.lastMessageMs = 0;
  state.live = false;
  renderStatus();
  ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: state.token }));
  ws.onmessage = (m) => { if (ws === state.ws) onMessage(JSON.parse(m.data)); };
  ws.onclose = (event) => {
    if (ws !== state.ws) return;  // one we gave up on (stale, logged out)
    if (event.code === LOGGED_OUT) showLogin(event.reason || state.lastError || "session ended");
    else scheduleReconnect();
  };
}

// Forever, 0.25 s doubling to 10 s, each delay between half and all of that (jitter: consoles do not come back in step).
function scheduleReconnect() {
  state.ws = null;
  state.live = false;
  const base = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** state.attempts++);
  const delay = base * (0.5 + Math.random() / 2);
  state.retryAtMs = Date.now() + delay;
  state.reconnectTimer = setTimeout(connect, delay);
  renderStatus();
}

function renderStatus() {
  const el = $("status");
  el.classList.toggle("live", state.live);
  if (state.live) { el.textContent = "live"; return; }
  const attempt = state.attempts ? ` (attempt ${state.attempts})` : "";
  el.textContent = state.ws ? `connecting…${attempt}`
    : `reconnecting${attempt}, next try in ${Math.max(0, (state.retryAtMs - Date.now()) / 1000).toFixed(1)} s`;
}

function setStale(stale) {
  state.stale = stale;
  $("stale").hidden = !stale;
}

setInterval(() => {
  if (state.ws && Date.now() - Math.max(state.lastMessageMs, state.connectedAtMs) > STALE_AFTER_MS) {
    setStale(true);  // every silence, not only the first: each one closes and reconnects
    const ws = state.ws;
    state.ws = null;
    ws.close();
    scheduleReconnect();
  }
  if (!state.live && state.token) renderStatus();
  if (state.welcome) renderClock();
}, 250);

function onMessage(msg) {
  state.lastMessageMs = Date.now();
  if (state.stale) setStale(false);
  switch (msg.type) {
    case "welcome":
      state.welcome = msg;
      state.offsetMs = msg.server_s * 1000 - Date.now();
      $("who").textContent = `${msg.operator} — ${label("levels", msg.level)}${msg.scope ? " " + msg.scope : ""}`;
      $("tab-audit").hidden = msg.role !== "command_center";  // only the command center sees the audit trail
      $("tab-points").hidden = msg.role !== "command_center";  // points.js: ledgers and shops, the command center's
      if (msg.role !== "command_center") showTab("incidents");
      renderGridFilter();  // grid.js
      renderSiteList();  // community.js: the Sites tab's communities and kiosk halls
      labelActions();
      drawMap();
      break;
    case "snapshot":  // replaces everything: a reconnect never duplicates nor misses
      state.incidents = new Map(msg.incidents.map((i) => [i.id, i]));
      state.seq = msg.seq;
      state.attempts = 0;
      state.live = true;
      state.offsetMs = msg.server_s * 1000 - Date.now();
      renderStatus();
      for (const i of msg.incidents) state.alerted.add(i.id);  // no siren for what was already there
      render();
      sendReceipt(msg.incidents);
      break;
    case "changes": {  // one frame per server tick: every change since the last, in seq order
      const applied = [];
      for (const item of msg.items) {
        if (item.seq <= state.seq) continue;  // already in the snapshot
        state.seq = item.seq;
        state.incidents.set(item.incident.id, item.incident);
        alertIfUrgent(item.incident);
        applied.push(item.incident);
      }
      if (applied.length) { render(); sendReceipt(applied); }
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
      renderAudit(msg.rows, msg.more);
      break;
    case "units":
      renderUnits(msg);
      break;
    case "points_board": case "points_ledger": case "points_statement": case "points_shops": case "points_result":
      renderPoints(msg);  // points.js
      break;
    case "community_view": case "kiosk_hall_view": case "notice_result":
      renderSites(msg);  // community.js, kiosk_hall.js
      break;
    case "community_figures":
      renderGridFigures(msg);  // grid.js: the Sites tab's figures per grid and community
      break;
    case "unit_map":  // map.js: the units layer; figures.js: the patrol figures
      renderUnitMap(msg);
      break;
    case "dispatch":  // units.js: the selected incident's dispatch
      renderDispatch(msg);
      break;
    case "error":  // a 4001 close follows a refused token: onclose takes the operator back to the login screen
      state.lastError = msg.reason;
      toast(msg.reason, true);
      break;
  }
}

// What this console has shown, confirmed once per frame: the open incidents it just rendered, at their versions.
// One message, unless it would pass the server's 16 KiB message limit (a snapshot of hundreds): then in parts.
const RECEIPT_MAX_BYTES = 15000, RECEIPT_MAX_ITEMS = 5000;
function sendReceipt(incidents) {
  const shown = new Map();
  for (const i of incidents) if (!isTerminal(i)) shown.set(i.id, i.version);
  let part = [], bytes = 0;
  for (const entry of shown) {
    const size = JSON.stringify(entry).length + 1;
    if (part.length && (bytes + size > RECEIPT_MAX_BYTES || part.length >= RECEIPT_MAX_ITEMS)) {
      send({ type: "receipt", incidents: part });
      part = [];
      bytes = 0;
    }
    part.push(entry);
    bytes += size;
  }
  if (part.length) send({ type: "receipt", incidents: part });
}

function send(message, what) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
    if (message.type === "command") toast("not connected", true);
    return false;
  }
  if (message.type === "command") {  // commands carry an id, echoed by their result
    message = { ...message, id: state.nextId++ };
    state.pending.set(message.id, what || message.action);
  }
  state.ws.send(JSON.stringify(message));
  return true;
}

window.redband = { send: (m) => state.ws && state.ws.send(JSON.stringify(m)), state };  // for integrators' tests

// -- tabs, sound, toasts -----------------------------------------------------------------------------------

$("tab-incidents").onclick = () => showTab("incidents");
$("tab-audit").onclick = () => showTab("audit");
$("tab-points").onclick = () => showTab("points");
$("tab-sites").onclick = () => showTab("sites");

// The Audit tab's content is audit.js's: it listens to #tab-audit itself, and renderAudit() takes the answers.
function showTab(name) {
  for (const [tab, view] of [["incidents", "incidents-view"], ["audit", "audit"], ["points", "points-view"],
                            ["sites", "sites-view"]]) {
    $(`tab-${tab}`).classList.toggle("active", tab === name);
    $(`tab-${tab}`).setAttribute("aria-selected", String(tab === name));
    $(view).hidden = tab !== name;
  }
  sitesShown(name === "sites");  // community.js: the open site is asked again while shown
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
