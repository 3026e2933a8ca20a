// One alias: its targets, weights and shadow with the report, polled.
import { api, el, formatMetric, notice, poll } from "./api.js";

const name = document.getElementById("alias").dataset.alias;
const percent = (x) => `${(100 * x).toFixed(1)} %`;
const ms = (x) => (x === null ? "–" : x.toFixed(2));

function traffic(model) {
  if (!model.current) return "before";
  return model.role === "shadow" ? `${model.percent} % mirrored` : percent(model.share);
}

function predictions(found) {
  if (!found) return "–";
  if (found.classes) {
    return Object.entries(found.classes).sort((a, b) => b[1] - a[1]).slice(0, 3)
      .map(([label, share]) => `${label}: ${percent(share)}`).join(", ");
  }
  return `mean ${formatMetric(found.mean)} ± ${formatMetric(found.std)}`;
}

function agreement(found) {
  if (!found) return "–";
  if ("rate" in found) return `${percent(found.rate)} of ${found.rows}`;
  return `±${formatMetric(found.mean_abs_difference)} over ${found.rows}`;
}

function outcomes(found) {
  if (!found) return "–";
  const metric = "accuracy" in found ? "accuracy" : "mae";
  const interval = found.ci95 ? ` [${formatMetric(found.ci95[0])}, ${formatMetric(found.ci95[1])}]` : "";
  return `${metric} ${formatMetric(found[metric])}${interval} (${found.count})`;
}

function row(model) {
  const role = model.role + (model.primary ? " (primary)" : "");
  return el("tr", { "data-job-id": model.job_id, "data-role": model.role },
    el("td", {}, el("a", { href: `/ui/jobs/${encodeURIComponent(model.job_id)}`, class: "mono", text: model.job_id.slice(0, 8) })),
    el("td", { class: "role", text: role }),
    el("td", { class: "traffic", text: traffic(model) }),
    el("td", { class: "requests", text: String(model.requests) }),
    el("td", { text: model.error_rate === null ? "–" : percent(model.error_rate) }),
    el("td", { text: ms(model.latency_ms.p50) }),
    el("td", { text: ms(model.latency_ms.p99) }),
    el("td", { text: predictions(model.predictions) }),
    el("td", { class: "agreement", text: agreement(model.agreement) }),
    el("td", { class: "outcomes", text: outcomes(model.outcomes) }));
}

async function refresh() {
  const report = await api(`/v1/aliases/${encodeURIComponent(name)}/report`);
  document.getElementById("models").replaceChildren(...report.models.map(row));
  document.getElementById("verdict").textContent = report.comparison
    ? report.comparison.summary
    : "One model: nothing to compare.";
  document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  notice(null);
  return true;
}

poll(refresh, "the alias");
