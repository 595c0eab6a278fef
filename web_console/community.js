// redband console, the Sites tab (issue 15): the list of the communities and kiosk halls the operator sees (narrowed
// by the grid filter, grid.js), and a community's view: its doors with their state, cameras, visitor calls open and
// recent with their outcome, its figures, and its notices with their receipts beside the notice composer (text,
// validity window, targets: the whole community, buildings or units; withdraw). Sends {"type":"community"} every
// few seconds while shown, "post_notice" and "withdraw_notice"; app.js hands the answers to renderSites().
// kiosk_hall.js draws a kiosk hall. Text only: every value goes in with textContent.
"use strict";

// the open site asked again this often while the Sites tab is shown. 2 s; tests set a shorter
// window.REDBAND_SITES_REFRESH_MS before the page loads.
const SITES_REFRESH_MS = Number(window.REDBAND_SITES_REFRESH_MS) > 0 ? Number(window.REDBAND_SITES_REFRESH_MS) : 2000;
const sitesView = { site: null, kind: null, timer: null, nextId: 1, pending: new Map(), last: null };
const siteEl = (id) => document.getElementById(id);
const CALL_OUTCOMES = { opened: "Opened", not_opened: "Answered, door not opened", denied: "Denied", missed: "Missed" };
const CALL_FIGURES = [["calls_open", "Calls ringing"], ["opened", "Opened"], ["denied", "Denied"],
  ["missed", "Missed"], ["not_opened", "Not opened"], ["doors_open", "Doors open"], ["offline", "Devices offline"],
  ["open_incidents", "Open incidents"], ["notices_in_force", "Notices in force"], ["alarms", "Alarms"],
  ["visitor_calls", "Visitor calls (all time)"], ["missed_calls", "Missed calls (all time)"],
  ["open_tickets", "Open tickets"], ["doors_held_open", "Doors held open (all time)"],
  ["doors_forced", "Doors forced (all time)"], ["throws", "Thrown objects (all time)"]];

function sitesText(tag, text, cls = "") {
  return Object.assign(document.createElement(tag), { textContent: text == null ? "" : String(text), className: cls });
}

function sitesRow(cells, cls = "") {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const [text, c] of cells) tr.append(sitesText("td", text, c || ""));
  return tr;
}

function sitesFill(body, rows, empty) {
  body.replaceChildren(...rows);
  if (!rows.length) body.append(sitesRow([[empty, "muted"]]));
}

// -- the list of sites ---------------------------------------------------------------------------------------

function viewableSites() {  // the welcome's map holds only the sites of the operator's jurisdiction
  const sites = (state.welcome && state.welcome.map.sites) || [];
  return sites.filter((s) => (s.kind === "community" || s.kind === "kiosk_hall") && siteInGrid(s));
}

function renderSiteList() {
  const list = siteEl("sites-list");
  if (!list) return;
  const sites = viewableSites().sort((a, b) => a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id));
  list.replaceChildren(...sites.map((s) => {
    const li = document.createElement("li");
    const button = sitesText("button", `${s.name} · ${label("sites", s.kind)}`, s.id === sitesView.site ? "active" : "");
    button.type = "button";
    button.dataset.site = s.id;
    button.title = `${s.id}${s.zone ? " · " + s.zone : ""}`;
    button.onclick = () => openSite(s.id, s.kind);
    li.append(button);
    return li;
  }));
  if (!sites.length) list.append(sitesText("li", "No community or kiosk hall here.", "muted"));
  siteEl("tab-sites").hidden = !(state.welcome && state.welcome.map.sites.some(
    (s) => s.kind === "community" || s.kind === "kiosk_hall"));
}

function openSite(site, kind) {
  sitesView.site = site;
  sitesView.kind = kind;
  siteEl("community-view").hidden = kind !== "community";
  siteEl("kiosk-view").hidden = kind !== "kiosk_hall";
  renderSiteList();
  askSite();
}

function askSite() {
  if (siteEl("sites-view").hidden) return;
  askGridFigures();  // grid.js: the figures per grid and community
  if (!sitesView.site) return;
  if (sitesView.kind === "community") send({ type: "community", site: sitesView.site });
  else send({ type: "kiosk_hall", hall: sitesView.site });
}

