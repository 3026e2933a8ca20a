// The jobs list: polls GET /v1/jobs (newest first) and redraws the table.
import {
  api, el, formatDate, formatMetric, notice, poll, progressText, setBar, statusBadge,
} from "./api.js";

function metricsCell(job) {
  if (job.error) return el("td", { class: "problem-text", text: job.error.title });
  const metrics = Object.entries(job.metrics || {});
  return el("td", {}, el("div", { class: "metrics" }, ...metrics.map(([name, value]) =>
    el("span", {}, el("span", { class: "muted", text: name }), ` ${formatMetric(value)}`))));
}

function row(job) {
  const bar = el("div", { class: "bar" }, el("div", { class: "fill" }));
  setBar(bar, job.progress.fraction);
  const link = el("a", { href: `/ui/jobs/${encodeURIComponent(job.id)}`, text: job.name || "(unnamed)" });
  return el("tr", { "data-job-id": job.id },
    el("td", {}, link, el("div", { class: "muted mono", text: job.id.slice(0, 8) })),
    el("td", {}, statusBadge(job.status)),
    el("td", { text: formatDate(job.created_at) }),
    el("td", { class: "progress-col" }, bar, el("span", { class: "progress-text", text: progressText(job) })),
    metricsCell(job));
}

async function refresh() {
  const { jobs } = await api("/v1/jobs?limit=100");
  document.getElementById("jobs").replaceChildren(...jobs.map(row));
  document.getElementById("empty").hidden = jobs.length > 0;
  document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  notice(null);
  return jobs.some((job) => job.status === "queued" || job.status === "started");
}

poll(refresh, "jobs");
