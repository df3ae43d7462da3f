// Browser tests of the daemon-served panel, in the real Chromium, against a real `paios daemon`.
//
// Driven by tests/ui_panel.rs, which prepares a PAIOS home, starts the daemon and passes:
//   PAIOS_PANEL_URL  http://127.0.0.1:PORT/#token=…   PAIOS_HOME   PAIOS_BIN (the paios binary)
//   PAIOS_SERVICE    name of the supervised `sleep` service (scenario "services")
// Usage: node tests/ui/panel.spec.mjs smoke|services|approvals|costs|settings|discovered|mesh
// Exit 0 when every check of the scenario passed; otherwise the failure is printed, exit 1.

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run this through \`cargo test --test ui_panel\`)`);
  return value;
};

const PANEL_URL = env("PAIOS_PANEL_URL");
const PAIOS_BIN = env("PAIOS_BIN");
const BASE = new URL(PANEL_URL).origin;
const TOKEN = new URLSearchParams(new URL(PANEL_URL).hash.slice(1)).get("token");

async function api(path, body) {
  const response = await fetch(BASE + path, {
    method: body === undefined ? "GET" : "POST",
    headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json().catch(() => null);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${JSON.stringify(json)}`);
  return json;
}

function paios(args) {
  return execFileSync(PAIOS_BIN, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

async function withPanel(run) {
  const profile = mkdtempSync(join(tmpdir(), "paios-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  page.on("pageerror", (error) => problems.push(`uncaught error in the page: ${error.message}`));
  try {
    await page.goto(PANEL_URL);
    await page.waitForSelector("#services .body:not([data-state='loading'])");
    if (page.url().includes("token=")) problems.push("the token stayed in the address bar");
    // A reload would drop this marker: live updates must not reload the page.
    await page.evaluate(() => (window.__sameDocument = true));
    await run(page);
    if (!(await page.evaluate(() => window.__sameDocument === true))) problems.push("the page was reloaded");
    if (problems.length) throw new Error(problems.join("\n"));
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

async function step(what, promise) {
  const started = Date.now();
  try {
    const result = await promise;
    console.error(`  ok  ${what} (${Date.now() - started} ms)`);
    return result;
  } catch (error) {
    throw new Error(`${what}: ${error.message}`);
  }
}

// A killed service turns red in the panel, then green again, with no reload.
async function services(page) {
  const name = env("PAIOS_SERVICE");
  const row = `tr[data-service="${name}"]`;
  await step(`${name} shows as running (green)`, page.waitForSelector(`${row}[data-tone="ok"]`, { timeout: 20000 }));
  const before = (await api("/api/status")).services.find((s) => s.name === name);
  if (!before || !before.pid) throw new Error(`status has no pid for ${name}: ${JSON.stringify(before)}`);
  process.kill(before.pid, "SIGKILL");
  await step(`${name} turns red after SIGKILL of pid ${before.pid}`, page.waitForSelector(`${row}[data-tone="down"]`, { timeout: 15000 }));
  await step(`${name} turns green again`, page.waitForSelector(`${row}[data-tone="ok"]`, { timeout: 30000 }));
  const restarts = await page.textContent(`${row} td:nth-of-type(3)`);
  if (!(Number(restarts) >= 1)) throw new Error(`the Restarts column shows ${restarts}, expected at least 1`);
  const after = (await api("/api/status")).services.find((s) => s.name === name);
  if (after.pid === before.pid) throw new Error("the service was not restarted (same pid)");
}

// Commands, in order of preference, that the approval policy is expected to classify as `ask`.
const ASK_CANDIDATES = [
  ["git", "push", "origin", "main"],
  ["npm", "publish"],
  ["curl", "-X", "POST", "-d", "@notes.txt", "https://example.com/upload"],
  ["rm", "-rf", "./build"],
  ["pip", "install", "requests"],
  ["docker", "run", "--rm", "alpine", "true"],
];

function askCommand() {
  const seen = [];
  for (const argv of ASK_CANDIDATES) {
    let verdict;
    try {
      verdict = JSON.parse(paios(["classify", "--json", "--", ...argv]));
    } catch (error) {
      throw new Error(`\`paios classify --json -- ${argv.join(" ")}\` failed: ${error.stderr || error.message}`);
    }
    seen.push(`${argv.join(" ")} → ${verdict.decision}`);
    if (verdict.decision === "ask") return argv.join(" ");
  }
  throw new Error(`none of the candidate commands is classified "ask": ${seen.join("; ")}`);
}

