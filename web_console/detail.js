// redband console, the detail panel: the selected incident in words (place, device, kind, state, full id), its
// escalation chain (per notified responder: notified, shown, opened, acknowledged, or not delivered), its timeline
// (wall clock and offset, reminders collapsed), and the actions its state and the operator's role allow.
// Uses app.js's state and helpers; "seen" goes to the server once per incident shown here.
"use strict";

const ENDING = ["close", "cancel", "false_alarm"];  // allowed only to the levels in incident.may_end
const NEEDS_REASON = { dispatch: "unit", close: "disposition", cancel: "disposition", false_alarm: "disposition" };
const ACTIONS = ["acknowledge", "dispatch", "on_scene", "resolve", "close", "cancel", "false_alarm", "hand_back"];

const el = (tag, cls, text) => Object.assign(document.createElement(tag), { className: cls || "", textContent: text ?? "" });
const selectedIncident = () => state.incidents.get(state.selected);
const isCommandCenter = () => !!state.welcome && state.welcome.role === "command_center";

// Button words from the welcome's action labels.
function labelActions() {
  for (const action of ACTIONS) $(`act-${action}`).textContent = label("actions", action) + (action === "acknowledge" ? " (A)" : "");
  $("hand-back").hidden = !isCommandCenter();
}

function selectionChanged() {  // nothing typed for one incident carries over to the next
  for (const id of ["unit", "disposition", "hand-back-reason"]) $(id).value = "";
  $("hand-back-level").value = "";
  closeConfirm(false);
  if (typeof unitsSelectionChanged === "function") unitsSelectionChanged();
  if (typeof tipsSelectionChanged === "function") tipsSelectionChanged();
}

function renderDetail() {
  const i = selectedIncident();
  $("detail").hidden = !i;
  $("no-selection").hidden = !!i;
  if (!i) return;
  const site = siteOf(i);
  $("detail-kind").textContent = `P${i.priority} ${label("kinds", i.kind)} · ${label("states", i.state)}`;
  $("detail-title").className = `prio-${i.priority}`;
  $("detail-place").textContent = [site ? site.name : i.site_id, site && site.address, site && site.zone && `zone ${site.zone}`]
    .filter(Boolean).join(" · ");
  $("detail-device").textContent = `${deviceName(i)} · ${label("levels", i.level)}${i.unit ? " · unit " + i.unit : ""}`;
  $("detail-id").textContent = i.id;
  renderChain(i);
  renderTimeline(i);
  renderActions();
  if (typeof renderTipDetail === "function") renderTipDetail(i);  // tips.js: accept / reject / promote
  renderDetailClock();
  if (!state.seenSent.has(i.id) && !isTerminal(i) && send({ type: "seen", incident: i.id })) state.seenSent.add(i.id);
}

function renderDetailClock() {
  const i = selectedIncident();
  if (!i) return;
  const now = nowS();
  $("detail-age").textContent = `raised ${fmtClock(i.raised_s)}, ${fmtSeconds(now - i.raised_s)} ago` +
    (i.deadline_s == null ? "" : ` · escalates in ${fmtSeconds(i.deadline_s - now)}`);
}

// Per rung, per notified responder: notified at, shown on a console (delivered), opened (seen), acknowledged,
// each with its time; "not delivered" when the last word about it is a not_delivered line.
function renderChain(i) {
  $("chain").replaceChildren(...chain().map((level) => {
    const rung = el("li");
    rung.dataset.level = level;
    const notified = i.timeline.filter((e) => e.event === "notified" && e.level === level);
    const acked = i.acked_level === level;
    rung.className = `${notified.length ? "notified" : ""}${i.level === level && !isTerminal(i) ? " holds" : ""}${acked ? " acked" : ""}`;
    rung.append(el("strong", "", label("levels", level)), document.createTextNode(notified.length ? ": notified" : ": not notified"));
    for (const n of notified) rung.append(responderLines(i, n));
    if (acked) rung.append(el("div", "step acked", `acknowledged by ${i.acked_by}` + ackTime(i, level)));
    return rung;
  }));
}

function responderLines(i, n) {
  const box = el("div", "responder");
  const at = (e) => `${fmtClock(e.t_s)} (+${fmtSeconds(e.t_s - i.raised_s)})`;
  const about = (event) => i.timeline.filter((e) => e.event === event && e.target === n.target);
  box.append(el("div", "step", `${n.target} ${at(n)}`));
  const delivered = about("delivered"), seen = about("seen"), missed = about("not_delivered");
  const lastDelivered = delivered.length ? delivered[delivered.length - 1].t_s : -Infinity;
  const lastMissed = missed.length ? missed[missed.length - 1] : null;
  if (delivered.length) box.append(el("div", "step delivered", `shown ${at(delivered[0])}`));
  if (lastMissed && lastMissed.t_s >= lastDelivered) box.append(el("div", "step not-delivered", `not delivered ${at(lastMissed)}`));
  if (seen.length) box.append(el("div", "step seen", `opened ${at(seen[0])}${seen[0].actor ? " by " + seen[0].actor : ""}`));
  return box;
}

function ackTime(i, level) {
  const ack = i.timeline.find((e) => e.event === "acknowledged" && (!e.level || e.level === level));
  return ack ? ` ${fmtClock(ack.t_s)} (+${fmtSeconds(ack.t_s - i.raised_s)})` : "";
}

