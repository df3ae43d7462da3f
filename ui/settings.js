// The settings page: autonomy level, budgets and policy (as configured), the login item (in the
// menu-bar app), the data folder, and paios.toml itself — validated by the daemon's own parser
// while you type, saved atomically, refused if the file changed on disk since it was opened.
// Secret values arrive hidden ("<hidden:N>") and stay as they are unless you retype them.

import { Unavailable, h, rpc } from "./api.js";

function body(id) {
  return document.querySelector(`#${id} .body`);
}
function show(id, state, ...children) {
  const b = body(id);
  b.dataset.state = state;
  b.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}
function unavailable(id, what) {
  show(id, "unavailable", h("p", { class: "muted" }, `${what} is not available in this version of the PAIOS daemon.`));
}
function failed(id, what, error) {
  if (error instanceof Unavailable) return unavailable(id, what);
  show(id, "error", h("p", { class: "error" }, `Could not load ${what.toLowerCase()}: ${error.message}`));
}

const LEVELS = [
  [0, "0 — ask for everything that is not safe"],
  [1, "1 — auto-approve what you approved often"],
  [2, "2 — trust more, ask for risky actions"],
  [3, "3 — ask only for what policy always asks"],
];

async function loadAutonomy() {
  try {
    const current = await rpc("approvals.autonomy_get", {});
    const level = current && (current.level ?? current.autonomy);
    const select = h("select", { id: "autonomy-level", "aria-label": "Autonomy level" }, LEVELS.map(([v, label]) => h("option", { value: String(v), selected: v === Number(level) }, label)));
    const note = h("span", { class: "muted", role: "status" });
    const save = h("button", { type: "button" }, "Apply");
    save.addEventListener("click", async () => {
      save.disabled = true;
      try {
        await rpc("approvals.autonomy_set", { level: Number(select.value) });
        note.textContent = `Autonomy level ${select.value} is in force.`;
      } catch (error) {
        note.textContent = `Could not change the level: ${error.message}`;
      }
      save.disabled = false;
    });
    show("autonomy", "ok", h("div", { class: "row" }, select, save, note), h("p", { class: "muted" }, "\"never\" rules are never overridden, at any level."));
  } catch (error) {
    failed("autonomy", "The autonomy level", error);
  }
}

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function renderSections(sections) {
  const budgets = sections && sections.budgets;
  const approvals = sections && sections.approvals;
  const lines = [];
  const flat = (prefix, value) => {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) flat(prefix ? `${prefix}.${k}` : k, v);
    } else if (value !== null && value !== undefined) {
      lines.push([prefix, typeof value === "string" ? value : JSON.stringify(value)]);
    }
  };
  flat("budgets", budgets);
  flat("approvals", approvals);
  show(
    "budgets",
    "ok",
    lines.length ? facts(lines) : h("p", { class: "muted" }, "No budgets or policy settings yet: all defaults."),
    h("p", { class: "muted" }, "Edit them in the [budgets] and [approvals] sections of paios.toml below."),
  );
}

function renderData(paths) {
  show("data", "ok", facts([["Home", paths.home], ["Configuration", paths.config], ["Database", paths.database], ["Logs", paths.logs]]), h("p", { class: "muted" }, "Move it by starting PAIOS with PAIOS_HOME set to another folder."));
}

// ---- login item (menu-bar app only) ---------------------------------------------------------

async function loadLogin() {
  const tauri = window.__TAURI_INTERNALS__;
  if (!tauri || typeof tauri.invoke !== "function") {
    show("login", "unavailable", h("p", { class: "muted" }, "Starting at login is set in the menu-bar app (tray menu → Start at login), or with `paios daemon install` for the headless daemon."));
    return;
  }
  try {
    const enabled = await tauri.invoke("login_item_get");
    const box = h("input", { type: "checkbox", id: "login-item", checked: Boolean(enabled) });
    const note = h("span", { class: "muted", role: "status" });
    box.addEventListener("change", async () => {
      try {
        const now = await tauri.invoke("login_item_set", { enabled: box.checked });
        box.checked = Boolean(now);
        note.textContent = now ? "PAIOS starts when you log in." : "PAIOS does not start at login.";
      } catch (error) {
        note.textContent = `Could not change the login item: ${error}`;
      }
    });
    show("login", "ok", h("div", { class: "row" }, box, h("label", { for: "login-item" }, "Start PAIOS when I log in"), note));
  } catch (error) {
    show("login", "error", h("p", { class: "error" }, `The app did not answer: ${error}`));
  }
}

