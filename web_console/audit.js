// redband console, the audit view (command center only): the audit trail newest first, 50 rows a page, paged
// with the `before` cursor, filtered by operator, action, outcome and time range, the first page refreshed while
// the tab is open. Sends {"type":"audit",...} through app.js's send(); app.js hands the answer to renderAudit().
"use strict";

const AUDIT_PAGE_ROWS = 50;
// the first page asked again this often while the tab is open. 3 s; tests set a shorter
// window.REDBAND_AUDIT_LIVE_EVERY_MS before the page loads.
const AUDIT_LIVE_EVERY_MS = Number(window.REDBAND_AUDIT_LIVE_EVERY_MS) > 0 ? Number(window.REDBAND_AUDIT_LIVE_EVERY_MS)
  : 3000;
const AUDIT_ANSWER_WITHIN_MS = 10000;   // an unanswered query older than this is given up
const AUDIT_ROLES = { command_center: "command_center", station: "police_station", guard_room: "guard_room" };

const auditView = {
  before: null, cursors: [], rows: [], more: false,  // cursors: the `before` of each newer page, for "Newer"
  toTop: false, ws: null, sent: 0, answered: 0, sentMs: 0, loadedMs: 0, filters: {},
  seenActors: new Set(), seenActions: new Set(),
};
const auditEl = (id) => document.getElementById(id);

function auditOpen() {
  const section = auditEl("audit");
  return !!section && !section.hidden && section.offsetParent !== null;
}

function auditConnected() {
  return typeof state !== "undefined" && state.ws && state.ws.readyState === WebSocket.OPEN;
}

// A datetime-local value as server seconds (the trail's times are shown in local time without correction too).
function auditSeconds(value) {
  const ms = value ? new Date(value).getTime() : NaN;
  return Number.isFinite(ms) ? ms / 1000 : null;
}

// An action typed as the table shows it ("Acknowledge") is asked for by its wire value ("acknowledge").
function auditAction(typed) {
  const known = (state.welcome && state.welcome.labels.actions) || {};
  const match = Object.entries(known).find(([, text]) => text.toLowerCase() === typed.toLowerCase());
  return match ? match[0] : typed;
}

function auditFilters() {
  return {
    actor: auditEl("audit-actor").value.trim(), action: auditAction(auditEl("audit-action").value.trim()),
    outcome: auditEl("audit-outcome").value, since_s: auditSeconds(auditEl("audit-since").value),
    until_s: auditSeconds(auditEl("audit-until").value),
  };
}

function auditQuery() {
  if (!auditConnected()) { auditStatus("not connected"); return; }
  if (auditView.answered < auditView.sent && !auditWaiting()) auditView.answered = auditView.sent;  // lost answers
  auditView.sent += 1;
  auditView.sentMs = Date.now();
  auditView.ws = state.ws;
  auditStatus("loading…");
  send({ type: "audit", limit: AUDIT_PAGE_ROWS, before: auditView.before, ...auditView.filters }, "audit");
}

// A query is on its way: asked on this connection (a reconnect loses the answer) and not too long ago.
function auditWaiting() {
  return auditView.answered < auditView.sent && auditView.ws === state.ws &&
    Date.now() - auditView.sentMs < AUDIT_ANSWER_WITHIN_MS;
}

function auditFirstPage() {
  auditView.filters = auditFilters();
  auditView.toTop = true;
  auditView.before = null;
  auditView.cursors = [];
  auditQuery();
}

// app.js calls this with each {"type":"audit"} answer; only the answer to the latest query is shown.
function renderAudit(rows, more) {
  auditView.answered += 1;
  if (auditView.answered < auditView.sent) return;  // a newer query is on its way
  auditView.answered = auditView.sent;
  auditView.rows = rows;
  auditView.more = more === undefined ? rows.length >= AUDIT_PAGE_ROWS : !!more;
  auditView.loadedMs = Date.now();
  for (const r of rows) { auditView.seenActors.add(r.actor); auditView.seenActions.add(r.action); }
  const tbody = auditEl("audit-rows");
  tbody.replaceChildren(...rows.map(auditRow));
  auditEl("audit-empty").hidden = rows.length > 0;
  auditEl("audit-older").disabled = !auditView.more || !rows.length;
  auditEl("audit-newer").disabled = auditView.cursors.length === 0;
  auditEl("audit-page").textContent = `Page ${auditView.cursors.length + 1}`;
  auditEl("audit-page").dataset.page = String(auditView.cursors.length + 1);
  auditStatus(`${rows.length} row${rows.length === 1 ? "" : "s"} · updated ${new Date().toLocaleTimeString()}`);
  if (auditView.toTop) auditEl("audit-scroll").scrollTop = 0;  // a new page starts at its top; a refresh stays put
  auditView.toTop = false;
  auditSuggestions();
}

