// redband console, tips: the station's review queue of volunteers' tips (open patrol.clue incidents not yet reviewed,
// oldest first: category, text, reporter, photo reference, age) as a tab of the queue panel, and the review of the
// selected tip in the detail panel: accept (note optional), reject (reason needed), promote (priority 1-3). Enabled
// from the welcome's transitions and the incident's may_end like every action; the server decides in the end
// (docs/console-protocol.md, "Commands"). Uses app.js's state and helpers, queue.js's select and deviceName.
"use strict";

const TIP_ACTIONS = ["accept", "reject", "promote"];
const TIP_ENDING = ["accept", "reject"];  // end the incident: only the levels in may_end
const tips = { view: "all" };  // the queue panel shows "all" open incidents or the "tips" under review

const underReview = (i) => !!i && i.kind === "patrol.clue" && !!i.tip && i.tip.verdict == null && !isTerminal(i);
const openTips = () => [...state.incidents.values()].filter(underReview).sort((a, b) => a.raised_s - b.raised_s);

function showQueueView(view) {
  tips.view = view;
  for (const [name, button] of [["all", $("queue-all")], ["tips", $("queue-tips")]]) {
    button.classList.toggle("active", name === view);
    button.setAttribute("aria-selected", String(name === view));
  }
  $("queue").hidden = view !== "all";
  $("tips-queue").hidden = view !== "tips";
  render();
}

function photoRef(photo) {  // a reference, never the photo: a link when it is a web address, else its name
  if (!photo) return el("span", "muted", "no photo");
  if (/^https?:\/\//i.test(photo)) {
    return Object.assign(el("a", "photo", `photo: ${photo.split("/").pop()}`), { href: photo, target: "_blank", rel: "noopener noreferrer" });
  }
  return Object.assign(el("span", "photo", photo), { title: `photo reference: ${photo}` });
}

function tipRow(i) {
  const tr = document.createElement("tr");
  tr.dataset.id = i.id;
  tr.className = `tip prio-${i.priority}` + (i.id === state.selected ? " selected" : "");
  const text = i.tip.text.length > 80 ? i.tip.text.slice(0, 79) + "…" : i.tip.text;
  const td = (cls, ...children) => { const c = el("td", cls); c.append(...children); return c; };
  tr.append(td("category", i.tip.category || "—"), Object.assign(td("text", text), { title: i.tip.text }),
    Object.assign(td("reporter", i.tip.reporter || "unknown"), { title: deviceName(i) }), td("photo-ref", photoRef(i.tip.photo)),
    td("age", ""));
  tr.onclick = () => select(i.id);
  return tr;
}

// The Tips tab's rows, redrawn from the incidents at every render (tips are few); its count shows on the tab.
function renderTips() {
  const rows = openTips();
  $("queue-tips").textContent = rows.length ? `Tips (${rows.length})` : "Tips";
  $("tips-empty").hidden = tips.view !== "tips" || rows.length > 0;
  if (tips.view !== "tips") return;
  $("tips-queue").querySelector("tbody").replaceChildren(...rows.map(tipRow));
  $("empty").hidden = true;
  renderTipsClock();
}

function renderTipsClock() {
  if (tips.view !== "tips") return;
  const now = nowS();
  for (const tr of $("tips-queue").querySelectorAll("tbody tr")) {
    const i = state.incidents.get(tr.dataset.id);
    if (i) setText(tr.querySelector(".age"), fmtSeconds(now - i.raised_s));
  }
}

// -- the selected tip in the detail panel -----------------------------------------------------------------

function tipAllowed(i, action) {
  if (!underReview(i) || !state.welcome || !((labels().transitions || {})[i.state] || []).includes(action)) return false;
  return !TIP_ENDING.includes(action) || (i.may_end || []).includes(state.welcome.level);
}

const tipReady = (action) => action !== "reject" || !!$("tip-note").value.trim();

function renderTipDetail(i) {
  const box = $("tip-review");
  box.hidden = !(i && i.tip);
  if (box.hidden) return;
  $("tip-what").replaceChildren(el("strong", "", i.tip.category || "tip"), document.createTextNode(` ${i.tip.text} `),
    el("span", "sub", `· reported by ${i.tip.reporter || "unknown"} · photo `), photoRef(i.tip.photo));
  $("tip-verdict").textContent = i.tip.verdict ? `${i.tip.verdict}${i.tip.reason ? ": " + i.tip.reason : ""}` : "";
  $("tip-actions").hidden = !underReview(i);
  for (const action of TIP_ACTIONS) {
    const ok = tipAllowed(i, action), button = $(`act-${action}`);
    button.textContent = label("actions", action);
    button.disabled = !(ok && tipReady(action));
    button.classList.toggle("needs-input", ok && !tipReady(action));
  }
}

function tipsSelectionChanged() {
  $("tip-note").value = "";
  $("tip-priority").value = "2";
}

function review(action) {
  const i = selectedIncident();
  if (!tipAllowed(i, action) || !tipReady(action)) return;
  const message = { type: "command", action, incident: i.id, note: $("tip-note").value.trim() };
  if (action === "promote") message.priority = Number($("tip-priority").value);
  send(message, `${label("actions", action)} ${i.id}`);
}

for (const action of TIP_ACTIONS) $(`act-${action}`).onclick = () => review(action);
$("tip-note").addEventListener("input", () => renderTipDetail(selectedIncident()));
$("queue-all").onclick = () => showQueueView("all");
$("queue-tips").onclick = () => showQueueView("tips");
