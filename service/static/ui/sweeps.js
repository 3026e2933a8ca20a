// The sweeps list: polls GET /v1/sweeps (newest first) and redraws the table.
import { api, el, formatDate, formatMetric, notice, poll, statusBadge } from "./api.js";

function row(sweep) {
  const link = el("a", { href: `/ui/sweeps/${encodeURIComponent(sweep.id)}`, text: sweep.name || "(unnamed)" });
  const counts = Object.entries(sweep.counts).filter(([, n]) => n).map(([s, n]) => `${n} ${s}`);
  const best = sweep.best
    ? `${sweep.objective.metric} ${formatMetric(sweep.best.objective)} (trial ${sweep.best.number})`
    : "–";
  return el("tr", { "data-sweep-id": sweep.id },
    el("td", {}, link, el("div", { class: "muted mono", text: sweep.id.slice(0, 8) })),
    el("td", {}, statusBadge(sweep.status)),
    el("td", { text: formatDate(sweep.created_at) }),
    el("td", { class: "trials", text: `${counts.join(", ") || "none yet"} of ${sweep.trials}` }),
    el("td", { class: "best", text: best }));
}

async function refresh() {
  const { sweeps } = await api("/v1/sweeps?limit=100");
  document.getElementById("sweeps").replaceChildren(...sweeps.map(row));
  document.getElementById("empty").hidden = sweeps.length > 0;
  document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  notice(null);
  return sweeps.some((sweep) => !sweep.ended_at);
}

poll(refresh, "sweeps");
