// The playground page: draws the conversations FakeSlack holds, sends what the person does, and
// shows the inspector log. Redraws when the server's state version changes (polled: no extra deps).
import { escapeHtml, renderConversation } from "/static/render.js";

const POLL_MS = 600;
// The session's token, put into the page by the playground: every action must carry it (server.py).
const TOKEN = document.querySelector('meta[name="playground-token"]')?.content ?? "";
const $ = (id) => document.getElementById(id);
let state = null;
let current = "D0PLAYDM01";
let pendingFiles = [];
// The thread the composer replies in (the ts of its first message), or null for the channel.
let replyTo = null;
// Remote images load only when asked: "nothing leaves your machine" is the default.
let remoteImages = localStorage.getItem("pg-remote-images") === "on";
const openLogEntries = new Set();

// Images that cannot load (offline, blocked) show their alt text instead, as the issue asks.
document.addEventListener(
  "error",
  (event) => {
    const img = event.target;
    if (!(img instanceof HTMLImageElement)) return;
    const alt = document.createElement("span");
    alt.className = `sk-img-alt ${img.className}`;
    alt.setAttribute("role", "img");
    alt.textContent = img.alt || "image";
    img.replaceWith(alt);
  },
  true,
);

async function refresh(force = false) {
  const response = await fetch("/playground/state", { cache: "no-store" });
  const next = await response.json();
  // Versions only grow: a poll that started before a send may answer after it, with an older state.
  if (state && (next.version < state.version || (!force && next.version === state.version))) return;
  state = next;
  document.title = `Slack playground — ${state.bot_name}`;
  draw();
}

function conversationItem(channel) {
  const prefix = channel.is_im ? '<span class="pg-presence"></span>' : "# ";
  const active = channel.id === current ? " pg-active" : "";
  return `<li><button type="button" class="pg-conversation${active}" data-channel="${escapeHtml(channel.id)}">${prefix}${escapeHtml(channel.name)}</button></li>`;
}

function draw() {
  const ctx = { users: state.users, remoteImages, me: state.me };
  $("channels").innerHTML = state.channels.filter((c) => !c.is_im).map(conversationItem).join("");
  $("dms").innerHTML = state.channels.filter((c) => c.is_im).map(conversationItem).join("");
  const channel = state.channels.find((c) => c.id === current) ?? state.channels[0];
  $("conversation-title").textContent = channel.is_im ? channel.name : `# ${channel.name}`;
  $("conversation-hint").textContent = channel.is_im
    ? "Your DM with the bot: messages, files and links go to it as message.im events"
    : "The bot hears slash commands here (it subscribes to DMs only)";
  $("message-input").placeholder = channel.is_im ? `Message ${channel.name}` : `Message #${channel.name}`;
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.innerHTML = channel.messages.length
    ? renderConversation(channel.messages, ctx)
    : '<div class="pg-empty">No messages yet. Say hello.</div>';
  if (atBottom || drawnChannel !== channel.id) list.scrollTop = list.scrollHeight;
  drawnChannel = channel.id;
  drawReplyTarget();
  drawLog();
}

function drawReplyTarget() {
  $("reply-target").innerHTML = replyTo
    ? `<span class="pg-chip">↳ Replying in thread<button type="button" id="cancel-reply" aria-label="Stop replying in thread">×</button></span>`
    : "";
}
let drawnChannel = null;

function json(value) {
  return `<pre class="pg-json">${escapeHtml(JSON.stringify(value, null, 2))}</pre>`;
}

function logSummary(entry) {
  if (entry.type === "request") {
    const status = entry.status === null ? "…" : entry.status;
    const ok = entry.status === 200 ? "pg-ok" : entry.status === null ? "" : "pg-bad";
    return `<span class="pg-tag pg-tag-request">request</span> ${escapeHtml(entry.kind)} <span class="${ok}">${status}</span> <span class="pg-ms">${entry.ms ?? ""}${entry.ms === null ? "" : " ms"}</span>`;
  }
  if (entry.type === "api") {
    const ok = entry.answer?.ok ? '<span class="pg-ok">ok</span>' : `<span class="pg-bad">${escapeHtml(entry.answer?.error ?? "?")}</span>`;
    return `<span class="pg-tag pg-tag-api">web api</span> ${escapeHtml(entry.method)} ${ok}`;
  }
  if (entry.type === "audit") {
    const r = entry.record;
    return `<span class="pg-tag pg-tag-audit">audit</span> ${escapeHtml(r.decision ?? "?")} ${escapeHtml(r.command ?? "")} ${escapeHtml(r.user ?? "")}`;
  }
  const how = ["replace_original", "delete_original"].find((k) => entry.payload[k]) ?? entry.payload.response_type ?? "ephemeral";
  return `<span class="pg-tag pg-tag-response">response_url</span> ${escapeHtml(how)}`;
}

