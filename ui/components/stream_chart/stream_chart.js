// The live-curve component (Streamlit components v2): a uPlot canvas chart that appends the points it is sent.
// ui/stream_chart.py puts the vendored uPlot (uPlot.iife.min.js, MIT, see uPlot.LICENSE) in front of this file.
//
// data = {seq, prev_seq, reset, series: [{label, colour}], references: [{value, label}], y_title,
//         y_range: [lo, hi] | null, y_zero, points, height, steps: number[], values: (number|null)[][]}
// `reset` carries the whole (thinned) curve and replaces what is drawn; otherwise the points are the ones new
// since `prev_seq`, appended. A view that did not draw `prev_seq` (a remount, a lost update) asks Python for the
// whole curve with trigger "resync" instead of appending to a gap.
//
// DOM, inside the component's shadow root:
//   [data-testid="stream-chart"]  root; data-points (points held), data-seq (last update drawn),
//                                 data-draws (redraws since mount), data-appends (updates appended, not reset)
//   canvas                         uPlot's plot; its legend (labels, colours, the values under the cursor) below

const STREAM_VIEWS = new WeakMap();
const MAX_HELD_POINTS = 20000; // per chart: past this the older half is thinned by two, so a long run stays cheap

function thinOlderHalf(columns) {
  const count = columns[0].length;
  const half = Math.floor(count / 2);
  return columns.map((column) => {
    const kept = [];
    for (let i = 0; i < half; i += 2) kept.push(column[i]);
    for (let i = half; i < count; i++) kept.push(column[i]);
    return kept;
  });
}

class StreamChart {
  constructor(root) {
    this.root = root;
    this.box = root.querySelector(".stream-chart-plot");
    this.columns = null; // [steps, series 1, ..., references...] as uPlot wants them
    this.plot = null;
    this.layout = null;
    this.seq = null;
    this.draws = 0;
    this.appends = 0;
    this.generation = 0;
    this.resizer = new ResizeObserver(() => this.fit());
    this.resizer.observe(this.root);
  }

  update(data, setTriggerValue) {
    const layout = JSON.stringify([data.series, data.references.map((r) => r.label), data.y_title, data.y_range,
      data.y_zero, data.points, data.height]);
    if (data.seq === this.seq && layout === this.layout) return; // a rerun with nothing new
    if (!data.reset && data.prev_seq !== this.seq) {
      setTriggerValue("resync", data.seq); // we missed an update: ask for the whole curve
      return;
    }
    const referenceValues = data.references.map((r) => r.value);
    if (data.reset || !this.columns) {
      this.columns = [data.steps.slice(), ...data.values.map((v) => v.slice())];
    } else {
      this.columns[0].push(...data.steps);
      data.values.forEach((values, i) => this.columns[i + 1].push(...values));
      this.appends += 1;
    }
    if (this.columns[0].length > MAX_HELD_POINTS) this.columns = thinOlderHalf(this.columns);
    const count = this.columns[0].length;
    const full = [...this.columns, ...referenceValues.map((value) => new Array(count).fill(value))];
    if (layout !== this.layout || !this.plot) {
      this.layout = layout;
      this.build(data, full);
    } else {
      this.plot.setData(full);
    }
    this.seq = data.seq;
    this.draws += 1;
    this.root.dataset.points = String(count);
    this.root.dataset.seq = String(data.seq);
    this.root.dataset.draws = String(this.draws);
    this.root.dataset.appends = String(this.appends);
  }

  build(data, full) {
    if (this.plot) this.plot.destroy();
    const ink = getComputedStyle(this.root).color || "#31333f";
    const grid = "rgba(128, 128, 128, 0.2)";
    const axis = (label) => ({ label, stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } });
    const series = [{ label: "step", value: (u, v) => (v == null ? "-" : Math.round(v).toLocaleString()) }];
    for (const s of data.series) {
      series.push({ label: s.label, stroke: s.colour, width: 1.5, spanGaps: false,
        points: { show: data.points, size: 5, fill: s.colour },
        value: (u, v) => (v == null ? "-" : Number(v).toPrecision(4)) });
    }
    for (const r of data.references) {
      series.push({ label: r.label, stroke: "gray", width: 1, dash: [4, 4], points: { show: false },
        value: () => Number(r.value).toPrecision(4) });
    }
    const yScale = data.y_range ? { range: data.y_range } :
      { range: (u, lo, hi) => {
        if (lo == null || hi == null) return [0, 1];
        if (data.y_zero) lo = Math.min(0, lo);
        const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 0.5;
        return [data.y_zero && lo === 0 ? 0 : lo - pad, hi + pad];
      } };
    const options = {
      width: Math.max(this.root.clientWidth, 200),
      height: data.height,
      series,
      scales: { x: { time: false }, y: yScale },
      axes: [axis("step"), axis(data.y_title)],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
    };
    this.plot = new uPlot(options, full, this.box);
  }

  fit() {
    if (!this.plot) return;
    const width = Math.max(this.root.clientWidth, 200);
    if (Math.abs(width - this.plot.width) > 1) this.plot.setSize({ width, height: this.plot.height });
  }

  destroy() {
    this.resizer.disconnect();
    if (this.plot) this.plot.destroy();
    this.plot = null;
    STREAM_VIEWS.delete(this.root);
  }
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = parentElement.querySelector(".stream-chart");
  if (!root || !data) return undefined;
  let view = STREAM_VIEWS.get(root);
  if (!view) {
    view = new StreamChart(root);
    STREAM_VIEWS.set(root, view);
  }
  const generation = ++view.generation;
  view.update(data, setTriggerValue);
  return () => {
    if (view.generation === generation) view.destroy();
  };
}