function sitesShown(shown) {  // app.js's showTab: poll the open site only while the tab is shown
  clearInterval(sitesView.timer);
  sitesView.timer = null;
  if (!shown) return;
  renderSiteList();
  askSite();
  sitesView.timer = setInterval(askSite, SITES_REFRESH_MS);
}

// -- answers -------------------------------------------------------------------------------------------------

function renderSites(msg) {
  switch (msg.type) {
    case "community_view": if (msg.site === sitesView.site) renderCommunity(msg); break;
    case "kiosk_hall_view": if (msg.hall === sitesView.site) renderKioskHall(msg); break;  // kiosk_hall.js
    case "notice_result": renderNoticeResult(msg); break;
  }
}

function sinceText(t_s, server_s) { return t_s == null ? "" : `${fmtClock(t_s)} (${fmtSeconds(server_s - t_s)} ago)`; }

function renderCommunity(v) {
  sitesView.last = v;
  siteEl("community-title").textContent = `${v.name} · ${v.site}`;
  siteEl("community-place").textContent = [v.address, v.zone, `precinct ${v.precinct}`].filter(Boolean).join(" · ");
  const figures = siteEl("community-figures");
  figures.replaceChildren(...CALL_FIGURES.filter(([k]) => v.figures[k] !== undefined).flatMap(([k, name]) => {
    const dd = sitesText("dd", v.figures[k]);
    dd.dataset.figure = k;
    return [sitesText("dt", name), dd];
  }));
  sitesFill(siteEl("community-doors"), v.doors.map((d) => {
    const status = d.offline ? "offline" : d.open ? `open since ${sinceText(d.open_since_s, v.server_s)}` : "closed";
    const tr = sitesRow([[d.label || d.door], [d.building], [status, "door-state"],
      [d.alarms.map((k) => label("kinds", k)).join(", "), "alarms"]],
      `${d.open ? "open" : ""} ${d.offline ? "offline" : ""} ${d.alarms.length ? "alarm" : ""}`.trim());
    tr.dataset.door = d.door;
    const open = sitesText("button", "Open", "open-door");
    open.type = "button";
    open.title = "open this door remotely (the reason is audited)";
    open.onclick = () => openDoor(d.door);
    const td = document.createElement("td");
    td.append(open);
    tr.append(td);
    return tr;
  }), "No doors.");
  sitesFill(siteEl("community-cameras"), v.cameras.map((c) => {
    const tr = sitesRow([[c.label || c.camera], [c.offline ? "offline" : "online", "camera-state"],
      [c.alarms.map((k) => label("kinds", k)).join(", "), "alarms"]], c.offline ? "offline" : "");
    tr.dataset.camera = c.camera;
    return tr;
  }), "No cameras.");
  const calls = [...v.calls_open.map((c) => callRow(c, v, true)), ...v.calls_recent.map((c) => callRow(c, v, false))];
  sitesFill(siteEl("community-calls"), calls, "No visitor calls yet.");
  renderNotices(v);
}

// A remote open (the gateway checks the jurisdiction and the reason, the door's host audits it): answered "result",
// shown by app.js's toast under the name given here.
function openDoor(door) {
  const id = state.nextId++;
  state.pending.set(id, `open ${door}`);
  send({ type: "open_door", id, door, reason: siteEl("open-door-reason").value });
}

function callRow(c, v, open) {
  const outcome = open ? (c.answer === "open" ? "answered open, waiting for the door" : "ringing")
    : (CALL_OUTCOMES[c.outcome] || c.outcome);
  const latency = c.latency_ms == null ? "" : `${Math.round(c.latency_ms)} ms`;
  const tr = sitesRow([[fmtClock(c.started_s)], [c.unit, "unit"], [c.door], [outcome, "outcome"], [c.by, "by"],
    [latency, "num"]], open ? "call-open" : `call-${c.outcome}`);
  tr.dataset.call = c.call;
  tr.dataset.outcome = open ? "open" : c.outcome;
  return tr;
}

// -- notices -------------------------------------------------------------------------------------------------

