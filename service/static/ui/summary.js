// The model summary as Keras's model.summary() prints it, from GET /v1/models/<id>/summary.
import { el } from "./api.js";

/** "(None, 512)": a shape as Keras prints it. */
export function formatShape(shape) {
  const dims = shape.map((dim) => (dim === null ? "None" : String(dim)));
  return dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(", ")})`;
}

/** "150.04 KB": Keras's readable_memory_size (powers of 1024). */
function formatBytes(size) {
  for (const unit of ["B", "KB", "MB", "GB", "TB"]) {
    if (size < 1024 || unit === "TB") return `${size.toFixed(2)} ${unit}`;
    size /= 1024;
  }
  return "";
}

const count = (n) => n.toLocaleString("en-US");

/** A table: Layer (type) | Output Shape | Param #, then the totals. */
export function modelSummary(summary) {
  const rows = summary.layers.map((layer) => el("tr", {},
    el("td", { text: `${layer.name} (${layer.type})` }),
    el("td", { class: "mono", text: formatShape(layer.output_shape) }),
    el("td", { class: "num", text: count(layer.params) })));
  const totals = [
    ["Total params", `${count(summary.total_params)} (${formatBytes(summary.size_bytes)})`],
    ["Trainable params", count(summary.trainable_params)],
    ["Non-trainable params", count(summary.non_trainable_params)],
  ].map(([label, value]) => el("tr", { class: "total" },
    el("td", { colspan: "2", text: `${label}:` }), el("td", { class: "num", text: value })));
  return el("table", { class: "summary" },
    el("caption", { text: `Model: "${summary.name}"` }),
    el("thead", {}, el("tr", {},
      el("th", { text: "Layer (type)" }), el("th", { text: "Output Shape" }),
      el("th", { class: "num", text: "Param #" }))),
    el("tbody", {}, ...rows),
    el("tfoot", {}, ...totals));
}

/** One row of zeros shaped like the model's input (`[null, 64]` -> [[0, ..., 0]]). */
export function zeroRows(inputShape) {
  const zeros = (dims) => (dims.length ? Array.from({ length: dims[0] ?? 1 }, () => zeros(dims.slice(1))) : 0);
  return [zeros(inputShape.slice(1))];
}
