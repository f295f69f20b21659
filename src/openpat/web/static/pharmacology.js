// Pharmacology page: draws the simulated curves as SVG (median line, 5-95 % band,
// threshold, session length) for every regimen, one effect panel per effect scale, and the
// designed infusion (effect with its target band, pump rate). A pointer read-out on each
// panel. No libraries.
(function () {
  "use strict";
  const colours = ["#1f6feb", "#c2410c", "#15803d"];
  const NS = "http://www.w3.org/2000/svg";
  const W = 760, H = 250, M = { l: 62, r: 14, t: 12, b: 34 };

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }
  function finite(xs) { return (xs || []).filter((v) => v !== null && Number.isFinite(v)); }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
  }
  // Time ticks: whole minutes up to 3 h, whole hours beyond.
  function timeTicks(xMax) {
    if (xMax > 180) {
      const hours = xMax / 60;
      const step = [1, 2, 3, 4, 6, 8, 12, 24].find((s) => hours / s <= 10) || 24;
      const ticks = [];
      for (let h = 0; h <= hours + 1e-9; h += step) ticks.push({ v: h * 60, label: `${h} h` });
      return ticks;
    }
    const step = [1, 2, 5, 10, 15, 20, 30, 60].find((s) => xMax / s <= 10) || 60;
    const ticks = [];
    for (let m = 0; m <= xMax + 1e-9; m += step) ticks.push({ v: m, label: `${m} min` });
    return ticks;
  }

  // A y tick as people write it: three significant digits, thousands separated, never an
  // exponent (a "1.25e+4" label is wide enough to run into the axis title).
  const tickFormat = new Intl.NumberFormat("en", { maximumSignificantDigits: 3 });
  // Gaps (in viewBox units) between tick labels and the axis, and between the widest tick
  // label and the axis title, which reads bottom to top, centred on the plot's height.
  const TICK_GAP = 6, TITLE_GAP = 10, TITLE_SIZE = 12;

  // One chart panel. series: [{colour, med, lo, hi, name}] on the time grid t;
  // opts: {yMax, thresholds, sessions, band, step, unit, readout}.
  function panel(holder, title, t, series, opts) {
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, class: "pk-panel" });
    holder.appendChild(svg); // in the page first, so tick labels can be measured
    const xMax = t[t.length - 1];
    let yMax = opts.yMax;
    if (yMax === undefined) {
      const highs = series.flatMap((s) => finite(s.hi || s.med));
      yMax = niceMax(Math.max(...highs, 0) * 1.05);
    }
    const yTicks = [0, 1, 2, 3, 4].map((i) => (yMax * i) / 4);
    const yLabels = yTicks.map((v) => tickFormat.format(v));
    const probe = el("text", { class: "tick", visibility: "hidden" }, svg);
    const widest = Math.max(...yLabels.map((label) => {
      probe.textContent = label;
      return probe.getComputedTextLength() || 6.5 * label.length;
    }));
    probe.remove();
    // the left margin grows with the widest tick label so the title never touches it
    const ml = Math.max(M.l, Math.ceil(widest + TICK_GAP + TITLE_GAP + TITLE_SIZE + 4));
    const x = (v) => ml + (v / xMax) * (W - ml - M.r);
    const y = (v) => H - M.b - (Math.min(Math.max(v, 0), yMax) / yMax) * (H - M.t - M.b);
    yTicks.forEach((v, i) => {
      el("line", { x1: ml, x2: W - M.r, y1: y(v), y2: y(v), class: "grid" }, svg);
      el("text", { x: ml - TICK_GAP, y: y(v) + 4, "text-anchor": "end", class: "tick" }, svg).textContent = yLabels[i];
    });
    for (const tick of timeTicks(xMax)) {
      const anchor = x(tick.v) > W - M.r - 24 ? "end" : "middle"; // keep the last label inside
      el("text", { x: x(tick.v), y: H - M.b + 16, "text-anchor": anchor, class: "tick time" }, svg).textContent = tick.label;
    }
    // rotated -90 degrees, the title's baseline is its right edge (descenders aside)
    const tx = ml - TICK_GAP - widest - TITLE_GAP - 3;
    const ty = (M.t + H - M.b) / 2;
    el("text", { x: tx, y: ty, "text-anchor": "middle", class: "axis-title", transform: `rotate(-90 ${tx} ${ty})` }, svg).textContent = title;
    if (opts.band) {
      el("rect", { x: ml, width: W - ml - M.r, y: y(opts.band[1]), height: y(opts.band[0]) - y(opts.band[1]), class: "band" }, svg);
    }
    for (const level of opts.thresholds || []) {
      el("line", { x1: ml, x2: W - M.r, y1: y(level), y2: y(level), class: "threshold" }, svg);
    }
    series.forEach((s) => {
      if (s.lo && s.hi) {
        const up = t.map((tv, j) => `${x(tv)},${y(s.hi[j] ?? 0)}`);
        const down = t.map((tv, j) => `${x(tv)},${y(s.lo[j] ?? 0)}`).reverse();
        el("polygon", { points: up.concat(down).join(" "), fill: s.colour, "fill-opacity": 0.16, stroke: "none" }, svg);
      }
      let points;
      if (opts.step) { // a pump schedule: horizontal at each rate
        points = t.flatMap((tv, j) => (j + 1 < t.length ? [`${x(tv)},${y(s.med[j])}`, `${x(t[j + 1])},${y(s.med[j])}`] : []));
      } else {
        points = t.map((tv, j) => `${x(tv)},${y(s.med[j] ?? 0)}`);
      }
      el("polyline", { points: points.join(" "), fill: "none", stroke: s.colour, "stroke-width": 2, class: `median ${s.cls || ""}` }, svg);
    });
    (opts.sessions || []).forEach((m, i) => {
      if (m.at === null || m.at > xMax) return;
      el("line", { x1: x(m.at), x2: x(m.at), y1: M.t, y2: H - M.b, stroke: m.colour, "stroke-dasharray": "2 3", class: "session" }, svg);
      el("text", { x: x(m.at) + 4, y: M.t + 12 + 14 * i, class: "tick", fill: m.colour }, svg).textContent = m.label;
    });
    const cursor = el("line", { x1: 0, x2: 0, y1: M.t, y2: H - M.b, class: "cursor", visibility: "hidden" }, svg);
    svg.addEventListener("pointermove", (ev) => {
      const box = svg.getBoundingClientRect();
      const px = ((ev.clientX - box.left) / box.width) * W;
      const tv = Math.max(0, Math.min(xMax, ((px - ml) / (W - ml - M.r)) * xMax));
      let j = 0;
      while (j < t.length - 1 && t[j + 1] <= tv) j++;
      cursor.setAttribute("x1", x(t[j])); cursor.setAttribute("x2", x(t[j]));
      cursor.setAttribute("visibility", "visible");
      if (opts.readout) opts.readout(j);
    });
  }

  function fmt(v) {
    if (v === null || v === undefined) return "–";
    return Math.abs(v) > 0 && Math.abs(v) < 0.001 ? "<0.001" : v.toPrecision(3);
  }
  // The grid up to a little after the last time any series is above 1 % of the scale, so a
  // short-acting drug's effect is not squashed by a long-acting one's time axis.
  function cropped(t, series, level) {
    let last = 0;
    for (const s of series) {
      const ys = s.hi || s.med;
      for (let j = ys.length - 1; j > last; j--) if (ys[j] !== null && ys[j] > level) { last = j; break; }
    }
    const end = Math.min(t.length, Math.ceil((last + 1) * 1.25) + 1);
    if (end > 0.8 * t.length) return { t, series };
    const cut = (xs) => (xs ? xs.slice(0, end) : xs);
    return { t: t.slice(0, end), series: series.map((s) => ({ ...s, med: cut(s.med), lo: cut(s.lo), hi: cut(s.hi) })) };
  }

  // -- regimens overlaid ----------------------------------------------------------------
  const holder = document.getElementById("pk-chart");
  const dataNode = document.getElementById("pk-data");
  if (holder && dataNode) {
    const data = JSON.parse(dataNode.textContent);
    const t = data.time_min;
    const band = (r, key) => (data.subjects ? { lo: r.grid[`p5_${key}`], hi: r.grid[`p95_${key}`] } : {});
    const readout = (j) => {
      const parts = data.regimens.map((r) => {
        const e = r.grid.median_effect ? r.grid.median_effect[j] : null;
        return `${r.label}: ${fmt(r.grid.median_cp_ng_per_ml[j])} ng/mL` + (e === null ? "" : `, effect ${fmt(e)} ${r.effect.unit}`);
      });
      document.getElementById("pk-readout").textContent = `t = ${t[j].toFixed(1)} min — ` + parts.join("; ");
    };
    const series = (regs, key) => regs.map((r) => {
      const i = data.regimens.indexOf(r);
      return { colour: colours[i % colours.length], med: r.grid[`median_${key}`], cls: `s${i}`, ...band(r, key) };
    });
    panel(holder, "plasma (ng/mL)", t, series(data.regimens, "cp_ng_per_ml"), { readout });
    // one effect panel per scale, so a 0-10 rating is not squashed beside a 0-100 % scale
    const groups = new Map();
    for (const r of data.regimens.filter((r) => r.effect)) {
      const key = `${r.effect.name}|${r.effect.unit}|${r.effect.scale.join("-")}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(r);
    }
    for (const regs of groups.values()) {
      const e = regs[0].effect;
      const view = cropped(t, series(regs, "effect"), 0.01 * (e.scale[1] - e.scale[0]));
      panel(holder, `${e.name} (${e.unit})`, view.t, view.series, {
        yMax: e.scale[1],
        thresholds: [...new Set(regs.map((r) => r.threshold).filter((v) => v !== null))],
        sessions: regs.map((r) => {
          const i = data.regimens.indexOf(r);
          const len = r.typical.session_length_min;
          return { at: len, colour: colours[i % colours.length], label: len === null ? "" : `session ${len >= 180 ? (len / 60).toFixed(1) + " h" : len.toFixed(1) + " min"}` };
        }),
        readout,
      });
    }
  }

  // -- the designed infusion ------------------------------------------------------------
  const designHolder = document.getElementById("pk-design-chart");
  const designNode = document.getElementById("pk-design-data");
  if (designHolder && designNode) {
    const d = JSON.parse(designNode.textContent);
    const readout = document.createElement("p");
    readout.className = "meta";
    readout.id = "pk-design-readout";
    readout.textContent = "Move the pointer over the chart to read values.";
    if (d.time_min) {
      panel(designHolder, "intensity (0-10)", d.time_min, [
        { colour: colours[0], med: d.median_effect, lo: d.p5_effect, hi: d.p95_effect, cls: "s0" },
      ], {
        yMax: 10,
        band: d.band,
        readout: (j) => {
          readout.textContent = `t = ${d.time_min[j].toFixed(1)} min — median intensity ${fmt(d.median_effect[j])} (5th–95th percentile ${fmt(d.p5_effect[j])}–${fmt(d.p95_effect[j])})`;
        },
      });
    }
    const steps = d.steps;
    const edges = steps.map((s) => s.start_min).concat([steps[steps.length - 1].end_min]);
    const rates = steps.map((s) => s.rate_mg_per_min).concat([steps[steps.length - 1].rate_mg_per_min]);
    panel(designHolder, `pump rate (mg/min ${d.salt})`, edges, [{ colour: "#374151", med: rates, cls: "rate" }], {
      step: true,
      readout: (j) => {
        readout.textContent = `${edges[j]}–${edges[Math.min(j + 1, edges.length - 1)]} min: ${rates[j].toFixed(3)} mg/min ${d.salt}`;
      },
    });
    designHolder.after(readout);
  }
})();
