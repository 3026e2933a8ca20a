// Per-epoch curves as inline SVG: one chart per metric, train and validation lines.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 360;
const HEIGHT = 200;
const PAD = { left: 56, right: 12, top: 18, bottom: 26 };
const SERIES = [
  { label: "train", className: "line-train", prefix: "" },
  { label: "validation", className: "line-val", prefix: "val_" },
];

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Metric names of a Keras history, validation folded into its training metric; the
 * loss first, as Keras reports it. */
export function metricNames(history) {
  const names = [...new Set(Object.keys(history).map((name) => name.replace(/^val_/, "")))];
  return names.sort((a, b) => (b === "loss") - (a === "loss"));
}

/** The polyline segments of one series (a null, a NaN loss, breaks the line). */
function segments(values, x, y) {
  const parts = [[]];
  values.forEach((value, i) => {
    if (typeof value === "number") parts.at(-1).push(`${x(i + 1)},${y(value)}`);
    else if (parts.at(-1).length) parts.push([]);
  });
  return parts.filter((part) => part.length);
}

/** An SVG chart of `name` (e.g. "loss") over the epochs of `history`, with room for
 * `epochs` (those planned while the job runs) and a mark at `bestEpoch` if given. */
export function lineChart(name, history, epochs, bestEpoch) {
  const lines = SERIES.map((s) => ({ ...s, values: history[s.prefix + name] || [] }))
    .filter((s) => s.values.length);
  const finite = lines.flatMap((s) => s.values).filter((v) => typeof v === "number");
  let low = Math.min(...finite);
  let high = Math.max(...finite);
  if (!finite.length) [low, high] = [0, 1];
  if (high - low < 1e-12) [low, high] = [low - 0.5, high + 0.5];
  const lastEpoch = Math.max(2, epochs, ...lines.map((s) => s.values.length));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (epoch) => (PAD.left + ((epoch - 1) / (lastEpoch - 1)) * plotW).toFixed(1);
  const y = (value) => (PAD.top + (1 - (value - low) / (high - low)) * plotH).toFixed(1);

  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img" });
  chart.append(svg("title", {}, `${name} per epoch`));
  for (const value of [low, (low + high) / 2, high]) {
    chart.append(svg("line", { class: "grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value) }));
    chart.append(svg("text", { class: "tick", x: PAD.left - 6, y: y(value), "text-anchor": "end", "dominant-baseline": "middle" }, Number(value.toPrecision(3)).toString()));
  }
  for (const epoch of [1, lastEpoch]) {
    chart.append(svg("text", { class: "tick", x: x(epoch), y: HEIGHT - 8, "text-anchor": "middle" }, String(epoch)));
  }
  chart.append(svg("text", { class: "tick", x: PAD.left + plotW / 2, y: HEIGHT - 8, "text-anchor": "middle" }, "epoch"));
  if (bestEpoch) {
    chart.append(svg("line", { class: "best", x1: x(bestEpoch), x2: x(bestEpoch), y1: PAD.top, y2: HEIGHT - PAD.bottom }));
    chart.append(svg("text", { class: "tick", x: x(bestEpoch), y: PAD.top - 6, "text-anchor": "middle" }, "best"));
  }
  for (const line of lines) {
    for (const points of segments(line.values, x, y)) {
      chart.append(svg("polyline", { class: line.className, points: points.join(" ") }));
    }
    line.values.forEach((value, i) => {
      if (typeof value === "number") {
        chart.append(svg("circle", { class: line.className, cx: x(i + 1), cy: y(value), r: 2 }));
      }
    });
  }
  return { chart, series: lines.map((s) => ({ label: s.label, className: s.className, last: s.values.at(-1) })) };
}

/** An SVG scatter of a sweep's objective (y) against one searched parameter (x): one
 * dot per trial that has an objective. `distribution` is the parameter's, as the sweep
 * resource gives it: a range (on a log axis when `log`) or choices (evenly spaced). */
export function scatterChart(path, distribution, trials, bestNumber) {
  const choice = distribution.kind === "choice";
  const labels = choice ? distribution.choices.map((c) => JSON.stringify(c)) : [];
  const scale = (value) => (distribution.log ? Math.log10(value) : value);
  const position = (value) => (choice ? labels.indexOf(JSON.stringify(value)) : scale(value));
  const points = trials.filter((t) => typeof t.objective === "number")
    .map((t) => ({ x: position(t.params[path]), y: t.objective, trial: t }));
  let [xLow, xHigh] = choice ? [-0.5, labels.length - 0.5] : [scale(distribution.low), scale(distribution.high)];
  if (xHigh - xLow < 1e-12) [xLow, xHigh] = [xLow - 0.5, xHigh + 0.5];
  const ys = points.map((p) => p.y);
  let [low, high] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (high - low < 1e-12) [low, high] = [low - 0.5, high + 0.5];
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (v) => (PAD.left + ((v - xLow) / (xHigh - xLow)) * plotW).toFixed(1);
  const y = (v) => (PAD.top + (1 - (v - low) / (high - low)) * plotH).toFixed(1);

  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img" });
  chart.append(svg("title", {}, `objective against ${path}`));
  for (const value of [low, (low + high) / 2, high]) {
    chart.append(svg("line", { class: "grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value) }));
    chart.append(svg("text", { class: "tick", x: PAD.left - 6, y: y(value), "text-anchor": "end", "dominant-baseline": "middle" }, Number(value.toPrecision(3)).toString()));
  }
  const ticks = choice ? labels.map((label, i) => [i, label])
    : [[xLow, distribution.low], [xHigh, distribution.high]];
  for (const [at, label] of ticks) {
    chart.append(svg("text", { class: "tick", x: x(at), y: HEIGHT - 8, "text-anchor": "middle" }, String(label).slice(0, 12)));
  }
  for (const point of points) {
    const kind = point.trial.number === bestNumber ? "trial-best" : point.trial.status === "pruned" ? "trial-pruned" : "trial";
    const dot = svg("circle", { class: kind, cx: x(point.x), cy: y(point.y), r: 4 });
    dot.append(svg("title", {}, `trial ${point.trial.number}: ${point.trial.status}`));
    chart.append(dot);
  }
  return chart;
}
