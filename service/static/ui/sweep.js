// One sweep: polls GET /v1/sweeps/{id} while it runs and redraws its facts, the
// objective against each searched parameter, and the leaderboard.
import { api, el, formatDate, formatMetric, notice, statusBadge, waitMs } from "./api.js";
import { scatterChart } from "./chart.js";

const POLL_MS = 1000;
const sweepId = document.getElementById("sweep").dataset.sweepId;

function value(v) {
  return typeof v === "number" ? formatMetric(v) : JSON.stringify(v);
}

function facts(sweep) {
  const { metric, direction } = sweep.objective;
  const counts = Object.entries(sweep.counts).filter(([, n]) => n).map(([s, n]) => `${n} ${s}`);
  const items = [
    ["Objective", `${direction} ${metric}`],
    ["Trials", `${counts.join(", ") || "none yet"} of ${sweep.trials} (${sweep.parallel} at once)`],
    ["Sampler · pruner", `${sweep.sampler} · ${sweep.pruner}`],
    ["Created", formatDate(sweep.created_at)],
    ["Ended", formatDate(sweep.ended_at)],
  ];
  if (sweep.best) items.push(["Best", `trial ${sweep.best.number}: ${metric} ${formatMetric(sweep.best.objective)}`]);
  if (sweep.promotion) items.push(["Promotion", sweep.promotion.reason]);
  document.getElementById("facts").replaceChildren(
    ...items.map(([term, text]) => el("div", {}, el("dt", { text: term }), el("dd", { text }))));
}

function leaderboard(sweep) {
  document.getElementById("objective-name").textContent = sweep.objective.metric;
  document.getElementById("leaderboard").replaceChildren(...sweep.leaderboard.map((trial) => {
    const link = trial.job_id
      ? el("a", { href: `/ui/jobs/${encodeURIComponent(trial.job_id)}`, text: String(trial.number) })
      : String(trial.number);
    const params = Object.entries(trial.params).map(([path, v]) => `${path}=${value(v)}`).join("  ");
    return el("tr", { "data-trial": String(trial.number) },
      el("td", {}, link),
      el("td", {}, statusBadge(trial.status)),
      el("td", { class: "num objective", text: trial.objective === null ? "" : formatMetric(trial.objective) }),
      el("td", { class: "num", text: String(trial.epochs) }),
      el("td", { class: "num", text: trial.seconds === null ? "" : trial.seconds.toFixed(1) }),
      el("td", { class: "params mono", text: params }));
  }));
}

function charts(sweep) {
  const scored = sweep.leaderboard.filter((t) => typeof t.objective === "number");
  if (!scored.length) return;
  const best = sweep.best ? sweep.best.number : null;
  document.getElementById("charts").replaceChildren(...Object.entries(sweep.search).map(([path, distribution]) => {
    const importance = sweep.importance && path in sweep.importance
      ? el("span", { class: "legend", text: `importance ${formatMetric(sweep.importance[path])}` }) : "";
    return el("figure", { class: "chart-box", "data-path": path },
      el("figcaption", {}, el("strong", { text: path }), importance),
      scatterChart(path, distribution, scored, best));
  }));
}

async function follow() {
  for (;;) {
    let sweep = null;
    try {
      sweep = await api(`/v1/sweeps/${encodeURIComponent(sweepId)}`);
      document.getElementById("name").textContent = sweep.name || "Sweep";
      document.getElementById("status").replaceWith(Object.assign(statusBadge(sweep.status), { id: "status" }));
      facts(sweep);
      leaderboard(sweep);
      charts(sweep);
      notice(null);
    } catch (problem) {
      if (problem.status === 401 || problem.status === 403) return;
      notice(`Could not load the sweep: ${problem.message}`);
    }
    if (sweep && sweep.ended_at) return;
    await waitMs(POLL_MS);
  }
}

follow();