function auditWhen(t_s) {
  const d = new Date(t_s * 1000), two = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

function auditRole(role) {
  if (AUDIT_ROLES[role]) return label("levels", AUDIT_ROLES[role]);
  return role ? role.charAt(0).toUpperCase() + role.slice(1) : "—";
}

function auditRow(r) {
  const tr = document.createElement("tr");
  tr.dataset.id = String(r.id);
  tr.dataset.t = String(r.t_s);
  tr.className = `outcome-${r.outcome}`;
  const cells = [["when", auditWhen(r.t_s), new Date(r.t_s * 1000).toString()], ["who", r.actor || "—", ""],
    ["role", auditRole(r.role), r.role], ["scope", r.scope || "—", ""],
    ["action", label("actions", r.action), r.action], ["target", r.target, r.target],
    ["outcome", r.outcome, ""], ["reason", r.reason, ""]];
  for (const [cls, text, hint] of cells) {
    const td = Object.assign(document.createElement("td"), { className: cls, textContent: text });
    if (hint) td.title = hint;
    tr.appendChild(td);
  }
  return tr;
}

function auditStatus(text) {
  const el = auditEl("audit-status");
  if (el) el.textContent = text;
}

// The operator and action boxes suggest what the trail and the welcome's labels know.
function auditSuggestions() {
  const known = (state.welcome && state.welcome.labels.actions) || {};
  const actions = new Set([...Object.keys(known), ...auditView.seenActions]);
  const fill = (id, values) => auditEl(id).replaceChildren(...[...values].filter(Boolean).sort()
    .map((v) => Object.assign(document.createElement("option"), { value: v })));
  fill("audit-actors", auditView.seenActors);
  fill("audit-actions", actions);
}

function auditInit() {
  if (!auditEl("audit-filters")) return;
  auditEl("audit-filters").addEventListener("submit", (event) => { event.preventDefault(); auditFirstPage(); });
  auditEl("audit-outcome").addEventListener("change", auditFirstPage);
  auditEl("audit-clear").addEventListener("click", () => { auditEl("audit-filters").reset(); auditFirstPage(); });
  auditEl("audit-refresh").addEventListener("click", auditQuery);
  auditEl("audit-older").addEventListener("click", () => {
    if (!auditView.more || !auditView.rows.length || !auditConnected()) return;
    auditView.cursors.push(auditView.before);
    auditView.before = auditView.rows[auditView.rows.length - 1].id;
    auditView.toTop = true;
    auditQuery();
  });
  auditEl("audit-newer").addEventListener("click", () => {
    if (!auditView.cursors.length || !auditConnected()) return;
    auditView.before = auditView.cursors.pop();
    auditView.toTop = true;
    auditQuery();
  });
  const tab = auditEl("tab-audit");
  // Opened: the first time, the first page; again, the page it was left on, afresh.
  if (tab) tab.addEventListener("click", () => setTimeout(() => {
    if (auditOpen()) { if (auditView.sent) auditQuery(); else auditFirstPage(); }
  }, 0));
  // Live: the first page is asked again every few seconds while the tab is open; a page further back stays put.
  setInterval(() => {
    if (!auditOpen() || !auditEl("audit-live").checked || auditView.before !== null || !auditConnected()) return;
    const since = Date.now() - Math.max(auditView.loadedMs, auditView.sentMs);
    if (!auditWaiting() && since >= AUDIT_LIVE_EVERY_MS) auditQuery();
  }, 500);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", auditInit);
else auditInit();
