// How a service's state reads at a glance. Shared by the panel and the settings page; the menu-bar
// app applies the same rules to its tray icon (src-tauri/src/tray.rs) — keep them in step.

/** Tone of one service: "ok" (green), "warn" (amber), "down" (red) or "idle" (grey). */
export function serviceTone(service) {
  switch (service.state) {
    case "running":
    case "adopted":
      return service.probe && service.probe.ok === false ? "warn" : "ok";
    case "starting":
      return "warn";
    case "backoff":
    case "hung":
    case "failed":
      return "down";
    default:
      return "idle";
  }
}

/** Overall health: red if anything failed or hung, amber if anything is recovering or waiting. */
export function overallTone(services, pendingApprovals) {
  const states = (services || []).map((s) => s.state);
  if (states.some((s) => s === "failed" || s === "hung")) return "down";
  const degraded = (services || []).some((s) => serviceTone(s) === "warn" || s.state === "backoff");
  if (degraded || pendingApprovals > 0) return "warn";
  return "ok";
}

export const TONE_LABEL = { ok: "All good", warn: "Needs attention", down: "Something is down", idle: "Stopped" };
