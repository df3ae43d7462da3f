// The panel's only door to PAIOS: the daemon's loopback HTTP API.
//
// Owns: the API token (read once from the URL fragment `#token=…`, then kept in sessionStorage
// and removed from the address bar so it never lands in history or a screenshot), JSON calls to
// `/api/*`, and the live event stream (`/api/stream`, server-sent events).
// Never: holds business logic, polls in a loop, or writes the token anywhere else.

const TOKEN_KEY = "paios.token";

function takeTokenFromFragment() {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = fragment.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    fragment.delete("token");
    const rest = fragment.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export const token = takeTokenFromFragment();

/** An operation the running daemon does not offer (yet): the caller shows an empty section. */
export class Unavailable extends Error {
  constructor(op, message) {
    super(message || `${op} is not available in this daemon`);
    this.op = op;
  }
}

/** Any other failure, with the daemon's own message when it sent one. */
export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function request(method, path, body) {
  if (!token) {
    throw new ApiFailure(401, "no_token", "No API token: open the panel from the link `paios daemon` prints, or from the menu-bar app.");
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiFailure(0, "unreachable", "The PAIOS daemon is not reachable. Is it running?");
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch (_) {
    payload = null;
  }
  if (response.ok) return payload;
  const error = (payload && payload.error) || {};
  if (response.status === 404 && error.code === "unknown_op") {
    throw new Unavailable(path, error.message);
  }
  if (response.status === 401) {
    throw new ApiFailure(401, "unauthorized", "The API token was refused. Open the panel again from the link `paios daemon` prints.");
  }
  throw new ApiFailure(response.status, error.code || "http_" + response.status, error.message || response.statusText);
}

/** `paios status --json`. */
export function status() {
  return request("GET", "/api/status");
}

/** Any daemon operation, e.g. `rpc("approvals.list")`. */
export function rpc(op, args) {
  return request("POST", `/api/rpc/${encodeURIComponent(op)}`, args === undefined ? {} : args);
}

/**
 * Follow the daemon's committed events. `onEvent(event)` for each one; `onSync()` whenever the
 * stream (re)connects or reports that it dropped events, so the caller re-reads everything.
 * `onConnection(bool)` reports the link state. The browser reconnects by itself.
 */
export function follow({ onEvent, onSync, onConnection }) {
  if (!token) return null;
  const source = new EventSource(`/api/stream?token=${encodeURIComponent(token)}`);
  source.addEventListener("open", () => {
    onConnection && onConnection(true);
    onSync && onSync();
  });
  source.addEventListener("error", () => onConnection && onConnection(false));
  source.addEventListener("lagged", () => onSync && onSync());
  source.addEventListener("event", (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch (_) {
      return;
    }
    onEvent && onEvent(event);
  });
  return source;
}

/** Tiny DOM builder: text is always set as text, never parsed as HTML. */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Human durations: 42s, 5m 3s, 2h 4m, 3d 2h. */
export function duration(seconds) {
  if (typeof seconds !== "number" || !isFinite(seconds) || seconds < 0) return "—";
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** "3 min ago" for an RFC 3339 timestamp. */
export function ago(timestamp) {
  const t = Date.parse(timestamp);
  if (isNaN(t)) return "";
  return duration(Math.max(0, (Date.now() - t) / 1000)) + " ago";
}

/** US dollars, cents shown; tiny non-zero amounts keep enough digits to be seen. */
export function dollars(value) {
  const n = Number(value);
  if (!isFinite(n)) return "—";
  if (n !== 0 && Math.abs(n) < 0.01) return "$" + n.toFixed(4);
  return "$" + n.toFixed(2);
}