function renderNotices(v) {
  const panel = siteEl("notices-panel");
  panel.hidden = v.notices === null || v.notices === undefined;
  if (panel.hidden) return;
  const datalist = siteEl("notice-buildings");
  datalist.replaceChildren(...v.buildings.map((b) => Object.assign(document.createElement("option"), { value: b })));
  sitesFill(siteEl("community-notices"), v.notices.map((n) => {
    const targets = n.buildings.length || n.units.length
      ? [n.buildings.length ? `buildings ${n.buildings.join(", ")}` : "", n.units.length ? `units ${n.units.join(", ")}` : ""]
        .filter(Boolean).join("; ")
      : "whole community";
    const tr = document.createElement("tr");
    tr.className = `notice-${n.state}`;
    tr.dataset.notice = n.notice;
    tr.append(sitesText("td", n.title ? `${n.title}: ${n.text}` : n.text, "text"), sitesText("td", targets),
      sitesText("td", `${whenText(n.valid_from_s)} – ${whenText(n.valid_until_s)}`),
      sitesText("td", n.state, "state"),
      sitesText("td", `${n.shown.length} shown / ${n.pending.length} pending`, "receipts"));
    tr.querySelector(".receipts").title = [n.shown.length ? `shown: ${n.shown.join(", ")}` : "",
      n.pending.length ? `pending: ${n.pending.join(", ")}` : ""].filter(Boolean).join("\n");
    const td = document.createElement("td");
    if (n.state === "active" || n.state === "scheduled") {
      const button = sitesText("button", "Withdraw", "withdraw");
      button.type = "button";
      button.onclick = () => noticeCommand({ type: "withdraw_notice", site: v.site, notice: n.notice,
        reason: siteEl("notice-withdraw-reason").value.trim() }, `withdraw ${n.notice}`);
      td.append(button);
    }
    tr.append(td);
    return tr;
  }), "No notices.");
}

function whenText(t_s) {  // a time today as "HH:MM:SS", another day's with its date
  const day = (t) => new Date(t * 1000).toDateString();
  return day(t_s) === day(nowS()) ? fmtClock(t_s) : `${new Date(t_s * 1000).toLocaleDateString()} ${fmtClock(t_s)}`;
}

function noticeCommand(message, what) {
  const id = sitesView.nextId++;
  sitesView.pending.set(id, what);
  send({ ...message, id });
}

function splitTargets(text) { return text.split(/[\s,;]+/).map((t) => t.trim()).filter(Boolean); }

function localSeconds(input, fallback_s) {  // a datetime-local value, read in the browser's time zone
  const ms = input.value ? new Date(input.value).getTime() : NaN;
  return Number.isFinite(ms) ? ms / 1000 : fallback_s;
}

function postNotice(event) {
  event.preventDefault();
  if (!sitesView.site || sitesView.kind !== "community") return;
  const now = nowS();
  const from_s = localSeconds(siteEl("notice-from"), 0);
  const until_s = localSeconds(siteEl("notice-until"), Math.max(now, from_s) + 3600 * Number(siteEl("notice-hours").value || 24));
  const targets = splitTargets(siteEl("notice-targets").value);
  const to = siteEl("notice-to").value;
  noticeCommand({ type: "post_notice", site: sitesView.site, notice: `n${Date.now().toString(36)}${sitesView.nextId}`,
    text: siteEl("notice-text").value, title: siteEl("notice-title").value.trim(), level: siteEl("notice-level").value,
    valid_from_s: from_s, valid_until_s: until_s, buildings: to === "buildings" ? targets : [],
    units: to === "units" ? targets : [] }, "post notice");
}

function renderNoticeResult(r) {
  const what = sitesView.pending.get(r.id) || r.action;
  sitesView.pending.delete(r.id);
  const out = siteEl("notice-result");
  out.textContent = r.ok ? `${what}: done${r.notice ? ` (${r.notice.state})` : ""}` : `${what}: refused — ${r.field ? r.field + ": " : ""}${r.reason}`;
  out.dataset.code = r.ok ? "ok" : r.code;
  out.className = r.ok ? "" : "bad";
  if (r.ok && r.action === "post_notice") siteEl("notice-text").value = "";
  askSite();
}

siteEl("notice-form").addEventListener("submit", postNotice);
siteEl("notice-to").addEventListener("change", () => {
  siteEl("notice-targets").disabled = siteEl("notice-to").value === "community";
});
