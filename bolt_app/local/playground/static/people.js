// The user switcher, the audit panel, and Block Kit's confirm dialog (bolt_app/local/playground/people.py).
import { escapeHtml, renderMrkdwn, renderPlainText } from "/static/render.js";

const POLL_MS = 1000;
const $ = (id) => document.getElementById(id);
// The session's token, when the page carries one (the playground's own page only may act).
const token = () => document.querySelector('meta[name="playground-token"]')?.content ?? "";
let drawn = "";

async function post(path, body) {
  const headers = { "content-type": "application/json", "x-playground-token": token() };
  return fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
}

function drawSwitcher(people) {
  const options = people.people
    .map((p) => `<option value="${escapeHtml(p.id)}"${p.id === people.me ? " selected" : ""}>${escapeHtml(p.name)} — ${escapeHtml(p.role)}</option>`)
    .join("");
  $("people").innerHTML =
    '<div class="pg-section-title">You are</div>' +
    `<label class="pg-people-label">Acting as <select id="user-switcher" aria-label="Acting as">${options}</select></label>` +
    '<div class="pg-people-note">The roles are the playground\'s policy (bolt_app/local/playground/policy.toml)</div>';
}

function recordLine(r, names) {
  const who = (id) => (id ? `@${names[id] ?? id}` : "");
  const what = [r.command, r.action, r.target].filter(Boolean).join(" ");
  const approver = r.approver ? `, approver ${who(r.approver)}` : "";
  const result = r.result ? `<div class="pg-audit-result">${escapeHtml(r.result)}</div>` : "";
  return `<li class="pg-audit-record" data-decision="${escapeHtml(r.decision ?? "")}"><time>${escapeHtml((r.time ?? "").slice(11, 19))}</time> ` +
    `<b>${escapeHtml(r.decision ?? "?")}</b> ${escapeHtml(who(r.user))} <code>${escapeHtml(what)}</code>${escapeHtml(approver)}${result}</li>`;
}

function drawAudit(people) {
  let panel = $("audit-panel");
  if (!panel) {
    panel = document.createElement("details");
    panel.id = "audit-panel";
    panel.className = "pg-audit";
    panel.open = true;
    document.querySelector(".pg-inspector-header")?.after(panel);
  }
  const names = Object.fromEntries(people.people.map((p) => [p.id, p.name]));
  const records = people.audit ?? [];
  panel.innerHTML =
    `<summary>Audit trail (${records.length}) <span class="pg-hint">"audit": true records, newest first</span></summary>` +
    `<ol class="pg-audit-list">${records.map((r) => recordLine(r, names)).join("") || '<li class="pg-hint">No decisions yet</li>'}</ol>`;
  if (!panel.dataset.wired) {
    panel.dataset.wired = "1";
    panel.addEventListener("toggle", () => { panel.dataset.closed = panel.open ? "" : "1"; });
  }
  panel.open = panel.dataset.closed !== "1";
}

async function refresh() {
  const response = await fetch("/playground/people", { cache: "no-store" });
  if (!response.ok) return;
  const people = await response.json();
  const key = JSON.stringify(people);
  if (key === drawn) return;
  drawn = key;
  if (!$("user-switcher") || $("user-switcher").value !== people.me) drawSwitcher(people);
  // Who the playground says you are (not just what the menu shows): what clicks and commands are sent as.
  $("people").dataset.me = people.me;
  drawAudit(people);
}

// Slack asks the confirm dialog's question before a button with `confirm` sends its click.
function askFirst(button) {
  const confirm = JSON.parse(button.dataset.confirm);
  let dialog = $("confirm-dialog");
  if (!dialog) {
    dialog = document.createElement("dialog");
    dialog.id = "confirm-dialog";
    dialog.className = "sk-confirm";
    document.body.append(dialog);
  }
  const text = confirm.text?.type === "mrkdwn" ? renderMrkdwn(confirm.text.text) : renderPlainText(confirm.text?.text ?? "");
  const style = confirm.style === "danger" ? " sk-button-danger" : " sk-button-primary";
  dialog.innerHTML =
    `<h3 class="sk-confirm-title">${renderPlainText(confirm.title?.text ?? "Are you sure?")}</h3>` +
    `<div class="sk-confirm-text">${text}</div><form method="dialog" class="sk-confirm-buttons">` +
    `<button value="deny" class="sk-button">${renderPlainText(confirm.deny?.text ?? "Cancel")}</button>` +
    `<button value="confirm" class="sk-button${style}" id="confirm-yes">${renderPlainText(confirm.confirm?.text ?? "Yes")}</button></form>`;
  // The conversation may have been redrawn while the dialog was open: click the button as it is now.
  const ts = button.closest(".sk-message")?.dataset.ts ?? "";
  const actionId = button.dataset.actionId ?? "";
  dialog.onclose = () => {
    if (dialog.returnValue !== "confirm") return;
    const current = [...document.querySelectorAll(".sk-message")]
      .find((m) => m.dataset.ts === ts)
      ?.querySelector(`.sk-button[data-action-id="${CSS.escape(actionId)}"]`);
    if (!current) return;
    current.dataset.confirmed = "1";
    current.click();
    delete current.dataset.confirmed;
  };
  dialog.showModal();
}

document.addEventListener(
  "click",
  (event) => {
    const button = event.target.closest?.(".sk-button[data-confirm]");
    if (!button || button.dataset.confirmed) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    askFirst(button);
  },
  true,
);

document.addEventListener("change", async (event) => {
  if (event.target.id !== "user-switcher") return;
  event.target.disabled = true;
  try {
    await post("/playground/people", { user: event.target.value });
  } finally {
    event.target.disabled = false;
  }
  await refresh();
});

await refresh();
setInterval(() => refresh().catch(() => {}), POLL_MS);