// A request made through the real hook path appears; Approve makes the waiting hook allow it.
async function approvals(page) {
  const command = askCommand();
  const hook = spawn(PAIOS_BIN, ["hook", "pre-tool-use"], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  hook.stdout.on("data", (d) => (stdout += d));
  hook.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => hook.on("exit", (code) => resolve(code)));
  hook.stdin.end(
    JSON.stringify({
      session_id: "ui-test-session",
      transcript_path: "",
      cwd: process.env.PAIOS_HOME,
      hook_event_name: "PreToolUse",
      tool_name: "Bash",
      tool_input: { command, description: "UI test" },
    }),
  );
  try {
    const card = await step(
      `the request for \`${command}\` appears in the panel`,
      page.waitForSelector(`#approvals li[data-approval]:has-text(${JSON.stringify(command)})`, { timeout: 20000 }),
    );
    const pill = await page.textContent("#health");
    if (!/waiting/.test(pill)) throw new Error(`the health pill does not mention the waiting request: ${pill}`);
    await (await card.$("button:text-is('Approve')")).click();
    const code = await step("the waiting hook returns", Promise.race([exited, new Promise((_, no) => setTimeout(() => no(new Error("still waiting 20 s after Approve")), 20000))]));
    let answer;
    try {
      answer = JSON.parse(stdout);
    } catch (_) {
      throw new Error(`the hook printed no JSON (exit ${code}): stdout ${stdout} stderr ${stderr}`);
    }
    const decision = answer.hookSpecificOutput && answer.hookSpecificOutput.permissionDecision;
    if (code !== 0 || decision !== "allow") throw new Error(`the hook answered ${decision} (exit ${code}): ${stdout} ${stderr}`);
    await step("the request leaves the queue", page.waitForSelector(`#approvals li[data-approval]:has-text(${JSON.stringify(command)})`, { state: "detached", timeout: 10000 }));
  } finally {
    if (hook.exitCode === null) hook.kill("SIGKILL");
  }
}

function dollars(n) {
  if (n !== 0 && Math.abs(n) < 0.01) return "$" + n.toFixed(4);
  return "$" + n.toFixed(2);
}

// The cost card shows the ledger's totals (the same numbers `paios usage` prints).
async function costs(page) {
  const now = new Date();
  const ymd = (d) => `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, "0")}${String(d.getDate()).padStart(2, "0")}`;
  const firstOfMonth = new Date(now.getFullYear(), now.getMonth(), 1);
  const monthly = JSON.parse(paios(["usage", "monthly", "--json", "--since", ymd(firstOfMonth)]));
  const daily = JSON.parse(paios(["usage", "daily", "--json", "--since", ymd(now)]));
  const month = monthly.totals && monthly.totals.totalCost;
  if (!(month > 0)) throw new Error(`\`paios usage monthly --json\` has no cost to compare with: ${JSON.stringify(monthly.totals)}`);
  const today = daily.totals && daily.totals.totalCost;
  const want = { month: dollars(month), today: dollars(today) };
  await step(`the panel shows this month ${want.month} and today ${want.today}`, page.waitForFunction((w) => {
    const m = document.getElementById("cost-month");
    const t = document.getElementById("cost-today");
    return m && t && m.textContent === w.month && t.textContent === w.today;
  }, want, { timeout: 20000 }).catch(async (error) => {
    const shown = await page.evaluate(() => document.querySelector("#costs").innerText);
    throw new Error(`${error.message}\n  the cost card shows: ${shown}`);
  }));
}

// Every section settles into a labelled state, the live stream connects, and a wrong token is
// explained instead of showing an empty panel.
async function smoke(page) {
  for (const id of ["services", "approvals", "costs", "incidents"]) {
    await step(`section ${id} leaves its loading state`, page.waitForSelector(`#${id} .body:not([data-state="loading"])`, { timeout: 10000 }));
    const text = (await page.textContent(`#${id} .body`)).trim();
    if (!text) throw new Error(`section ${id} is blank`);
  }
  await step("the live stream connects", page.waitForSelector('#link[data-live="true"]', { timeout: 10000 }));
  const footer = await page.textContent("#daemon");
  if (!/daemon pid \d+/.test(footer)) throw new Error(`the footer does not show the daemon: ${footer}`);
  const stranger = await page.context().newPage();
  await stranger.goto(BASE + "/#token=wrong");
  await step("a wrong token is explained", stranger.waitForSelector("#banner:not([hidden]):has-text('token was refused')", { timeout: 10000 }));
  await stranger.close();
}

