// The panel: service health, the mesh, the approval queue, costs and incidents, kept live by the daemon's
// event stream (a section is re-read when a committed event names its view — never on a timer).
//
// Each section renders one of: its data, an empty state, "not available in this daemon" (the
// operation answered `unknown_op`), or the error the daemon reported. Sections fail alone.

import { ApiFailure, Unavailable, ago, dollars, duration, follow, h, rpc, status, token } from "./api.js";

// Health (each service's tone, the overall tone and its label) is computed by the core and
// only rendered here: the tray shows the same value.
const state = { services: [], health: null, pending: 0, statusAt: Date.now() };

function serviceTone(service) {
  const line = ((state.health && state.health.services) || []).find((s) => s.name === service.name);
  return line ? line.tone : "idle";
}

function body(id) {
  return document.querySelector(`#${id} .body`);
}

function show(id, dataState, ...content) {
  const element = body(id);
  element.dataset.state = dataState;
  element.replaceChildren(...content.flat().filter((c) => c !== null && c !== undefined));
}

function showProblem(id, error, what) {
  if (error instanceof Unavailable) {
    show(id, "unavailable", h("p", { class: "muted" }, `${what} are not available in this version of the PAIOS daemon.`));
  } else {
    show(id, "error", h("p", { class: "error" }, `Could not load ${what.toLowerCase()}: ${error.message}`));
  }
}

function banner(message) {
  const element = document.getElementById("banner");
  element.hidden = !message;
  element.textContent = message || "";
}

function updateHealth() {
  const health = state.health || { tone: "idle", label: "Not connected" };
  const pill = document.getElementById("health");
  pill.dataset.tone = health.tone;
  pill.title = health.summary || "";
  const waiting = state.pending ? ` · ${state.pending} waiting for you` : "";
  pill.textContent = health.label + waiting;
  document.title = state.pending ? `(${state.pending}) PAIOS` : "PAIOS";
}

// ---- services -------------------------------------------------------------------------------

function uptimeOf(service) {
  if (typeof service.uptime_s === "number") {
    return service.uptime_s + (Date.now() - state.statusAt) / 1000;
  }
  const since = service.since || service.started_at;
  return since ? (Date.now() - Date.parse(since)) / 1000 : undefined;
}

function lastError(service) {
  if (service.probe && service.probe.error) return service.probe.error;
  if (service.error) return service.error;
  const exit = service.last_exit;
  if (exit && (exit.code !== null || exit.signal !== null)) {
    const how = exit.signal !== null && exit.signal !== undefined ? `signal ${exit.signal}` : `code ${exit.code}`;
    return `exited with ${how}${exit.at ? " " + ago(exit.at) : ""}`;
  }
  return "";
}

async function restartService(name, button) {
  button.disabled = true;
  button.textContent = "Restarting…";
  try {
    await rpc("watchdog.restart", { name });
    banner("");
  } catch (error) {
    banner(error instanceof Unavailable ? "Restarting services is not available in this daemon." : `Could not restart ${name}: ${error.message}`);
  } finally {
    button.disabled = false;
    button.textContent = "Restart";
  }
}

