// PAIOS approval gate for the OpenClaw gateway, written out by `paios hooks install`.
//
// Owns: one `before_tool_call` handler on the `exec` tool that hands the command to
// `paios hook pre-tool-use --brain openclaw` (the same gate Claude Code and Codex use) and turns
// its answer into OpenClaw's: deny → `{ block: true, blockReason }`, allow → no decision (OpenClaw's
// own exec policy still applies). An `ask` is answered inside `paios hook`: it waits in the
// PAIOS approval queue for the user, so this handler waits too, up to `timeoutMs`.
// Never does: decide anything itself. Whenever PAIOS cannot give a clear answer (not
// configured, cannot start, exits with an error, prints something unreadable, takes too long)
// the call is blocked with a reason, like OpenClaw does when a gate hook fails.
import { spawn } from "node:child_process";
import path from "node:path";

const MAX_OUTPUT = 1024 * 1024;

function block(reason) {
  return { block: true, blockReason: reason };
}

function workingDirectory(api, params, ctx) {
  let workspace;
  try {
    workspace = api.runtime?.agent?.resolveAgentWorkspaceDir?.(api.config, ctx?.agentId);
  } catch {
    workspace = undefined;
  }
  const workdir = typeof params?.workdir === "string" && params.workdir !== "" ? params.workdir : undefined;
  if (workdir && path.isAbsolute(workdir)) return workdir;
  if (workdir && workspace) return path.resolve(workspace, workdir);
  return workspace;
}

/** Runs `paios hook pre-tool-use` and maps its answer; always resolves, never throws. */
function decide(settings, input, signal) {
  return new Promise((resolve) => {
    let settled = false;
    let timer;
    let child;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener?.("abort", onAbort);
      resolve(result);
    };
    try {
      child = spawn(
        settings.paios,
        ["--home", settings.home, "hook", "pre-tool-use", "--brain", "openclaw"],
        { stdio: ["pipe", "pipe", "pipe"] },
      );
    } catch (e) {
      finish(block(`PAIOS approval gate: cannot run ${settings.paios} (${e?.message ?? e}); the command is refused.`));
      return;
    }
    timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish(block(`PAIOS approval gate: no decision within ${Math.round(settings.timeoutMs / 1000)} s; the command is refused.`));
    }, settings.timeoutMs);
    function onAbort() {
      child?.kill("SIGKILL");
      finish(block("PAIOS approval gate: the tool call was cancelled."));
    }
    signal?.addEventListener?.("abort", onAbort, { once: true });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      if (stdout.length < MAX_OUTPUT) stdout += d;
    });
    child.stderr.on("data", (d) => {
      if (stderr.length < MAX_OUTPUT) stderr += d;
    });
    child.on("error", (e) => {
      finish(block(`PAIOS approval gate: cannot run ${settings.paios} (${e?.message ?? e}); the command is refused.`));
    });
    child.on("close", (code) => {
      if (code !== 0) {
        const why = stderr.trim().split("\n").pop() || `exit status ${code}`;
        finish(block(`PAIOS approval gate failed (${why}); the command is refused.`));
        return;
      }
      let answer;
      try {
        answer = JSON.parse(stdout)?.hookSpecificOutput;
      } catch {
        answer = undefined;
      }
      const decision = answer?.permissionDecision;
      const reason = typeof answer?.permissionDecisionReason === "string" ? answer.permissionDecisionReason : "";
      if (decision === "allow") finish(undefined);
      else if (decision === "deny") finish(block(reason || "PAIOS refused this command."));
      else finish(block("PAIOS approval gate: unreadable answer from paios; the command is refused."));
    });
    child.stdin.on("error", () => {});
    child.stdin.end(JSON.stringify(input));
  });
}

export default {
  id: "paios-gate",
  name: "PAIOS approval gate",
  description: "Runs every exec call past the PAIOS approval policy before it runs.",
  register(api) {
    const config = api.pluginConfig ?? {};
    const settings = {
      paios: typeof config.paios === "string" ? config.paios : "",
      home: typeof config.home === "string" ? config.home : "",
      timeoutMs: Number.isInteger(config.timeoutMs) && config.timeoutMs > 0 ? config.timeoutMs : 300000,
    };
    api.on(
      "before_tool_call",
      async (event, ctx) => {
        if (!settings.paios || !settings.home) {
          return block("PAIOS approval gate is not configured (run `paios hooks install`); the command is refused.");
        }
        const params = event?.params ?? {};
        if (typeof params.command !== "string") {
          return block("PAIOS approval gate: this exec call has no shell command PAIOS can check; it is refused.");
        }
        const input = {
          tool_name: "Bash",
          tool_input: { command: params.command },
          session_id: ctx?.sessionId ?? ctx?.sessionKey ?? "",
        };
        const cwd = workingDirectory(api, params, ctx);
        if (cwd) input.cwd = cwd;
        return decide(settings, input, ctx?.abortSignal);
      },
      { matcher: ["exec"], priority: 1000, timeoutMs: settings.timeoutMs + 5000 },
    );
  },
};
