// Pharmacology page: draws the simulated curves as SVG (median line, 5-95 % band,
// threshold, session length) for every regimen, with a pointer read-out. No libraries.
(function () {
  "use strict";
  const holder = document.getElementById("pk-chart");
  const dataNode = document.getElementById("pk-data");
  if (!holder || !dataNode) return;
  const data = JSON.parse(dataNode.textContent);
  const colours = ["#1f6feb", "#c2410c", "#15803d"];
  const NS = "http://www.w3.org/2000/svg";
  const W = 760, H = 250, M = { l: 62, r: 14, t: 12, b: 34 };
  const t = data.time_min;
  const withEffect = data.regimens.filter((r) => r.effect);

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }
  function finite(xs) { return xs.filter((v) => v !== null && Number.isFinite(v)); }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
  }
  function panel(title, key, regs, yMaxFixed) {
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, class: "pk-panel" });
    const xMax = t[t.length - 1];
    let yMax = yMaxFixed;
    if (yMax === undefined) {
      const highs = regs.flatMap((r) => finite(r.grid[`p95_${key}`] || r.grid[`median_${key}`] || []));
      yMax = niceMax(Math.max(...highs, 0) * 1.05);
    }
    const x = (v) => M.l + (v / xMax) * (W - M.l - M.r);
    const y = (v) => H - M.b - (v / yMax) * (H - M.t - M.b);
    for (let i = 0; i <= 4; i++) {
      const v = (yMax * i) / 4;
      el("line", { x1: M.l, x2: W - M.r, y1: y(v), y2: y(v), class: "grid" }, svg);
      el("text", { x: M.l - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, svg).textContent = +v.toPrecision(3);
    }
    const hours = xMax > 180;
    const step = niceMax(xMax / 8);
    for (let v = 0; v <= xMax + 1e-9; v += step) {
      el("text", { x: x(v), y: H - M.b + 16, "text-anchor": "middle", class: "tick" }, svg).textContent = hours ? +(v / 60).toPrecision(3) + " h" : v + " min";
    }
    el("text", { x: 14, y: M.t + 4, class: "axis-title", transform: `rotate(90 14 ${M.t + 4})` }, svg).textContent = title;
    regs.forEach((r) => {
      const i = data.regimens.indexOf(r);
      const c = colours[i % colours.length];
      const lo = r.grid[`p5_${key}`], hi = r.grid[`p95_${key}`], med = r.grid[`median_${key}`];
      if (data.subjects && lo && hi) {
        const up = t.map((tv, j) => `${x(tv)},${y(Math.min(hi[j] ?? 0, yMax))}`);
        const down = t.map((tv, j) => `${x(tv)},${y(Math.min(lo[j] ?? 0, yMax))}`).reverse();
        el("polygon", { points: up.concat(down).join(" "), fill: c, "fill-opacity": 0.16, stroke: "none" }, svg);
      }
      el("polyline", { points: t.map((tv, j) => `${x(tv)},${y(Math.min(med[j] ?? 0, yMax))}`).join(" "), fill: "none", stroke: c, "stroke-width": 2, class: `median s${i}` }, svg);
      if (key === "effect") {
        if (r.threshold !== null) el("line", { x1: M.l, x2: W - M.r, y1: y(r.threshold), y2: y(r.threshold), class: "threshold" }, svg);
        const len = r.typical.session_length_min;
        if (len !== null && len <= xMax) {
          el("line", { x1: x(len), x2: x(len), y1: M.t, y2: H - M.b, stroke: c, "stroke-dasharray": "2 3", class: "session" }, svg);
          el("text", { x: x(len) + 4, y: M.t + 12 + 14 * i, class: "tick", fill: c }, svg).textContent = `session ${len.toFixed(1)} min`;
        }
      }
    });
    const cursor = el("line", { x1: 0, x2: 0, y1: M.t, y2: H - M.b, class: "cursor", visibility: "hidden" }, svg);
    svg.addEventListener("pointermove", (ev) => {
      const box = svg.getBoundingClientRect();
      const px = ((ev.clientX - box.left) / box.width) * W;
      const tv = Math.max(0, Math.min(xMax, ((px - M.l) / (W - M.l - M.r)) * xMax));
      let j = 0;
      while (j < t.length - 1 && t[j + 1] <= tv) j++;
      cursor.setAttribute("x1", x(t[j])); cursor.setAttribute("x2", x(t[j]));
      cursor.setAttribute("visibility", "visible");
      const parts = data.regimens.map((r) => {
        const cp = r.grid.median_cp_ng_per_ml[j], e = r.grid.median_effect ? r.grid.median_effect[j] : null;
        return `${r.label}: ${cp === null ? "–" : cp.toPrecision(3)} ng/mL` + (e === null ? "" : `, effect ${e.toPrecision(3)}`);
      });
      document.getElementById("pk-readout").textContent = `t = ${t[j].toFixed(1)} min — ` + parts.join("; ");
    });
    holder.appendChild(svg);
  }
  panel("plasma (ng/mL)", "cp_ng_per_ml", data.regimens);
  if (withEffect.length) {
    const scales = withEffect.map((r) => r.effect.scale[1]);
    panel(`effect (${withEffect.map((r) => r.effect.name).filter((v, i, a) => a.indexOf(v) === i).join(" / ")})`, "effect", withEffect, Math.max(...scales));
  }
})();
