// What both pages share: calls to the JSON API with the user's key, the key form,
// notices, and DOM helpers. Data from the API only ever reaches the page through
// textContent and attributes (el() below), never as HTML: job names come from clients.

const KEY = "keras-service.api-key";

/** An error answer of the API (RFC 9457 problem) or of the network. */
export class Problem extends Error {
  constructor(status, body) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.title = body.title || "Error";
    this.detail = body.detail || "";
    this.errors = body.errors || null;
  }
}

/** GET (or POST `body` as JSON to) an API path; the parsed answer or a thrown Problem. */
export async function api(path, body) {
  const headers = { Accept: "application/json" };
  const key = sessionStorage.getItem(KEY);
  if (key) headers.Authorization = `Bearer ${key}`;
  const init = { headers, cache: "no-store" };
  if (body !== undefined) {
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new Problem(0, { title: "Network error", detail: `The service did not answer (${error.message}).` });
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const problem = new Problem(response.status, answer);
    if (response.status === 401 || response.status === 403) askForKey(problem);
    throw problem;
  }
  return answer;
}

/** Show a message above the page (null hides it). */
export function notice(text) {
  const box = document.getElementById("notice");
  box.textContent = text || "";
  box.hidden = !text;
}

function askForKey(problem) {
  const asked = sessionStorage.getItem(KEY)
    ? "The API key is not valid: enter another at the top right."
    : "This service needs an API key: enter one at the top right (a read key is enough).";
  notice(problem.status === 401 ? asked : problem.detail);
  document.getElementById("key").open = true;
}

function initKeyForm() {
  const form = document.getElementById("key-form");
  const state = document.getElementById("key-state");
  state.textContent = sessionStorage.getItem(KEY) ? "API key: set" : "API key";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = form.elements.key.value.trim();
    if (key) sessionStorage.setItem(KEY, key);
    location.reload(); // every poll starts again, with the key
  });
  document.getElementById("key-forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    location.reload();
  });
}

/** An element with attributes (`text` sets textContent, `class` the class) and children. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

/** A status badge: queued, started, finished, failed, canceled. */
export function statusBadge(status) {
  return el("span", { class: `status status-${status}`, text: status });
}

/** Set a `.bar` element's fill to `fraction` (0..1). */
export function setBar(bar, fraction) {
  bar.firstElementChild.style.width = `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
}

/** "17/20 epochs", or "100 %" for a finished job (early stopping may end it sooner). */
export function progressText(job) {
  const { epoch, epochs, fraction } = job.progress;
  if (job.status === "finished") return "100 %";
  return `${Math.round(fraction * 100)} % · ${epoch}/${epochs} epochs`;
}

export function formatDate(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }) : "–";
}

/** A metric value with 4 significant digits (null: not a number, e.g. a diverged loss). */
export function formatMetric(value) {
  return typeof value === "number" ? Number(value.toPrecision(4)).toString() : "NaN";
}

export function waitMs(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Call `refresh` (which returns whether anything is still running) every `busyMs`
 * while something runs, else every `idleMs`, skipping hidden tabs; stop polling on a
 * 401 or 403 until a key is given (the page reloads then). */
export async function poll(refresh, what, busyMs = 1000, idleMs = 3000) {
  for (;;) {
    let busy = false;
    if (!document.hidden) {
      try {
        busy = await refresh();
      } catch (problem) {
        if (problem.status === 401 || problem.status === 403) return;
        notice(`Could not load the ${what}: ${problem.message}`);
      }
    }
    await waitMs(busy ? busyMs : idleMs);
  }
}

initKeyForm();
