// One job: follows it by long-polling GET /v1/jobs/<id>?wait=N, which answers as soon as
// its status or epoch changes. One code path whether or not an API key is set (an
// EventSource could not send the key), and each answer is the whole job: the curves are
// redrawn from its history, nothing to stitch together.
import {
  api, el, formatDate, formatMetric, notice, progressText, setBar, waitMs,
} from "./api.js";
import { lineChart, metricNames } from "./chart.js";
import { modelSummary, zeroRows } from "./summary.js";

const JOB_ID = document.getElementById("job").dataset.jobId;
const WAIT_S = 25; // under gunicorn's timeout and most proxies'
const RETRY_MS = 2000;
const ENDED = new Set(["finished", "failed", "canceled", "pruned"]);

function renderHead(job) {
  document.title = `${job.name || "Job"} · Keras training service`;
  document.getElementById("name").textContent = job.name || "(unnamed job)";
  const status = document.getElementById("status");
  status.className = `status status-${job.status}`;
  status.textContent = job.status;
  setBar(document.getElementById("bar"), job.progress.fraction);
  document.getElementById("progress-text").textContent = progressText(job);
  const result = job.result || {};
  const facts = [
    ["Created", formatDate(job.created_at)],
    ["Started", formatDate(job.started_at)],
    ["Ended", formatDate(job.ended_at)],
    ["Queue", job.queue],
    ["Fit time", result.seconds !== undefined ? `${result.seconds.toFixed(1)} s` : null],
    ["Epochs run", result.epochs_run ?? null],
    ["Best epoch", result.best_epoch ?? null],
    ...Object.entries(job.metrics || {}).map(([name, value]) =>
      [`Test ${name}`, formatMetric(value)]),
  ].filter(([, value]) => value !== null && value !== undefined);
  document.getElementById("facts").replaceChildren(...facts.map(([term, value]) =>
    el("div", {}, el("dt", { text: term }), el("dd", { text: String(value) }))));
}

function renderError(job) {
  document.getElementById("error").hidden = !job.error;
  if (!job.error) return;
  document.getElementById("error-title").textContent = job.error.title;
  document.getElementById("error-detail").textContent = job.error.detail;
}

/** Any JSON as nested lists and definitions: the diagnosis has no fixed shape yet. */
function describe(value) {
  if (Array.isArray(value)) return el("ul", {}, ...value.map((item) => el("li", {}, describe(item))));
  if (value && typeof value === "object") {
    return el("dl", { class: "facts" }, ...Object.entries(value).map(([key, item]) =>
      el("div", {}, el("dt", { text: key }), el("dd", {}, describe(item)))));
  }
  return document.createTextNode(String(value));
}

function renderDiagnosis(job) {
  const present = job.diagnosis !== undefined && job.diagnosis !== null;
  document.getElementById("diagnosis").hidden = !present;
  if (present) document.getElementById("diagnosis-body").replaceChildren(describe(job.diagnosis));
}

function renderCharts(job) {
  const names = metricNames(job.history);
  if (!names.length) return;
  const best = job.result && job.result.best_epoch;
  // While it runs, the x axis spans the planned epochs; once ended, those it ran.
  const epochs = ENDED.has(job.status) ? 0 : job.progress.epochs;
  document.getElementById("charts").replaceChildren(...names.map((name) => {
    const { chart, series } = lineChart(name, job.history, epochs, best);
    const legend = series.map((s) => el("span", { class: "legend" },
      el("span", { class: `swatch ${s.className}` }), `${s.label} ${formatMetric(s.last)}`));
    return el("figure", { class: "chart-box" }, el("figcaption", {}, el("strong", { text: name }), ...legend), chart);
  }));
}

function render(job) {
  renderHead(job);
  renderError(job);
  renderDiagnosis(job);
  renderCharts(job);
}

async function showSummary() {
  const box = document.getElementById("summary");
  try {
    const summary = await api(`/v1/models/${JOB_ID}/summary`);
    box.replaceChildren(modelSummary(summary));
    const rows = document.getElementById("rows");
    if (!rows.value.trim() && Array.isArray(summary.input_shape)) rows.value = JSON.stringify(zeroRows(summary.input_shape));
  } catch (problem) {
    box.replaceChildren(el("p", { class: "problem-text", text: problem.message }));
  }
}

/** A row as JSON with a space after each comma, so a long row wraps between numbers. */
function formatRow(row) {
  return Array.isArray(row) ? `[${row.map(formatRow).join(", ")}]` : JSON.stringify(row);
}

/** The answer as lines, one row of predictions per line. */
function formatAnswer(answer) {
  return Object.entries(answer).map(([key, value]) => (Array.isArray(value)
    ? `${key}:\n${value.map((row) => `  ${formatRow(row)}`).join("\n")}`
    : `${key}: ${formatRow(value)}`)).join("\n");
}

function formatProblem(problem) {
  const errors = Object.entries(problem.errors || {}).map(([path, messages]) =>
    `  ${path}: ${messages.join(" ")}`);
  return [`${problem.title}: ${problem.detail}`, ...errors].join("\n");
}

async function predict(event) {
  event.preventDefault();
  const form = event.target;
  const answer = document.getElementById("answer");
  answer.hidden = false;
  answer.classList.remove("problem-text");
  let instances;
  try {
    instances = JSON.parse(form.elements.rows.value);
  } catch (error) {
    answer.classList.add("problem-text");
    answer.textContent = `Not valid JSON: ${error.message}`;
    return;
  }
  answer.textContent = "…";
  try {
    const body = { instances, return: form.elements.return.value };
    answer.textContent = formatAnswer(await api(`/v1/models/${JOB_ID}/predict`, body));
  } catch (problem) {
    answer.classList.add("problem-text");
    answer.textContent = formatProblem(problem);
  }
}

function enablePredict(job) {
  const finished = job.status === "finished";
  document.getElementById("predict-button").disabled = !finished;
  document.getElementById("predict-state").textContent = finished
    ? ""
    : `No model: this job ${job.status === "failed" ? "failed" : "was canceled"}.`;
}

async function follow() {
  let job = null;
  while (!job || !ENDED.has(job.status)) {
    try {
      job = await api(`/v1/jobs/${JOB_ID}${job ? `?wait=${WAIT_S}` : ""}`);
      render(job);
      notice(null);
    } catch (problem) {
      if ([401, 403, 404].includes(problem.status)) {
        if (problem.status === 404) notice(problem.message);
        return;
      }
      notice(`Lost the job for a moment (${problem.message}); retrying.`);
      await waitMs(RETRY_MS);
    }
  }
  enablePredict(job);
  if (job.status === "finished") await showSummary();
}

document.getElementById("predict").addEventListener("submit", predict);
follow();