// Send a recorded request again: as sent (its signature too: replay protection at work) or signed anew
// (Slack's retry of an event, a second click): exactly-once at work.
function replayButtons(entry) {
  const replays = Object.entries(entry.replays ?? {});
  if (!replays.length || entry.status === null) return "";
  return `<div class="pg-replays">${replays
    .map(([how, label]) => `<button type="button" class="pg-replay" data-replay-id="${entry.id}" data-how="${escapeHtml(how)}">↻ ${escapeHtml(label)}</button>`)
    .join("")}</div>`;
}

function logDetails(entry) {
  if (entry.type === "request") return `${replayButtons(entry)}<h4>${escapeHtml(entry.request_title ?? "Request (API Gateway HTTP API 2.0, signed)")}</h4>${json(entry.request)}<h4>Response</h4>${json(entry.response_body)}`;
  if (entry.type === "api") return `<h4>Arguments</h4>${json(entry.args)}<h4>Token</h4>${json(entry.token)}<h4>Answer</h4>${json(entry.answer)}`;
  if (entry.type === "audit") return `<h4>Audit record</h4>${json(entry.record)}`;
  return `<h4>Payload</h4>${json(entry.payload)}`;
}

function drawLog() {
  const log = $("log");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.innerHTML = state.log
    .map((entry) => {
      const time = new Date(entry.time * 1000).toLocaleTimeString();
      const open = openLogEntries.has(entry.id) ? " open" : "";
      return `<li class="pg-log-entry pg-log-${entry.type}" data-id="${entry.id}"><details${open}><summary><time>${time}</time> ${logSummary(entry)}</summary>${logDetails(entry)}</details></li>`;
    })
    .join("");
  if (atBottom) log.scrollTop = log.scrollHeight;
}

// Every state-changing call carries the session's token (the server refuses those without: server.py).
export async function post(path, body) {
  $("composer-error").textContent = "";
  const headers = { "content-type": "application/json", "x-playground-token": TOKEN };
  const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) $("composer-error").textContent = answer.error ?? `the playground answered ${response.status}`;
  else if (answer.status && answer.status !== 200) $("composer-error").textContent = `the bot answered HTTP ${answer.status} (see the inspector)`;
  await refresh(true);
  return answer;
}

function drawAttachments() {
  $("attachments").innerHTML = pendingFiles
    .map((f, i) => `<span class="pg-chip">📄 ${escapeHtml(f.name)}<button type="button" data-remove="${i}" aria-label="Remove ${escapeHtml(f.name)}">×</button></span>`)
    .join("");
}

async function send(event) {
  event?.preventDefault();
  const input = $("message-input");
  const text = input.value;
  if (!text.trim() && !pendingFiles.length) return;
  const files = pendingFiles;
  const thread_ts = replyTo ?? undefined;
  input.value = "";
  pendingFiles = [];
  drawAttachments();
  $("send").disabled = true;
  try {
    await post("/playground/messages", { channel: current, text, files, thread_ts });
  } finally {
    $("send").disabled = false;
    input.focus();
  }
}

function wire() {
  $("composer").addEventListener("submit", send);
  $("message-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) send(event);
  });
  $("file-input").addEventListener("change", (event) => {
    // Only the metadata leaves the page, as in a Slack event: the bytes are never read.
    pendingFiles.push(...[...event.target.files].map((f) => ({ name: f.name, type: f.type, size: f.size })));
    event.target.value = "";
    drawAttachments();
  });
  $("attachments").addEventListener("click", (event) => {
    const index = event.target.dataset?.remove;
    if (index !== undefined) {
      pendingFiles.splice(Number(index), 1);
      drawAttachments();
    }
  });
  for (const id of ["channels", "dms"]) {
    $(id).addEventListener("click", (event) => {
      const button = event.target.closest("[data-channel]");
      if (!button) return;
      current = button.dataset.channel;
      replyTo = null;
      draw();
    });
  }
  $("reply-target").addEventListener("click", (event) => {
    if (event.target.id !== "cancel-reply") return;
    replyTo = null;
    drawReplyTarget();
  });
  $("remote-images").checked = remoteImages;
  $("remote-images").addEventListener("change", (event) => {
    remoteImages = event.target.checked;
    localStorage.setItem("pg-remote-images", remoteImages ? "on" : "off");
    draw();
  });
  $("messages").addEventListener("click", async (event) => {
    const reply = event.target.closest(".sk-reply");
    if (reply) {
      replyTo = reply.dataset.threadTs;
      drawReplyTarget();
      $("message-input").focus();
      return;
    }
    const button = event.target.closest(".sk-button");
    if (!button) return;
    button.disabled = true;
    const ts = button.closest(".sk-message").dataset.ts;
    await post("/playground/actions", { channel: current, ts, action_id: button.dataset.actionId });
  });
  $("log").addEventListener("click", async (event) => {
    const button = event.target.closest(".pg-replay");
    if (!button) return;
    button.disabled = true;
    await post("/playground/replay", { id: Number(button.dataset.replayId), how: button.dataset.how });
  });
  $("log").addEventListener("toggle", (event) => {
    const id = Number(event.target.closest("[data-id]")?.dataset.id);
    if (event.target.open) openLogEntries.add(id);
    else openLogEntries.delete(id);
  }, true);
}

wire();
await refresh(true);
setInterval(() => refresh().catch(() => {}), POLL_MS);