// One line per event with its wall-clock time and offset; a run of reminders is one line with a count.
function renderTimeline(i) {
  const lines = [];
  for (const e of i.timeline) {
    const last = lines[lines.length - 1];
    if (e.event === "reminder" && last && last.event === "reminder") { last.count += 1; last.lastS = e.t_s; continue; }
    lines.push({ event: e.event, e, count: 1, lastS: e.t_s });
  }
  $("timeline").replaceChildren(...lines.map(({ event, e, count, lastS }) => {
    const line = el("li", `ev-${event}`);
    line.append(el("span", "clock", fmtClock(e.t_s)), el("span", "offset", `+${fmtSeconds(e.t_s - i.raised_s)}`));
    const what = count > 1 ? `${label("timeline", event)} ×${count}, last ${fmtClock(lastS)}`
      : label("timeline", event) + (e.level ? " · " + label("levels", e.level) : "") + (e.target ? " → " + e.target : "") +
        (e.actor && e.actor !== "system" ? " by " + e.actor : "") + (e.note ? ` (${e.note})` : "");
    line.append(el("span", "what", what));
    return line;
  }));
}

// -- actions --------------------------------------------------------------------------------------------

function allowed(i, action) {
  if (!i || !state.welcome || !((labels().transitions || {})[i.state] || []).includes(action)) return false;
  if (ENDING.includes(action) && !(i.may_end || []).includes(state.welcome.level)) return false;
  if (action === "hand_back") return isCommandCenter() && handBackLevels(i).length > 0;
  return true;
}

function ready(action) {  // the words an action needs have been typed
  if (action === "hand_back") return !!$("hand-back-level").value && !!$("hand-back-reason").value.trim();
  return !NEEDS_REASON[action] || !!$(NEEDS_REASON[action]).value.trim();
}

// The lower levels the command center may hand back to: the ones that were notified.
function handBackLevels(i) {
  const rungs = chain();
  return rungs.filter((level) => rungs.indexOf(level) < rungs.indexOf(state.welcome.level) &&
    i.timeline.some((e) => e.event === "notified" && e.level === level));
}

function renderActions() {
  const i = selectedIncident();
  for (const action of ACTIONS) {
    const ok = allowed(i, action);
    $(`act-${action}`).disabled = !(ok && ready(action));
    $(`act-${action}`).classList.toggle("needs-input", ok && !ready(action));
  }
  const levels = i && isCommandCenter() ? handBackLevels(i) : [];
  const select = $("hand-back-level"), chosen = select.value;
  if (select.dataset.levels === levels.join()) return;  // unchanged: an open drop-down stays open
  select.dataset.levels = levels.join();
  select.replaceChildren(Object.assign(el("option", "", "hand back to…"), { value: "" }),
    ...levels.map((l) => Object.assign(el("option", "", label("levels", l)), { value: l })));
  select.value = levels.includes(chosen) ? chosen : "";
}

async function act(action) {
  const i = selectedIncident();
  if (!allowed(i, action) || !ready(action)) return;
  const extra = {};
  if (action === "dispatch") extra.unit = $("unit").value.trim();
  if (ENDING.includes(action)) extra.disposition = $("disposition").value.trim();
  if (action === "hand_back") Object.assign(extra, { to_level: $("hand-back-level").value, note: $("hand-back-reason").value.trim() });
  if ((action === "false_alarm" || action === "close") && i.priority === 1 &&
      !(await confirmAction(`${label("actions", action)} this P1 ${label("kinds", i.kind)} (${i.id})?`))) return;
  send({ type: "command", action, incident: i.id, ...extra }, `${label("actions", action)} ${i.id}`);
}

for (const action of ACTIONS) $(`act-${action}`).onclick = () => act(action);
for (const id of ["unit", "disposition", "hand-back-reason", "hand-back-level"]) $(id).addEventListener("input", renderActions);

// A small in-page confirmation (not window.confirm: it would stop the page, its clocks and its socket).
let confirmResolve = null;
function confirmAction(text) {
  closeConfirm(false);
  $("confirm-text").textContent = text;
  $("confirm").hidden = false;
  $("confirm-yes").focus();
  return new Promise((resolve) => { confirmResolve = resolve; });
}
function closeConfirm(answer) {
  $("confirm").hidden = true;
  if (confirmResolve) { const resolve = confirmResolve; confirmResolve = null; resolve(answer); }
}
$("confirm-yes").onclick = () => closeConfirm(true);
$("confirm-no").onclick = () => closeConfirm(false);

// Keys: A acknowledges (no Ctrl, Cmd or Alt; not while typing), ↑/↓ move the selection, Escape dismisses the dialog.
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !$("confirm").hidden) { closeConfirm(false); return; }
  if (event.ctrlKey || event.metaKey || event.altKey) return;  // Ctrl+A selects text; it never acknowledges
  if (/^(INPUT|SELECT|TEXTAREA)$/.test(event.target.tagName) || event.target.isContentEditable) return;
  if ($("app").hidden || $("incidents-view").hidden || !$("confirm").hidden) return;
  const rows = sortedOpen();
  const index = rows.findIndex((i) => i.id === state.selected);
  if (event.key === "a" || event.key === "A") { act("acknowledge"); event.preventDefault(); }
  else if (event.key === "ArrowDown") { select(rows[Math.min(rows.length - 1, index + 1)]?.id); event.preventDefault(); }
  else if (event.key === "ArrowUp") { select(rows[Math.max(0, index - 1)]?.id); event.preventDefault(); }
});
