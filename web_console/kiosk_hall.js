// redband console, a kiosk hall in the Sites tab (community.js asks for it, app.js hands the kiosk_hall_view here):
// each kiosk's health (online or offline, paper and card levels, supplies low, open maintenance tickets and SOS), the
// queue of the next 24 hours' booked slots, and today's figures (served per category, average session time).
"use strict";

function supplyText(level, low) {
  if (level === null || level === undefined) return low ? "low" : "—";
  return `${Math.round(level)}%${low ? " (low)" : ""}`;
}

function renderKioskHall(v) {
  siteEl("kiosk-title").textContent = `${v.name} · ${v.hall}`;
  siteEl("kiosk-place").textContent = [v.address, v.zone, `day ${v.day} (UTC)`].filter(Boolean).join(" · ");
  const online = v.kiosks.filter((k) => k.online).length, offline = v.kiosks.filter((k) => k.online === false).length;
  const figures = [["served", "Served today", v.served],
    ["average_session_s", "Average session", v.sessions ? fmtSeconds(v.average_session_s) : "—"],
    ["sessions", "Sessions", v.sessions], ["bookings", "Bookings", v.bookings], ["no_shows", "No-shows", v.no_shows],
    ["open_tickets", "Open tickets", v.open_tickets], ["online", "Kiosks online", `${online} of ${v.kiosks.length}`],
    ["offline", "Kiosks offline", offline],
    ["exam_pass_rate", "Exam pass rate", v.exam_pass_rate == null ? "—" : `${Math.round(v.exam_pass_rate * 100)}%`]];
  siteEl("kiosk-figures").replaceChildren(...figures.flatMap(([key, name, value]) => {
    const dd = sitesText("dd", value);
    dd.dataset.figure = key;
    return [sitesText("dt", name), dd];
  }));
  const categories = Object.keys({ ...v.categories, ...v.served_by_category });
  sitesFill(siteEl("kiosk-served"), categories.map((c) => {
    const tr = sitesRow([[v.categories[c] || c || "other"], [v.served_by_category[c] || 0, "num"]]);
    tr.dataset.category = c;
    return tr;
  }), "No categories.");
  sitesFill(siteEl("kiosk-health"), v.kiosks.map((k) => {
    const state = k.online === null ? "not heard from" : k.online ? "online" : "offline";
    const supply = (name, level) => [supplyText(level, k.low.includes(name)), `${name}${k.low.includes(name) ? " is-low" : ""}`];
    const tr = sitesRow([[k.label || k.kiosk], [state, "kiosk-state"], supply("paper", k.paper), supply("card", k.card),
      [k.tickets.length ? `${k.tickets.length} open` : "none", "tickets"],
      [k.sos.length ? `SOS (${k.sos.length})` : "", "sos"],
      [k.last_seen_s == null ? "" : sinceText(k.last_seen_s, v.server_s)]],
      [k.online === false ? "offline" : "", k.low.length ? "low" : "", k.tickets.length ? "ticket" : "",
       k.sos.length ? "sos" : ""].filter(Boolean).join(" "));
    tr.dataset.kiosk = k.kiosk;
    tr.querySelector(".tickets").title = k.tickets.join("\n");
    return tr;
  }), "No kiosks.");
  sitesFill(siteEl("kiosk-queue"), v.queue.map((q) => {
    const tr = sitesRow([[fmtClock(q.slot)], [q.service_name], [v.categories[q.category] || q.category],
      [`${q.booked} / ${q.capacity}`, "num booked"], [q.taken, "num"]], q.booked >= q.capacity ? "full" : "");
    tr.dataset.slot = q.slot;
    tr.dataset.service = q.service;
    return tr;
  }), "No bookings in the next 24 hours.");
  siteEl("kiosk-queue-more").textContent = v.queue_more ? `${v.queue_more} more slots later` : "";
}