function renderServices(services) {
  if (!services.length) {
    show("services", "empty", h("p", { class: "muted" }, "No supervised services. Add a [[service]] table to paios.toml (Settings)."));
    return;
  }
  const rows = services.map((service) => {
    const tone = serviceTone(service);
    const probe = service.probe;
    const latency = probe && typeof probe.latency_ms === "number" ? `${probe.latency_ms} ms` : "—";
    const restart = h("button", { type: "button", class: "small", "aria-label": `Restart ${service.name}` }, "Restart");
    restart.addEventListener("click", () => restartService(service.name, restart));
    return h(
      "tr",
      { dataset: { service: service.name, state: service.state, tone } },
      h(
        "th",
        { scope: "row" },
        service.name,
        // A gateway supervised with no [[service]] table: say how it was found.
        service.discovered ? h("span", { class: "muted discovered", title: service.discovered }, "found running") : null,
      ),
      h("td", {}, h("span", { class: "badge", "data-tone": tone }, service.state)),
      h("td", { class: "num" }, service.state === "running" || service.state === "adopted" ? duration(uptimeOf(service)) : "—"),
      h("td", { class: "num" }, String(service.restarts ?? 0)),
      h("td", { class: "num" }, latency),
      h("td", { class: "err", title: lastError(service) }, lastError(service) || "—"),
      h("td", {}, restart),
    );
  });
  show(
    "services",
    "ok",
    h(
      "table",
      { class: "grid" },
      h("thead", {}, h("tr", {}, ...["Service", "State", "Uptime", "Restarts", "Probe", "Last error", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows),
    ),
  );
}

async function loadServices() {
  try {
    const s = await status();
    banner("");
    state.services = Array.isArray(s.services) ? s.services : [];
    state.health = s.health || null;
    state.statusAt = Date.now();
    renderServices(state.services);
    renderMesh(state.health && state.health.mesh);
    const d = s.daemon || {};
    document.getElementById("daemon").replaceChildren(
      h("span", {}, `daemon pid ${d.pid ?? "?"}`),
      h("span", {}, `version ${d.version ?? "?"}`),
      h("span", {}, `up ${duration(d.uptime_s)}`),
      ...(d.home ? [h("span", { class: "home", title: "Data folder" }, d.home)] : []),
    );
  } catch (error) {
    state.services = [];
    state.health = null;
    if (error instanceof ApiFailure && (error.code === "unreachable" || error.code === "no_token" || error.status === 401)) {
      banner(error.message);
    }
    showProblem("services", error, "Services");
    showProblem("mesh", error, "Mesh links");
  }
  updateHealth();
}

// ---- mesh -----------------------------------------------------------------------------------

// Each link (brain → MCP server it uses) and each other server registered in a brain, green or
// red with its reason, as the core's last check found them (`health.mesh`).
function meshRows(lines, kind) {
  return lines.map((line) =>
    h(
      "tr",
      { dataset: { [kind]: `${line.from}:${line.to}`, tone: line.tone } },
      h("th", { scope: "row" }, line.from, h("span", { class: "muted" }, " → "), line.to),
      h("td", {}, h("span", { class: "badge", "data-tone": line.tone }, line.tone === "ok" ? "answers" : line.tone === "idle" ? "not probed" : "broken")),
      h("td", { class: "num" }, line.tone === "ok" ? `${line.tools} tools` : "—"),
      h("td", { class: "num" }, typeof line.latency_ms === "number" ? `${line.latency_ms} ms` : "—"),
      h("td", { class: "err", title: line.reason || "" }, line.reason || "—"),
    ),
  );
}

function meshTable(caption, lines, kind) {
  return h(
    "table",
    { class: "grid", dataset: { mesh: kind } },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, ...["Link", "State", "Tools", "Probe", "Reason"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, meshRows(lines, kind)),
  );
}

function renderMesh(mesh) {
  const button = document.getElementById("mesh-check");
  if (!mesh) {
    button.hidden = true;
    show("mesh", "unavailable", h("p", { class: "muted" }, "Mesh links are not available in this version of the PAIOS daemon."));
    return;
  }
  button.hidden = !mesh.installed;
  const links = mesh.links || [];
  const servers = mesh.servers || [];
  const parts = [h("p", { class: "summary", dataset: { tone: mesh.tone } }, mesh.summary, mesh.checked_at ? h("span", { class: "muted" }, ` · checked ${ago(mesh.checked_at)}`) : null)];
  if (!mesh.installed) {
    parts.push(h("p", { class: "muted" }, "The brains are not linked through PAIOS yet: run ", h("code", {}, "paios mesh install"), "."));
  }
  if (links.length) parts.push(meshTable("Links", links, "link"));
  if (servers.length) parts.push(meshTable("MCP servers registered in the brains", servers, "server"));
  show("mesh", links.length || servers.length ? "ok" : "empty", ...parts);
}

async function checkMesh(button) {
  button.disabled = true;
  button.textContent = "Checking…";
  try {
    await rpc("mcp.check", {});
    banner("");
  } catch (error) {
    banner(error instanceof Unavailable ? "Checking the mesh is not available in this daemon." : `Could not check the mesh: ${error.message}`);
  } finally {
    button.disabled = false;
    button.textContent = "Check now";
    refresh("services");
  }
}

// ---- approvals ------------------------------------------------------------------------------

function listOf(result, key) {
  if (Array.isArray(result)) return result;
  if (result && Array.isArray(result[key])) return result[key];
  return [];
}

async function decide(request, decision, always, row) {
  for (const button of row.querySelectorAll("button")) button.disabled = true;
  try {
    await rpc("approvals.decide", { id: request.id, decision, always });
    row.dataset.decided = decision;
    banner("");
  } catch (error) {
    banner(`Could not ${decision} request ${request.id}: ${error.message}`);
    for (const button of row.querySelectorAll("button")) button.disabled = false;
  }
  loadApprovals();
}

export function approvalCard(request, { onDecided } = {}) {
  const row = h("li", { class: "request", dataset: { approval: String(request.id) } });
  const button = (label, decision, always, cls) => {
    const b = h("button", { type: "button", class: cls, "aria-label": `${label}: ${request.summary || request.tool}` }, label);
    b.addEventListener("click", async () => {
      if (onDecided) await onDecided(request, decision, always, row);
      else await decide(request, decision, always, row);
    });
    return b;
  };
  const meta = [request.brain, request.project, request.tool].filter(Boolean).join(" · ");
  row.append(
    h("code", { class: "command" }, request.summary || request.tool || `request ${request.id}`),
    h("p", { class: "meta" }, meta, request.ts ? h("span", { class: "muted" }, " · " + ago(request.ts)) : null),
    h("p", { class: "why" }, request.rule ? h("strong", {}, request.rule + ": ") : null, request.reason || ""),
    h(
      "div",
      { class: "actions" },
      button("Approve", "approve", false, "primary"),
      button("Deny", "deny", false, "danger"),
      button("Always", "approve", true, ""),
    ),
  );
  return row;
}

async function loadApprovals() {
  const count = document.querySelector("#approvals .count");
  try {
    const all = listOf(await rpc("approvals.list", {}), "approvals");
    const pending = all.filter((r) => !r.state || r.state === "pending");
    state.pending = pending.length;
    count.textContent = pending.length ? String(pending.length) : "";
    let autonomy = null;
    try {
      autonomy = await rpc("approvals.autonomy_get", {});
    } catch (_) {
      autonomy = null;
    }
    const level = autonomy && (autonomy.level ?? autonomy.autonomy);
    const levelLine = level !== undefined && level !== null ? h("p", { class: "muted" }, `Autonomy level ${level}`) : null;
    if (!pending.length) {
      show("approvals", "empty", h("p", { class: "muted" }, "Nothing waiting for approval."), levelLine);
    } else {
      show("approvals", "ok", h("ul", { class: "requests" }, pending.map((r) => approvalCard(r))), levelLine);
    }
  } catch (error) {
    state.pending = 0;
    count.textContent = "";
    showProblem("approvals", error, "Approvals");
  }
  updateHealth();
}

// ---- costs ----------------------------------------------------------------------------------

function sparkline(days) {
  const values = days.map((d) => Number(d.cost) || 0);
  const width = 140;
  const height = 28;
  const max = Math.max(...values, 0.000001);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  const total = values.reduce((a, b) => a + b, 0);
  svg.setAttribute("aria-label", `Cost over the last ${values.length} days, ${dollars(total)} in total`);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points);
  svg.append(line);
  return svg;
}

/** Budget bars for every scope (all brains, then each brain) that has a limit. */
function budgetBars(budgets) {
  if (!budgets || typeof budgets !== "object") return [];
  const scopes = [["All brains", budgets.overall], ...Object.entries(budgets.brains || {})];
  const bars = [];
  for (const [name, scope] of scopes) {
    if (!scope) continue;
    bars.push(budgetBar(`${name} today`, Number(scope.today_usd) || 0, scope.daily_limit_usd));
    bars.push(budgetBar(`${name} this month`, Number(scope.month_usd) || 0, scope.monthly_limit_usd));
  }
  return bars.filter(Boolean);
}

function budgetBar(label, spent, limit) {
  if (typeof limit !== "number" || limit <= 0) return null;
  const ratio = spent / limit;
  const tone = ratio >= 1 ? "down" : ratio >= 0.8 ? "warn" : "ok";
  return h(
    "div",
    { class: "budget" },
    h("span", {}, `${label}: ${dollars(spent)} of ${dollars(limit)}`),
    h("meter", { min: "0", max: String(limit), value: String(Math.min(spent, limit)), low: String(limit * 0.8), high: String(limit * 0.999), optimum: "0", "data-tone": tone, "aria-label": `${label} budget used` }),
  );
}

async function loadCosts() {
  try {
    const summary = (await rpc("usage.summary", {})) || {};
    const today = summary.today || {};
    const month = summary.month || {};
    const brains = [...new Set([...Object.keys(today.by_brain || {}), ...Object.keys(month.by_brain || {})])].sort();
    const rows = brains.map((brain) =>
      h("tr", { dataset: { brain } }, h("th", { scope: "row" }, brain), h("td", { class: "num" }, dollars(today.by_brain?.[brain] ?? 0)), h("td", { class: "num" }, dollars(month.by_brain?.[brain] ?? 0))),
    );
    const days = Array.isArray(summary.last_14_days) ? summary.last_14_days : [];
    show(
      "costs",
      "ok",
      h(
        "table",
        { class: "grid costs" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Brain"), h("th", { scope: "col", class: "num" }, "Today"), h("th", { scope: "col", class: "num" }, "This month"))),
        h("tbody", {}, rows),
        h("tfoot", {}, h("tr", { class: "total" }, h("th", { scope: "row" }, "Total"), h("td", { class: "num", id: "cost-today" }, dollars(today.total ?? 0)), h("td", { class: "num", id: "cost-month" }, dollars(month.total ?? 0)))),
      ),
      budgetBars(summary.budgets),
      days.length ? h("div", { class: "trend" }, h("span", { class: "muted" }, "Last 14 days"), sparkline(days)) : null,
    );
  } catch (error) {
    showProblem("costs", error, "Costs");
  }
}

// ---- incidents ------------------------------------------------------------------------------

function runbookLink(runbook) {
  if (!runbook) return null;
  if (/^https?:\/\//.test(runbook)) return h("a", { href: runbook, target: "_blank", rel: "noopener" }, "Runbook");
  return h("span", { class: "runbook" }, "Runbook: ", h("code", {}, `paios runbook ${runbook}`));
}

async function loadIncidents() {
  try {
    const incidents = listOf(await rpc("watchdog.incidents", { limit: 10 }), "incidents");
    if (!incidents.length) {
      show("incidents", "empty", h("p", { class: "muted" }, "No incidents. All quiet."));
      return;
    }
    show(
      "incidents",
      "ok",
      h(
        "ul",
        { class: "incidents" },
        incidents.map((i) =>
          h(
            "li",
            { dataset: { incident: String(i.id), open: String(!i.resolved_at) } },
            h("span", { class: "badge", "data-tone": i.resolved_at ? "idle" : i.severity === "critical" || i.severity === "error" ? "down" : "warn" }, i.resolved_at ? "resolved" : i.severity || "open"),
            " ",
            h("strong", {}, i.service || ""),
            " ",
            h("span", {}, i.message || ""),
            h("div", { class: "meta" }, h("span", { class: "muted" }, ago(i.raised_at)), " ", runbookLink(i.runbook)),
          ),
        ),
      ),
    );
  } catch (error) {
    showProblem("incidents", error, "Incidents");
  }
}

// ---- live updates ---------------------------------------------------------------------------

// The mesh is part of the status, so it is read (and rendered) with the services.
const loaders = { services: loadServices, approvals: loadApprovals, costs: loadCosts, incidents: loadIncidents };
const aliases = { mesh: "services" };
const due = new Set();
let flushTimer = null;

/** Coalesce bursts of events into one re-read per section. */
function refresh(...sections) {
  for (const s of sections) due.add(s);
  if (flushTimer === null) {
    flushTimer = setTimeout(() => {
      flushTimer = null;
      const now = [...due];
      due.clear();
      for (const s of now) loaders[s]();
    }, 60);
  }
}

/** The sections an event changes: the core names its views (`services`, `costs`, …) on every
 * event it streams; `config` changes everything. */
function sectionsFor(event) {
  const views = Array.isArray(event.views) ? event.views : [];
  if (views.includes("config")) return Object.keys(loaders);
  return views.map((v) => aliases[v] || v).filter((v) => v in loaders);
}

function start() {
  const all = Object.keys(loaders);
  if (!token) {
    banner("No API token: open the panel from the link `paios daemon` prints, or from the menu-bar app.");
    for (const s of [...all, "mesh"]) show(s, "error", h("p", { class: "muted" }, "Not connected."));
    updateHealth();
    return;
  }
  refresh(...all);
  const meshButton = document.getElementById("mesh-check");
  meshButton.addEventListener("click", () => checkMesh(meshButton));
  const link = document.getElementById("link");
  follow({
    onEvent: (event) => refresh(...sectionsFor(event)),
    onSync: () => refresh(...all),
    onConnection: (live) => {
      link.dataset.live = String(live);
      link.textContent = live ? "live" : "reconnecting…";
    },
  });
}

if (document.getElementById("services")) start();
