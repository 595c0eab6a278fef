// redband console, the Points tab (command center): leaderboards per team and street, a volunteer's ledger and
// monthly statement, every street office's shop with its stock, and the restock and redeem forms. Sends
// {"type":"points",...}, "restock" and "redeem" through app.js's send(); app.js hands the answers (points_board,
// points_ledger, points_statement, points_shops, points_result) to renderPoints(). Refusals name the field.
"use strict";

const pointsView = { nextId: 1, volunteer: "", shops: [], pending: new Map() };
const pointsEl = (id) => document.getElementById(id);
const POINTS_CATEGORIES = { coupon: "Coupon", phone_credit: "Phone credit", goods: "Goods" };

function pointsMonth() {
  return pointsEl("points-month").value || new Date().toISOString().slice(0, 7);
}

function pointsText(tag, text, cls = "") {
  return Object.assign(document.createElement(tag), { textContent: text, className: cls });
}

function pointsRow(cells, cls = "") {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const [text, c] of cells) tr.append(pointsText("td", String(text), c || ""));
  return tr;
}

// Everything the tab shows, asked again (opening the tab, after a restock or a redemption).
function pointsRefresh() {
  const month = pointsEl("points-all-time").checked ? "" : pointsMonth();
  send({ type: "points", what: "board", by: "team", month });
  send({ type: "points", what: "board", by: "street", month });
  send({ type: "points", what: "shops" });
  if (pointsView.volunteer) pointsAskVolunteer(pointsView.volunteer);
}

function pointsAskVolunteer(volunteer) {
  pointsView.volunteer = volunteer;
  send({ type: "points", what: "ledger", volunteer, limit: 50 });
  send({ type: "points", what: "statement", volunteer, month: pointsMonth() });
}

function pointsAdmin(message, what) {
  const id = pointsView.nextId++;
  pointsView.pending.set(id, what);
  send({ ...message, id });
}

function renderPoints(msg) {
  switch (msg.type) {
    case "points_board": {
      const body = pointsEl(`points-board-${msg.by}`);
      if (!body) return;
      body.replaceChildren(...msg.rows.map((r) => pointsRow([[r.rank, "rank"], [r.name], [r.points, "num"],
        [r.patrol_hours.toFixed(2), "num"], [r.volunteers, "num"]])));
      if (!msg.rows.length) body.append(pointsRow([["no one yet", "muted"]]));
      break;
    }
    case "points_shops": {
      pointsView.shops = msg.shops;
      const body = pointsEl("points-shop-rows");
      body.replaceChildren(...msg.shops.flatMap((s) => s.items.map((i) => {
        const tr = pointsRow([[s.precincts.join(", ") || s.shop], [i.name], [POINTS_CATEGORIES[i.category] || i.category],
          [i.price, "num"], [i.stock, "num stock"]], i.stock ? "" : "sold-out");
        tr.dataset.shop = s.shop;
        tr.dataset.item = i.id;
        tr.onclick = () => { pointsEl("restock-shop").value = s.shop; pointsEl("restock-item").value = i.id;
          pointsEl("redeem-item").value = i.id; };
        return tr;
      })));
      const select = pointsEl("restock-shop");
      const chosen = select.value;
      select.replaceChildren(...msg.shops.map((s) => Object.assign(document.createElement("option"),
        { value: s.shop, textContent: `${s.shop} (${s.precincts.join(", ")})` })));
      if (chosen) select.value = chosen;
      break;
    }
    case "points_ledger": {
      pointsEl("points-who").textContent = `${msg.name || msg.volunteer} · team ${msg.team} · balance ${msg.balance}`;
      pointsEl("points-who").dataset.balance = msg.balance;
      pointsEl("points-ledger-rows").replaceChildren(...msg.entries.map((e) => pointsRow([[fmtClock(e.t_s)],
        [e.reason], [e.ref], [e.delta > 0 ? `+${e.delta}` : e.delta, "num"], [e.balance, "num"]],
        e.delta < 0 ? "debit" : "")));
      break;
    }
    case "points_statement":
      pointsEl("points-statement").textContent = `${msg.month}: opening ${msg.opening}, earned ${msg.earned}, `
        + `spent ${msg.spent}, closing ${msg.closing} · ${msg.patrol_hours.toFixed(2)} patrol hours`;
      break;
    case "points_result": {
      const what = pointsView.pending.get(msg.id) || msg.action;
      pointsView.pending.delete(msg.id);
      if (msg.action === "redeem" && msg.code !== "unavailable") pointsView.redeemDone = true;
      const out = pointsEl("points-result");
      out.textContent = msg.ok ? `${what}: done${msg.balance != null ? ` — balance ${msg.balance}` : ""}`
        : `${what}: refused — ${msg.field ? msg.field + ": " : ""}${msg.reason}`;
      out.className = msg.ok ? "ok" : "bad";
      out.dataset.code = msg.code || "ok";
      toast(out.textContent, !msg.ok);
      pointsRefresh();
      break;
    }
  }
}

pointsEl("tab-points").addEventListener("click", pointsRefresh);
pointsEl("points-refresh").onclick = pointsRefresh;
pointsEl("points-volunteer-form").onsubmit = (event) => {
  event.preventDefault();
  const volunteer = pointsEl("points-volunteer").value.trim();
  if (volunteer) pointsAskVolunteer(volunteer);
};
pointsEl("restock-form").onsubmit = (event) => {
  event.preventDefault();
  const shop = pointsEl("restock-shop").value, item = pointsEl("restock-item").value.trim();
  const add = Number.parseInt(pointsEl("restock-add").value, 10);
  pointsAdmin({ type: "restock", shop, item, add }, `restock ${item} ${add > 0 ? "+" : ""}${add}`);
};
pointsEl("redeem-form").onsubmit = (event) => {
  event.preventDefault();
  const volunteer = pointsEl("redeem-volunteer").value.trim(), item = pointsEl("redeem-item").value.trim();
  const quantity = Number.parseInt(pointsEl("redeem-quantity").value, 10) || 1;
  // one id per redemption, kept until it is answered: sending the form again unchanged is a retry, not a second one
  const key = `${volunteer}|${item}|${quantity}`;
  if (pointsView.redeemKey !== key || pointsView.redeemDone) {
    pointsView.redeemKey = key;
    pointsView.redeemRequest = `office-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  }
  pointsView.redeemDone = false;
  pointsAdmin({ type: "redeem", request: pointsView.redeemRequest, volunteer, item, quantity },
    `redeem ${quantity} × ${item} for ${volunteer}`);
  pointsView.volunteer = volunteer;
};
