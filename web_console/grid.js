// redband console, the grid filter (issue 15): sites share a grid (their `zone`, e.g. "P1 north-east grid"); picking
// one narrows the incident queue, the map's incidents and the Sites tab's list to the sites of that grid. The choice
// is the console's own (kept for the session); queue.js and map.js ask inGrid(), community.js siteInGrid(). The Sites
// tab shows the figures of each grid (and its communities) the operator sees: {"type":"community_figures","grid":...}
// answered community_figures, handed by app.js to renderGridFigures().
"use strict";

const gridView = { zone: sessionStorage.getItem("redband.grid") || "", sites: null, welcome: null };

function gridSites() {  // site id → zone, from the welcome's map (made once per welcome)
  if (gridView.welcome !== state.welcome) {
    gridView.welcome = state.welcome;
    gridView.sites = new Map(((state.welcome && state.welcome.map.sites) || []).map((s) => [s.id, s.zone || ""]));
  }
  return gridView.sites;
}

function siteInGrid(site) { return !gridView.zone || (site.zone || "") === gridView.zone; }

function inGrid(incident) { return !gridView.zone || gridSites().get(incident.site_id) === gridView.zone; }

function renderGridFilter() {  // on each welcome: the grids of the sites the operator sees
  const select = document.getElementById("grid-filter");
  const zones = [...new Set(((state.welcome && state.welcome.map.sites) || []).map((s) => s.zone).filter(Boolean))].sort();
  if (gridView.zone && !zones.includes(gridView.zone)) gridView.zone = "";
  select.replaceChildren(Object.assign(document.createElement("option"), { value: "", textContent: "All grids" }),
    ...zones.map((z) => Object.assign(document.createElement("option"), { value: z, textContent: z })));
  select.value = gridView.zone;
  document.body.classList.toggle("grid-filtered", Boolean(gridView.zone));
  document.getElementById("grid-label").hidden = zones.length < 2;
}

document.getElementById("grid-filter").addEventListener("change", (event) => {
  gridView.zone = event.target.value;
  sessionStorage.setItem("redband.grid", gridView.zone);
  document.body.classList.toggle("grid-filtered", Boolean(gridView.zone));
  render();  // queue.js: the queue and the map's incidents
  renderSiteList();  // community.js
  if (!document.getElementById("sites-view").hidden) askGridFigures();
});

function gridIdOf(zone) {  // the welcome's grid id of a zone ("" for all)
  const site = ((state.welcome && state.welcome.map.sites) || []).find((s) => s.zone === zone);
  return (site && site.grid) || "";
}

function askGridFigures() { send({ type: "community_figures", grid: gridView.zone ? gridIdOf(gridView.zone) : "" }); }

const GRID_COLUMNS = [["alarms", "Alarms"], ["visitor_calls", "Calls"], ["missed_calls", "Missed"],
  ["notices", "Notices"], ["open_tickets", "Tickets"]];

function renderGridFigures(msg) {
  const body = document.getElementById("grid-figures");
  if (!body) return;
  const communities = msg.communities.filter((c) => c.kind === "community");
  const rows = msg.grids.flatMap((g) => [[g, "grid"], ...communities.filter((c) => c.grid === g.id)
    .map((c) => [c, "community"])]);
  body.replaceChildren(...rows.map(([r, cls]) => {
    const tr = document.createElement("tr");
    tr.className = cls;
    tr.dataset.id = r.id;
    tr.append(Object.assign(document.createElement("td"), { textContent: cls === "grid" ? `${r.name} (${r.communities})` : r.name }));
    for (const [key] of GRID_COLUMNS) {
      const td = Object.assign(document.createElement("td"), { className: `num ${key}`,
        textContent: r[key] === null || r[key] === undefined ? "—" : String(r[key]) });
      tr.append(td);
    }
    return tr;
  }));
}
