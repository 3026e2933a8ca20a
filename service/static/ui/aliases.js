// The aliases list: polls GET /v1/aliases and redraws the table.
import { api, el, formatDate, notice, poll } from "./api.js";

const jobLink = (jobId) => el("a", { href: `/ui/jobs/${encodeURIComponent(jobId)}`, class: "mono", text: jobId.slice(0, 8) });

function row(alias) {
  const link = el("a", { href: `/ui/aliases/${encodeURIComponent(alias.name)}`, text: alias.name });
  const total = alias.targets.reduce((sum, t) => sum + t.weight, 0);
  const targets = el("td", { class: "targets" });
  alias.targets.forEach((t, i) => {
    if (i) targets.append(", ");
    targets.append(jobLink(t.job_id), ` ${Math.round((100 * t.weight) / total)} %`);
  });
  const shadow = alias.shadow
    ? el("td", { class: "shadow" }, jobLink(alias.shadow.job_id), ` ${alias.shadow.percent} %`)
    : el("td", { class: "shadow", text: "–" });
  return el("tr", { "data-alias": alias.name },
    el("td", {}, link), targets, shadow, el("td", { text: formatDate(alias.updated_at) }));
}

async function refresh() {
  const { aliases } = await api("/v1/aliases");
  document.getElementById("aliases").replaceChildren(...aliases.map(row));
  document.getElementById("empty").hidden = aliases.length > 0;
  document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  notice(null);
  return false;
}

poll(refresh, "aliases");
