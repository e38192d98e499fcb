// The stats dashboard (docs/statistics.md §6): reads the report API with the reader's bearer token,
// kept in sessionStorage, and draws each report as a chart with its table and export one click away.
"use strict";

const TOKEN_KEY = "reko-stats-token";
const UNIT_ROLES = ["REHABKOORDINATOR", "LAKARE", "VERKSAMHETSCHEF"];
const HIDDEN = "..";
const SEXES = [["F", "Kvinnor", "#9c2c77"], ["M", "Män", "#1f5f9e"]];
const LABELS = {
  psychiatric: "Psykiska sjukdomar", musculoskeletal: "Muskuloskeletala sjukdomar", somatic: "Somatiska sjukdomar",
  pregnancy: "Graviditet", symptoms: "Symtom", factors: "Faktorer av betydelse för hälsan", other: "Övrigt", unknown: "Okänd",
  "25": "25 %", "50": "50 %", "75": "75 %", "100": "100 %", NONE: "Ingen (glapp)", ALL: "Alla", TOTAL: "Totalt",
  "<90": "Under 90 dagar", "90-180": "90–180 dagar", "181-365": "181–365 dagar", ">365": "Över 365 dagar",
};
const charts = [];
let latestRender = 0;
const threshold = document.body.dataset.threshold;

function label(category) { return LABELS[category] || category; }

function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = part + "=".repeat((4 - part.length % 4) % 4);
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(padded), (c) => c.charCodeAt(0))));
  } catch (error) {
    return null;
  }
}

function currentReader() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const claims = token && claimsOf(token);
  if (!claims) return null;
  return { token, roles: claims.roles || [], units: claims.care_units || [], name: claims.name || claims.sub };
}

function showProblem(text) { document.getElementById("sign-in-problem").textContent = text; }

async function api(path, params) {
  const reader = currentReader();
  const response = await fetch(`${path}?${params}`, { headers: { authorization: `Bearer ${reader.token}` } });
  if (response.status === 401) { signOut("Inloggningen gäller inte längre. Logga in igen."); throw new Error("signed out"); }
  if (!response.ok) throw new Error(`Frågan kunde inte besvaras (${response.status}).`);
  return response;
}

function signOut(problem) {
  sessionStorage.removeItem(TOKEN_KEY);
  start();
  if (problem) showProblem(problem);
}

function cellText(cell) {
  if (!cell) return "";
  if (cell.suppressed) return HIDDEN;
  return cell.value === null ? "–" : String(cell.value);
}

function tableOf(heading, rows) {
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const text of [heading, "Kvinnor", "Andel kvinnor", "Män", "Andel män", "Totalt"]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = text;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = row.label;
    tr.appendChild(th);
    for (const [sex, share] of [["F", false], ["F", true], ["M", false], ["M", true], ["TOTAL", false]]) {
      const cell = row.cells[sex];
      const td = tr.insertCell();
      if (share) {
        td.textContent = cell && cell.share !== null ? `${Math.round(cell.share * 100)} %` : "";
        continue;
      }
      td.textContent = cellText(cell);
      td.dataset.category = row.category;
      td.dataset.sex = sex;
      td.dataset.value = cell && !cell.suppressed && cell.value !== null ? String(cell.value) : "";
      if (cell && cell.suppressed) {
        td.classList.add("suppressed");
        td.dataset.suppressed = "true";
        td.title = `Dolt: färre än ${threshold} fall, eller så att ett sådant värde inte kan räknas fram`;
      }
    }
  }
  return table;
}

function describe(title, rows) {
  const parts = rows.map((row) => `${row.label}: ${SEXES.map(([sex, name]) => `${name.toLowerCase()} ${row.cells[sex] && row.cells[sex].suppressed ? "dolt" : cellText(row.cells[sex])}`).join(", ")}`);
  return `${title}. ${parts.join("; ")}.`;
}

