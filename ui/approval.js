// The approval popup (the app opens one per request; a browser can open it too):
// one request with Approve / Deny / Always. Answering it answers the waiting hook.

import { follow, h, rpc } from "./api.js";
import { approvalCard } from "./panel.js";

const id = new URLSearchParams(location.search).get("id");
const body = document.querySelector("#request .body");

function settle(message, state) {
  body.dataset.state = state;
  body.replaceChildren(h("p", { class: state === "error" ? "error" : "ok" }, message));
}

async function answer(request, decision, always, row) {
  for (const b of row.querySelectorAll("button")) b.disabled = true;
  try {
    await rpc("approvals.decide", { id: request.id, decision, always });
    settle(decision === "approve" ? (always ? "Approved, and allowed from now on." : "Approved.") : "Denied.", "done");
  } catch (error) {
    for (const b of row.querySelectorAll("button")) b.disabled = false;
    const banner = document.getElementById("banner");
    banner.hidden = false;
    banner.textContent = `Could not answer: ${error.message}`;
  }
}

async function load() {
  try {
    const list = await rpc("approvals.list", {});
    const all = Array.isArray(list) ? list : (list && list.approvals) || [];
    const request = all.find((r) => String(r.id) === id);
    if (!request) return settle(`Request ${id} is not in the queue any more.`, "done");
    if (request.state && request.state !== "pending") return settle(`Request ${id} was already answered (${request.state}).`, "done");
    body.dataset.state = "ok";
    body.replaceChildren(h("ul", { class: "requests" }, approvalCard(request, { onDecided: answer })));
  } catch (error) {
    settle(`Could not load request ${id}: ${error.message}`, "error");
  }
}

follow({
  onSync: load,
  onEvent: (event) => {
    if ((event.views || []).includes("approvals")) load();
  },
});
load();
