// redband console, the grid filter (issue 15): sites share a grid (their `zone`, e.g. "P1 north-east grid"); picking
// one narrows the incident queue, the map's incidents and the Sites tab's list to the sites of that grid. The choice
// is the console's own (kept for the session); queue.js and map.js ask inGrid(), community.js siteInGrid().
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
});