async function download(path, params, format) {
  const response = await api(path, `${params}&format=${format}`);
  const name = (response.headers.get("content-disposition") || "").match(/filename="([^"]+)"/);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = name ? name[1] : `statistik.${format}`;
  document.body.appendChild(link);
  link.click();
  link.remove();
}

function chartBlock(container, { title, heading, rows, type, path, params }) {
  const figure = document.getElementById("chart-template").content.firstElementChild.cloneNode(true);
  const id = container.id;
  figure.querySelector("figcaption").textContent = title;
  const description = figure.querySelector(".description");
  description.id = `${id}-description`;
  description.textContent = describe(title, rows);
  const canvas = figure.querySelector("canvas");
  canvas.setAttribute("aria-label", `${title}: diagram, siffrorna finns i beskrivningen och i tabellen`);
  canvas.setAttribute("aria-describedby", description.id);
  const tableBox = figure.querySelector(".table-box");
  tableBox.id = `${id}-table`;
  tableBox.appendChild(tableOf(heading, rows));
  if (rows.some((row) => Object.values(row.cells).some((cell) => cell && cell.suppressed))) {
    const note = document.createElement("p");
    note.textContent = `Dolda värden (${HIDDEN}) visas inte i diagrammet.`;
    tableBox.appendChild(note);
  }
  const toggle = figure.querySelector(".toggle-table");
  toggle.setAttribute("aria-controls", tableBox.id);
  toggle.addEventListener("click", () => {
    const open = tableBox.hidden;
    tableBox.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Dölj tabell" : "Visa tabell";
  });
  for (const button of figure.querySelectorAll(".export")) {
    button.addEventListener("click", () => download(path, params, button.dataset.format).catch((error) => showProblem(error.message)));
  }
  container.replaceChildren(figure);
  const datasets = SEXES.map(([sex, name, colour]) => ({
    label: name,
    data: rows.map((row) => (row.cells[sex] && !row.cells[sex].suppressed ? row.cells[sex].value : null)),
    backgroundColor: colour,
    borderColor: colour,
  }));
  charts.push(new Chart(canvas, {
    type,
    data: { labels: rows.map((row) => row.label), datasets },
    options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  }));
}

function scopeParams(choice) {
  return choice === "region" ? "level=region" : `level=unit&units=${encodeURIComponent(choice)}`;
}

function rowsOf(table) {
  return table.rows.map((row) => ({ category: row.category, label: label(row.category), cells: row.cells }));
}

class Outdated extends Error {}

