// Slack's message rendering, as pure functions from Slack JSON to HTML strings: mrkdwn and the
// Block Kit blocks the bot uses. No DOM access here, so the browser tests can call it directly.

// The shortcodes the bot uses, plus a few common ones; unknown shortcodes stay as typed, as in Slack.
export const EMOJI = {
  star: "⭐", "+1": "👍", thumbsup: "👍", "-1": "👎", white_check_mark: "✅", heavy_check_mark: "✔️",
  x: "❌", warning: "⚠️", tada: "🎉", rocket: "🚀", wave: "👋", smile: "😄", slightly_smiling_face: "🙂",
  heart: "❤️", fire: "🔥", eyes: "👀", memo: "📝", bulb: "💡", hourglass: "⌛", fork_and_knife: "🍴",
  // The alerts channel's (bolt_app/slack_web/blocks.py: alarm states, notifications, deploys).
  red_circle: "🔴", large_green_circle: "🟢", white_circle: "⚪", grey_question: "❔", envelope: "✉️",
  hourglass_flowing_sand: "⏳",
  // /instances (an instance that needs a second person).
  lock: "🔒",
};

const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

// Slack escapes &, < and > in message text; show them as typed.
function unescapeSlack(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function emoji(name) {
  return EMOJI[name] ? `<span class="sk-emoji" title=":${escapeHtml(name)}:">${EMOJI[name]}</span>` : null;
}

function emojify(html) {
  return html.replace(/:([a-z0-9_+'-]+):/g, (all, name) => emoji(name) ?? all);
}

const SAFE_URL = /^(https?:|mailto:)/i;

// Code spans, <...> markup and bare web URLs first: nothing inside them is formatted further.
// A bare URL is what Slack links in a message's text (chat.postMessage links URLs by default):
// up to whitespace or markup, minus trailing punctuation; `&amp;` inside it stands for `&`.
const BARE_URL = String.raw`https?:\/\/[^\s<>]*[^\s<>.,;:!?)\]'"*_~]`;
const TOKENS = new RegExp("```([\\s\\S]*?)```|`([^`\\n]+)`|<([^<>\\n]+)>|(" + BARE_URL + ")", "g");

function link(url, label) {
  return `<a class="sk-link" href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(label || url)}</a>`;
}

export function renderMrkdwn(text, ctx = {}) {
  const source = String(text ?? "");
  let html = "";
  let last = 0;
  for (const match of source.matchAll(TOKENS)) {
    html += formatPlain(source.slice(last, match.index));
    if (match[1] !== undefined) html += `<pre class="sk-pre">${escapeHtml(unescapeSlack(match[1]))}</pre>`;
    else if (match[2] !== undefined) html += `<code class="sk-code">${escapeHtml(unescapeSlack(match[2]))}</code>`;
    else if (match[3] !== undefined) html += renderMarkup(match[3], ctx);
    else html += link(unescapeSlack(match[4]));
    last = match.index + match[0].length;
  }
  return html + formatPlain(source.slice(last));
}

// *bold*, _italic_, ~strike~ as Slack reads them: not inside words, not starting with a space.
function formatPlain(text) {
  let html = escapeHtml(unescapeSlack(text));
  html = html.replace(/(^|[^\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])/g, "$1<b>$2</b>");
  html = html.replace(/(^|[^\w_])_(?!\s)([^_\n]+?)_(?![\w_])/g, "$1<i>$2</i>");
  html = html.replace(/(^|[^\w~])~(?!\s)([^~\n]+?)~(?![\w~])/g, "$1<s>$2</s>");
  return emojify(html).replace(/\n/g, "<br>");
}

// <@U123>, <#C123|name>, <!here>, <https://url|label>: mentions and links.
function renderMarkup(inner, ctx) {
  const bar = inner.indexOf("|");
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? "" : unescapeSlack(inner.slice(bar + 1));
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const name = label || ctx.users?.[id] || id;
    return `<span class="sk-mention" data-user-id="${escapeHtml(id)}">@${escapeHtml(name)}</span>`;
  }
  if (target.startsWith("#")) {
    return `<span class="sk-mention">#${escapeHtml(label || target.slice(1))}</span>`;
  }
  if (target.startsWith("!")) {
    return `<span class="sk-mention">${escapeHtml(label || "@" + target.slice(1).split("^")[0])}</span>`;
  }
  const url = unescapeSlack(target);
  if (SAFE_URL.test(url)) return link(url, label);
  return escapeHtml(`<${unescapeSlack(inner)}>`);
}

export function renderPlainText(text) {
  return emojify(escapeHtml(text ?? "")).replace(/\n/g, "<br>");
}

// A Block Kit text object: mrkdwn or plain_text.
export function renderTextObject(object, ctx = {}) {
  if (!object) return "";
  return object.type === "mrkdwn" ? renderMrkdwn(object.text, ctx) : renderPlainText(object.text);
}

function imageHost(url) {
  try {
    return new URL(url).host;
  } catch {
    return "";
  }
}

// Nothing leaves the machine unless asked: a remote image is a placeholder naming its host and
// alt text, and only ctx.remoteImages (the page's "Load remote images" switch) loads it.
export function renderImage(url, alt, className, ctx = {}) {
  const web = /^https?:/i.test(url ?? "");
  if (web && ctx.remoteImages) {
    // One that cannot load is swapped for its alt text by the page (see app.js).
    return `<img class="${className}" src="${escapeHtml(url)}" alt="${escapeHtml(alt ?? "")}" title="${escapeHtml(alt ?? "")}">`;
  }
  const host = web ? imageHost(url) : "";
  return (
    `<span class="sk-img-placeholder ${className}" role="img" aria-label="${escapeHtml(alt ?? "")}" title="${escapeHtml(url ?? "")}">` +
    `<span class="sk-img-host">🖼 ${escapeHtml(host || "image")}</span><span class="sk-img-text">${escapeHtml(alt ?? "")}</span></span>`
  );
}

function blockId(block) {
  return block.block_id ? ` data-block-id="${escapeHtml(block.block_id)}"` : "";
}

function renderElement(element, block, ctx) {
  switch (element.type) {
    case "button": {
      const style = element.style ? ` sk-button-${escapeHtml(element.style)}` : "";
      // A confirm dialog (Block Kit `confirm`) is asked before the click is sent (static/people.js).
      const confirm = element.confirm ? ` data-confirm="${escapeHtml(JSON.stringify(element.confirm))}"` : "";
      return (
        `<button type="button" class="sk-button${style}" data-action-id="${escapeHtml(element.action_id ?? "")}"` +
        `${blockId(block)}${confirm} data-value="${escapeHtml(element.value ?? "")}">${renderTextObject(element.text, ctx)}</button>`
      );
    }
    case "image":
      return renderImage(element.image_url, element.alt_text, "sk-accessory-image", ctx);
    default:
      return `<span class="sk-unsupported">[${escapeHtml(element.type)} element]</span>`;
  }
}

function renderRichTextElement(element, ctx) {
  const style = element.style ?? {};
  let html;
  switch (element.type) {
    case "text":
      html = escapeHtml(element.text).replace(/\n/g, "<br>");
      break;
    case "link":
      html = SAFE_URL.test(element.url ?? "") ? link(element.url, element.text) : escapeHtml(element.text || element.url);
      break;
    case "user":
      html = `<span class="sk-mention" data-user-id="${escapeHtml(element.user_id)}">@${escapeHtml(ctx.users?.[element.user_id] ?? element.user_id)}</span>`;
      break;
    case "emoji":
      html = emoji(element.name) ?? escapeHtml(`:${element.name}:`);
      break;
    default:
      html = escapeHtml(element.text ?? "");
  }
  if (style.code) html = `<code class="sk-code">${html}</code>`;
  if (style.bold) html = `<b>${html}</b>`;
  if (style.italic) html = `<i>${html}</i>`;
  if (style.strike) html = `<s>${html}</s>`;
  return html;
}

function renderRichText(block, ctx) {
  const parts = (block.elements ?? []).map((section) => {
    const inline = (section.elements ?? []).map((e) => renderRichTextElement(e, ctx)).join("");
    if (section.type === "rich_text_preformatted") return `<pre class="sk-pre">${inline}</pre>`;
    if (section.type === "rich_text_quote") return `<blockquote class="sk-quote">${inline}</blockquote>`;
    if (section.type === "rich_text_list") {
      const items = (section.elements ?? []).map((item) => `<li>${(item.elements ?? []).map((e) => renderRichTextElement(e, ctx)).join("")}</li>`);
      return `<ul>${items.join("")}</ul>`;
    }
    return `<div>${inline}</div>`;
  });
  return `<div class="sk-block sk-rich-text"${blockId(block)}>${parts.join("")}</div>`;
}

export function renderBlock(block, ctx = {}) {
  switch (block.type) {
    case "section": {
      const fields = (block.fields ?? []).map((f) => `<div class="sk-field">${renderTextObject(f, ctx)}</div>`).join("");
      const accessory = block.accessory ? `<div class="sk-accessory">${renderElement(block.accessory, block, ctx)}</div>` : "";
      return (
        `<div class="sk-block sk-section"${blockId(block)}><div class="sk-section-text">${renderTextObject(block.text, ctx)}` +
        `${fields ? `<div class="sk-fields">${fields}</div>` : ""}</div>${accessory}</div>`
      );
    }
    case "divider":
      return `<hr class="sk-block sk-divider"${blockId(block)}>`;
    case "actions":
      return `<div class="sk-block sk-actions"${blockId(block)}>${(block.elements ?? []).map((e) => renderElement(e, block, ctx)).join("")}</div>`;
    case "context": {
      const items = (block.elements ?? []).map((e) =>
        e.type === "image" ? renderImage(e.image_url, e.alt_text, "sk-context-image", ctx) : `<span>${renderTextObject(e, ctx)}</span>`,
      );
      return `<div class="sk-block sk-context"${blockId(block)}>${items.join("")}</div>`;
    }
    case "image": {
      const title = block.title ? `<figcaption class="sk-image-title">${renderTextObject(block.title, ctx)}</figcaption>` : "";
      return `<figure class="sk-block sk-image"${blockId(block)}>${title}${renderImage(block.image_url, block.alt_text, "sk-image-img", ctx)}</figure>`;
    }
    case "header":
      return `<div class="sk-block sk-header"${blockId(block)}>${renderTextObject(block.text, ctx)}</div>`;
    case "rich_text":
      return renderRichText(block, ctx);
    default:
      // Shown, not hidden: a developer adding a new block type sees that the playground lacks it.
      return `<div class="sk-block sk-unsupported">[unsupported block: ${escapeHtml(block.type)}]</div>`;
  }
}

export function renderBlocks(blocks, ctx = {}) {
  return (blocks ?? []).map((b) => renderBlock(b, ctx)).join("");
}

function formatSize(bytes) {
  if (!bytes) return "";
  return bytes < 1024 ? `${bytes} B` : bytes < 1048576 ? `${Math.round(bytes / 1024)} KB` : `${(bytes / 1048576).toFixed(1)} MB`;
}

function renderFiles(files) {
  return (files ?? [])
    .map(
      (f) =>
        `<div class="sk-file"><span class="sk-file-icon">📄</span><span class="sk-file-name">${escapeHtml(f.name)}</span>` +
        `<span class="sk-file-meta">${escapeHtml(f.filetype ?? "")} ${formatSize(f.size)}</span></div>`,
    )
    .join("");
}

function formatTime(ts) {
  const date = new Date(parseFloat(ts) * 1000);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function isReply(message) {
  return Boolean(message.thread_ts) && message.thread_ts !== message.ts;
}

// A conversation as Slack draws it: top-level messages in order, each thread's replies under the
// message that started it (a reply whose parent is gone stays at the top level).
export function renderConversation(messages, ctx = {}) {
  // As Slack does: an ephemeral message is shown only to the person it was for (ctx.me).
  const list = (messages ?? []).filter((m) => !(m.ephemeral && ctx.me && m.ephemeral_to && m.ephemeral_to !== ctx.me));
  const parents = new Set(list.filter((m) => !isReply(m)).map((m) => m.ts));
  const replies = new Map();
  for (const m of list) {
    if (isReply(m) && parents.has(m.thread_ts)) replies.set(m.thread_ts, [...(replies.get(m.thread_ts) ?? []), m]);
  }
  return list
    .filter((m) => !(isReply(m) && parents.has(m.thread_ts)))
    .map((m) => {
      const thread = replies.get(m.ts) ?? [];
      if (!thread.length) return renderMessage(m, ctx);
      const count = `${thread.length} ${thread.length === 1 ? "reply" : "replies"}`;
      return (
        renderMessage(m, ctx) +
        `<div class="sk-thread" data-thread-ts="${escapeHtml(m.ts)}"><div class="sk-thread-header">${count}</div>` +
        `${thread.map((r) => renderMessage(r, ctx)).join("")}</div>`
      );
    })
    .join("");
}

// A whole message as Slack draws it: blocks when it has them (text is then only the notification
// fallback), else its mrkdwn text; plus attached files. A person's message is drawn from its
// rich_text block, whose element styles carry the formatting they typed.
export function renderMessage(message, ctx = {}) {
  const isBot = Boolean(message.bot_id);
  const name = ctx.users?.[message.user] ?? (message.user === "USLACKBOT" ? "Slackbot" : message.user ?? "unknown");
  const body = message.blocks?.length ? renderBlocks(message.blocks, ctx) : renderMrkdwn(message.text, ctx);
  const classes = ["sk-message", isBot ? "sk-from-bot" : "sk-from-person", message.ephemeral ? "sk-ephemeral" : ""];
  return (
    `<div class="${classes.join(" ").trim()}" data-ts="${escapeHtml(message.ts)}">` +
    `<div class="sk-avatar${isBot ? " sk-avatar-bot" : ""}" aria-hidden="true">${escapeHtml(name.slice(0, 1).toUpperCase())}</div>` +
    `<div class="sk-message-content"><div class="sk-message-header"><span class="sk-author">${escapeHtml(name)}</span>` +
    `${isBot ? '<span class="sk-app-badge">APP</span>' : ""}<time class="sk-time">${formatTime(message.ts)}</time>` +
    `${isReply(message) ? '<span class="sk-thread-note">in thread</span>' : ""}` +
    `${!isReply(message) && !message.ephemeral ? `<button type="button" class="sk-reply" data-thread-ts="${escapeHtml(message.ts)}">Reply in thread</button>` : ""}</div>` +
    `${message.ephemeral ? '<div class="sk-ephemeral-note">Only visible to you</div>' : ""}` +
    `<div class="sk-message-body">${body}</div>${renderFiles(message.files)}</div></div>`
  );
}
