// redband console, the detail panel: the selected incident's title, escalation chain, timeline and actions.
// Loaded after app.js, whose state and helpers it uses.
"use strict";

function renderDetail() {
  const i = state.incidents.get(state.selected);
  $("detail").hidden = !i;
  if (!i) return;
  $("detail-title").textContent =
    `${i.id} · ${label("kinds", i.kind)} · ${label("states", i.state)}${i.unit ? " · " + i.unit : ""}`;
  const rungs = chain().map((level) => {
    const li = document.createElement("li");
    const notified = i.timeline.find((e) => e.event === "notified" && e.level === level);
    const acked = i.acked_level === level;
    li.className = `${notified ? "notified" : ""}${i.level === level && !isTerminal(i) ? " holds" : ""}${acked ? " acked" : ""}`;
    li.dataset.level = level;
    const when = notified ? `notified +${fmtSeconds(notified.t_s - i.raised_s)} (${notified.target})` : "not notified";
    li.textContent = `${label("levels", level)}: ${when}${acked ? ` · acknowledged by ${i.acked_by}` : ""}`;
    return li;
  });
  $("chain").replaceChildren(...rungs);
  $("timeline").replaceChildren(...i.timeline.map((e) => {
    const li = document.createElement("li");
    li.textContent = `+${fmtSeconds(e.t_s - i.raised_s)} ${label("timeline", e.event)}` +
      `${e.level ? " · " + label("levels", e.level) : ""}` +
      `${e.target ? " → " + e.target : ""}${e.actor && e.actor !== "system" ? " by " + e.actor : ""}${e.note ? " (" + e.note + ")" : ""}`;
    return li;
  }));
}