async function render(generation) {
  // A newer choice started while this one waited for the API: its answers are dropped.
  const current = async (pending) => {
    const answer = await pending;
    if (generation !== latestRender) throw new Outdated();
    return answer;
  };
  const ask = async (path, params) => current((await current(api(path, params))).json());
  for (const chart of charts.splice(0)) chart.destroy();
  const choice = document.getElementById("unit").value;
  const day = document.getElementById("day").value;
  const scope = scopeParams(choice);
  const trendParams = `view=timeSeries&to=${day.slice(0, 7)}&${scope}`;
  const trend = await ask("/reports/monthly/ongoingByDiagnosisGroup", trendParams);
  document.getElementById("figures-note").textContent = trend.selection.exact
    ? "Exakta tal för din enhet."
    : `Publicerade tal: värden under ${threshold} fall, och värden som annars skulle kunna räknas fram ur summorna, är dolda (${HIDDEN}).`;
  chartBlock(document.getElementById("trend"), {
    title: "Pågående sjukfall per månad",
    heading: "Månad",
    rows: trend.periods.map((period) => ({ category: period.period, label: period.period, cells: period.tables[0] ? period.tables[0].total.cells : {} })),
    type: "line",
    path: "/reports/monthly/ongoingByDiagnosisGroup",
    params: trendParams,
  });
  for (const [id, dimension, title, heading] of [
    ["by-diagnosis-group", "diagnosisGroup", "Diagnosgrupp", "Diagnosgrupp"],
    ["by-length-band", "lengthBand", "Sjukfallets längd", "Längd"],
    ["by-degree", "degree", "Sjukskrivningsgrad", "Grad"],
  ]) {
    const params = `on=${day}&dimension=${dimension}&${scope}`;
    const report = await ask("/reports/ongoing", params);
    const table = report.periods[0].tables[0];
    chartBlock(document.getElementById(id), { title, heading, rows: table ? rowsOf(table) : [], type: "bar", path: "/reports/ongoing", params });
  }
  const reader = currentReader();
  const ownUnits = reader.roles.some((role) => UNIT_ROLES.includes(role)) ? reader.units : [];
  const comparisonParams = ownUnits.length
    ? `on=${day}&level=unit&${ownUnits.map((unit) => `units=${encodeURIComponent(unit)}`).join("&")}`
    : `on=${day}&level=unit`;
  const units = await ask("/reports/ongoing", comparisonParams);
  const provider = await ask("/reports/ongoing", `on=${day}&level=careProvider`);
  const comparisonRows = [
    ...units.periods[0].tables.map((table) => ({ category: table.hsaId, label: table.hsaId, cells: table.rows[0].cells })),
    ...provider.periods[0].tables.map((table) => ({ category: table.hsaId, label: `Vårdgivare ${table.hsaId}`, cells: table.rows[0].cells })),
  ];
  chartBlock(document.getElementById("comparison"), {
    title: "Pågående sjukfall per vårdenhet och vårdgivare", heading: "Enhet", rows: comparisonRows, type: "bar", path: "/reports/ongoing", params: comparisonParams,
  });
  return units;
}

async function start() {
  const reader = currentReader();
  document.getElementById("sign-in").hidden = Boolean(reader);
  document.getElementById("dashboard").hidden = !reader;
  document.getElementById("sign-out").hidden = !reader;
  document.getElementById("reader").textContent = reader ? `Inloggad: ${reader.name} (${reader.roles.join(", ")})` : "Inte inloggad.";
  if (!reader) return;
  showProblem("");
  const select = document.getElementById("unit");
  const choices = [...reader.units.map((unit) => [unit, unit])];
  if (reader.roles.includes("REGIONKONTOR")) choices.unshift(["region", "Hela regionen"]);
  select.replaceChildren(...choices.map(([value, text]) => new Option(text, value)));
  const day = document.getElementById("day");
  if (!day.value) day.value = document.body.dataset.today;
  await show();
}

async function show() {
  const generation = ++latestRender;
  document.body.dataset.rendered = "false";
  try {
    const units = await render(generation);
    // The regional office may look at any unit: offer those the comparison found.
    const select = document.getElementById("unit");
    const offered = new Set([...select.options].map((option) => option.value));
    for (const table of units.periods[0].tables) {
      if (!offered.has(table.hsaId)) select.add(new Option(table.hsaId, table.hsaId));
    }
    document.body.dataset.rendered = "true";
  } catch (error) {
    if (!(error instanceof Outdated) && error.message !== "signed out") showProblem(error.message);
  }
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = document.getElementById("token").value.trim();
  if (!claimsOf(token)) { showProblem("Det där ser inte ut som en token."); return; }
  sessionStorage.setItem(TOKEN_KEY, token);
  document.getElementById("token").value = "";
  start();
});

const devForm = document.getElementById("dev-form");
if (devForm) {
  devForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const role = document.getElementById("dev-role").value;
    const unit = document.getElementById("dev-unit").value.trim();
    const response = await fetch("/dashboard/dev-token", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ role, careUnits: unit ? [unit] : [] }),
    });
    if (!response.ok) { showProblem("Inloggningen misslyckades: ange en vårdenhet för en enhetsroll."); return; }
    sessionStorage.setItem(TOKEN_KEY, (await response.json()).token);
    start();
  });
}

document.getElementById("sign-out").addEventListener("click", () => signOut());
document.getElementById("choices").addEventListener("submit", (event) => { event.preventDefault(); show(); });
start();
