// redband console, the side panel's words: device health (offline devices grouped per site, one line a site) and
// the figures (open incidents by level, mean time to acknowledge, and the engine's counters from the command
// center's heartbeats). Both read the same supervision numbers, so they agree. Uses app.js's state and helpers.
"use strict";

const DEVICE_OFFLINE = "device.offline", SITE_OFFLINE = "site.offline";  // the kinds device supervision raises

function li(text, cls = "") {
  return Object.assign(document.createElement("li"), { textContent: text, className: cls });
}

// One line per site: its name, how many of its devices are offline, since when (the oldest); a whole site out
// (site.offline) says so.
function renderHealth() {
  const open = sortedOpen();
  const sites = new Map();
  for (const i of open) {
    if (i.kind !== DEVICE_OFFLINE && i.kind !== SITE_OFFLINE) continue;
    const entry = sites.get(i.site_id) || { devices: [], whole: null, since: Infinity };
    if (i.kind === SITE_OFFLINE) entry.whole = i;
    else entry.devices.push(i);
    entry.since = Math.min(entry.since, i.raised_s);
    sites.set(i.site_id, entry);
  }
  const now = nowS();
  const lines = [...sites].sort((a, b) => a[1].since - b[1].since).map(([siteId, entry]) => {
    const site = mapInfo("sites", siteId);
    const n = entry.devices.length;
    const what = entry.whole ? `${label("kinds", SITE_OFFLINE)}: every supervised device${n ? `, and ${n} more` : ""}`
      : `${n} device${n > 1 ? "s" : ""} offline${n === 1 ? ` (${deviceName(entry.devices[0])})` : ""}`;
    const line = li(`${site ? site.name : siteId}: ${what}, since ${fmtClock(entry.since)} (${fmtSeconds(now - entry.since)})`,
      entry.whole ? "site-out" : "");
    line.dataset.site = siteId;
    line.title = [entry.whole, ...entry.devices].filter(Boolean).map((i) => `${deviceName(i)} · ${i.id}`).join("\n");
    line.onclick = () => select((entry.whole || entry.devices[0]).id);
    return line;
  });
  $("health").replaceChildren(...(lines.length ? lines : [li("all supervised devices reporting", "muted")]));
  const offlineDevices = new Set(open.filter((i) => i.kind === DEVICE_OFFLINE).map((i) => i.device_id));
  const outSites = new Set(open.filter((i) => i.kind === SITE_OFFLINE).map((i) => i.site_id));
  const mapKey = [...offlineDevices, "|", ...outSites].join();  // thousands of dots: touched only when this changes
  const dots = $("map").querySelectorAll(".device[data-id]");
  if (!dots.length || dots[0].offlineKey === mapKey) return;  // a redrawn map has new dots, without the key
  dots[0].offlineKey = mapKey;
  for (const dot of dots) {
    const device = mapInfo("devices", dot.dataset.id);
    dot.classList.toggle("offline", offlineDevices.has(dot.dataset.id) || (!!device && outSites.has(device.site)));
  }
}

function renderFigures() {
  const open = sortedOpen();
  const byLevel = new Map(chain().map((level) => [level, 0]));
  for (const i of open) byLevel.set(i.level, (byLevel.get(i.level) || 0) + 1);
  const ackTimes = [...state.incidents.values()].map((i) => {
    const ack = i.timeline.find((e) => e.event === "acknowledged");
    return ack ? ack.t_s - i.raised_s : null;
  }).filter((t) => t !== null);
  const mean = ackTimes.length ? ackTimes.reduce((a, b) => a + b, 0) / ackTimes.length : null;
  const items = [["Open incidents", open.length],
                 ...[...byLevel].map(([level, n]) => [`at ${label("levels", level)}`, n, "by-level"]),
                 ["Mean time to acknowledge", mean === null ? "—" : `${fmtSeconds(mean)} (${ackTimes.length})`]];
  const e = state.engine;
  if (e) {
    const n = (v) => Number(v || 0).toLocaleString();
    items.push(["Device events /s", Math.round(e.events_per_s).toLocaleString()]);
    if (e.devices_supervised !== undefined) {  // device health: the supervision that raises device.offline
      items.push(["Devices reporting", `${n(e.devices_online)} of ${n(e.devices_supervised)} supervised`],
                 ["Devices offline", n(e.devices_offline)]);
      if (e.sites_offline !== undefined) items.push(["Sites offline", n(e.sites_offline)]);
    } else {
      items.push(["Devices heard from", `${n(e.devices_active)} of ${n(e.devices)}`]);
    }
  }
  items.push(...patrolFigures(state.patrol));
  $("figures").replaceChildren(...items.flatMap(([k, v, cls]) => [
    Object.assign(document.createElement("dt"), { textContent: k, className: cls || "" }),
    Object.assign(document.createElement("dd"), { textContent: String(v), className: cls || "" })]));
}

// Patrols and dispatch, from the unit map's answer (map_units.js): the hosts of the operator's precinct, or all.
function patrolFigures(p) {
  if (!p) return [];
  const n = (v) => Number(v || 0).toLocaleString(), d = p.dispatch || {};
  const byState = Object.entries(p.units_by_state).filter(([, count]) => count > 0)
    .map(([s, count]) => `${label("unit_states", s)} ${n(count)}`).join(", ");
  const items = [["Patrols under way", n(p.patrols_active), "patrol"],
                 ["Valid patrol hours", `${Number(p.valid_hours).toFixed(1)} h in ${n(p.patrols_ended)} patrols`, "patrol"],
                 ["Units", byState || "none", "patrol"],
                 ["Offers", `${n(d.OfferSent)} sent · ${n(d.OfferDeclined)} declined · ${n(d.OfferExpired)} expired`, "patrol"],
                 ["Tasks", `${n(d.TaskAssigned)} accepted · ${n(d.TaskDone)} done · ${n(d.TaskCancelled)} cancelled`, "patrol"]];
  for (const t of p.teams.slice(0, 3)) items.push([`Team ${t.team}`, `${t.valid_hours.toFixed(1)} h, ${n(t.patrols)} patrols`, "patrol team"]);
  return items;
}