// Settings: paios.toml is validated by the daemon while typing, saved atomically, and secret
// values never reach the page but survive the save.
async function settings(page) {
  const { readFileSync } = await import("node:fs");
  const file = join(env("PAIOS_HOME"), "paios.toml");
  const secret = env("PAIOS_TEST_SECRET");
  await page.click("#settings-link");
  const editor = await step("the settings page shows paios.toml", page.waitForSelector("#config-text", { timeout: 10000 }));
  await page.evaluate(() => (window.__sameDocument = true)); // a new page; from here on, no reloads
  const text = await editor.inputValue();
  if (text.includes(secret)) throw new Error("the secret value reached the page");
  if (!text.includes("<hidden:0>")) throw new Error(`the secret is not shown as hidden: ${text}`);
  await editor.fill(text.replace("port = 0", 'port = "zero"'));
  await step("an invalid value is reported with its line", page.waitForSelector("#config-status.error:has-text('line')", { timeout: 10000 }));
  if (!(await page.isDisabled("#config-save"))) throw new Error("Save stays enabled for an invalid file");
  if (readFileSync(file, "utf8").includes('"zero"')) throw new Error("the invalid text was written");
  await editor.fill(text + "\n# edited in the settings window\n");
  await step("the valid text is accepted", page.waitForSelector("#config-status.ok", { timeout: 10000 }));
  await page.click("#config-save");
  await step("it is saved", page.waitForSelector("#config-status.ok:has-text('Saved')", { timeout: 10000 }));
  const saved = readFileSync(file, "utf8");
  if (!saved.includes("# edited in the settings window")) throw new Error("the edit is not on disk");
  if (!saved.includes(secret)) throw new Error(`the secret was lost on save:\n${saved}`);
  if (saved.includes("<hidden:")) throw new Error("a placeholder was written to disk");
}

// A gateway found running with no [[service]] table is marked so in its row, with how it was
// found; PAIOS_SCREENSHOT, when set, is where the panel is photographed.
async function discovered(page) {
  const row = 'tr[data-service="openclaw-gateway"]';
  await step("the found gateway has a row", page.waitForSelector(row, { timeout: 30000 }));
  const mark = await step("its row says it was found running", page.waitForSelector(`${row} .discovered`, { timeout: 10000 }));
  const text = (await mark.textContent()).trim();
  if (text !== "found running") throw new Error(`the mark reads ${JSON.stringify(text)}`);
  const how = await mark.getAttribute("title");
  if (!/answering on 127\.0\.0\.1:\d+, with no \[\[service\]\] table/.test(how || "")) {
    throw new Error(`the mark's tooltip does not say how it was found: ${how}`);
  }
  await step("it is adopted", page.waitForSelector(`${row}[data-state="adopted"]`, { timeout: 20000 }));
  if (process.env.PAIOS_SCREENSHOT) await page.screenshot({ path: process.env.PAIOS_SCREENSHOT, fullPage: true });
}

async function mesh(page) {
  const good = 'tr[data-server="claude:selfcheck"]';
  const bad = 'tr[data-server="claude:broken"]';
  await step("the registered servers are probed and listed", page.waitForSelector(`${bad}[data-tone="down"]`, { timeout: 30000 }));
  await step("a server that answers is green", page.waitForSelector(`${good}[data-tone="ok"]`, { timeout: 10000 }));
  const reason = (await page.textContent(`${bad} td.err`)).trim();
  if (!/no-such-mcp-server.*not an executable file or on PATH/.test(reason)) {
    throw new Error(`the broken server's reason reads ${JSON.stringify(reason)}`);
  }
  const tools = (await page.textContent(`${good} td.num`)).trim();
  if (!/^\d+ tools$/.test(tools)) throw new Error(`the working server's tools read ${JSON.stringify(tools)}`);
  const summary = (await page.textContent("#mesh .summary")).trim();
  if (!summary.startsWith("mesh not installed · 1 of 2 MCP servers failing")) {
    throw new Error(`the mesh summary reads ${JSON.stringify(summary)}`);
  }
  await step("the overall health is amber", page.waitForSelector('#health[data-tone="warn"]', { timeout: 10000 }));
  const hint = (await page.textContent("#mesh .body")).trim();
  if (!hint.includes("paios mesh install")) throw new Error("the card does not say how to link the brains");
  if (process.env.PAIOS_SCREENSHOT) await page.screenshot({ path: process.env.PAIOS_SCREENSHOT, fullPage: true });
}

const scenarios = { smoke, services, approvals, costs, settings, discovered, mesh };
const name = process.argv[2];
if (!scenarios[name]) {
  console.error(`usage: panel.spec.mjs ${Object.keys(scenarios).join("|")}`);
  process.exit(2);
}
try {
  await withPanel(scenarios[name]);
  console.error(`panel ${name}: passed`);
} catch (error) {
  console.error(`panel ${name}: FAILED\n${error.message}`);
  process.exit(1);
}