// ---- paios.toml -------------------------------------------------------------------------------

let revision = null;
let checkTimer = null;

function sectionChips(text, editor) {
  const chips = [];
  const seen = new Set();
  text.split("\n").forEach((line, index) => {
    const m = line.match(/^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?/);
    if (!m || seen.has(m[1])) return;
    seen.add(m[1]);
    const chip = h("button", { type: "button", class: "small" }, m[1]);
    chip.addEventListener("click", () => {
      const offset = editor.value.split("\n").slice(0, index).join("\n").length + (index ? 1 : 0);
      editor.focus();
      editor.setSelectionRange(offset, offset);
      const lineHeight = parseFloat(getComputedStyle(editor).lineHeight) || 18;
      editor.scrollTop = Math.max(0, (index - 2) * lineHeight);
    });
    chips.push(chip);
  });
  return chips;
}

async function loadConfig() {
  let config;
  try {
    config = await rpc("core.config_get", {});
  } catch (error) {
    failed("config", "Editing paios.toml", error);
    show("data", "unavailable", h("p", { class: "muted" }, "The data folder is shown in the panel's footer."));
    show("budgets", "unavailable", h("p", { class: "muted" }, "Not available in this version of the PAIOS daemon."));
    return;
  }
  revision = config.revision;
  renderData(config.paths);
  renderSections(config.sections);
  const editor = h("textarea", { class: "editor", id: "config-text", spellcheck: "false", "aria-label": "paios.toml", "aria-describedby": "config-status" });
  editor.value = config.text;
  const status = h("p", { id: "config-status", role: "status", class: "muted" }, config.exists ? config.path : `${config.path} does not exist yet: this is the default file.`);
  const save = h("button", { type: "button", class: "primary", id: "config-save" }, "Save");
  const revert = h("button", { type: "button" }, "Revert");
  const chips = h("div", { class: "sections", "aria-label": "Jump to a section" }, sectionChips(config.text, editor));

  const setStatus = (text, cls) => {
    status.textContent = text;
    status.className = cls;
  };
  const check = async () => {
    try {
      const result = await rpc("core.config_check", { text: editor.value });
      editor.setAttribute("aria-invalid", String(!result.ok));
      save.disabled = !result.ok;
      if (result.ok) setStatus("Valid.", "ok");
      else {
        const e = result.error;
        const where = e.line ? `Line ${e.line}, column ${e.column}${e.key ? ` (${e.key})` : ""}: ` : "";
        setStatus(where + e.message, "error");
      }
      return result.ok;
    } catch (error) {
      setStatus(`Could not check: ${error.message}`, "error");
      return false;
    }
  };
  editor.addEventListener("input", () => {
    setStatus("Checking…", "muted");
    clearTimeout(checkTimer);
    checkTimer = setTimeout(check, 350);
  });
  save.addEventListener("click", async () => {
    save.disabled = true;
    if (await check()) {
      try {
        const result = await rpc("core.config_set", { text: editor.value, revision });
        revision = result.revision;
        setStatus(result.changed ? "Saved. The daemon is using the new configuration." : "Saved (no effective change).", "ok");
      } catch (error) {
        setStatus(`Not saved: ${error.message}`, "error");
      }
    }
    save.disabled = false;
  });
  revert.addEventListener("click", () => loadConfig());
  show("config", "ok", chips, editor, h("div", { class: "row" }, save, revert), status);
}

loadAutonomy();
loadLogin();
loadConfig();
