// The live-curve component (Streamlit components v2): a uPlot canvas chart that appends the points it is sent.
// ui/stream_chart.py puts the vendored uPlot (uPlot.iife.min.js, MIT, see uPlot.LICENSE) in front of this file.
//
// data = {seq, prev_seq, reset, series: [{label, colour}], references: [{value, label}], y_title,
//         y_range: [lo, hi] | null, y_zero, points, height, steps: number[], values: (number|null)[][]}
// `reset` carries the whole (thinned) curve and replaces what is drawn; otherwise the points are the ones new
// since `prev_seq`, appended. A view that did not draw `prev_seq` (a remount, a lost update) asks Python for the
// whole curve with trigger "resync" instead of appending to a gap.
//
// `feed` (optional): the run's live feed address (ui/live_feed.py). While it is set, one poller per address
// (ui/components/live_feed/feed.js, put in front of this file) fetches the points after the newest step held,
// once a second while the tab is visible, and appends them to every chart subscribed to it (a chart out of view
// draws them when it comes back into view); Python's own updates then only append the steps the feed has not brought.
// `source` (optional): "history" (the default: the run's curves, the feed's `steps`/`series`) or "quality" (the
// live-quality rows, the feed's `quality`, asked for with quality_after).
//
// DOM, inside the component's shadow root:
//   [data-testid="stream-chart"]  root; data-points (points held), data-seq (last update drawn),
//                                 data-draws (Python's updates drawn since mount), data-appends (updates appended, not reset),
//                                 data-feed-appends (feed answers that brought new points), data-last-step
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
    this.feedAppends = 0;
    this.feedUrl = null;
    this.names = [];
    this.source = "history";
    this.referenceValues = [];
    this.generation = 0;
    this.resizer = new ResizeObserver(() => this.fit());
    this.resizer.observe(this.root);
    // A chart scrolled out of view keeps what the feed brings but draws it only when it comes back into view:
    // each canvas redraw costs the browser's main and raster threads, which share the training worker's cores.
    this.visible = true;
    this.stale = false;
    this.seen = new IntersectionObserver((entries) => {
      for (const entry of entries) this.visible = entry.isIntersecting;
      if (this.visible && this.stale && this.plot) this.redraw();
    });
    this.seen.observe(this.root);
  }

  feedAfter() {
    return this.source === "quality" ? Infinity : this.lastStep();
  }

  feedQualityAfter() {
    return this.source === "quality" ? this.lastStep() : undefined;
  }

  lastStep() {
    const steps = this.columns ? this.columns[0] : null;
    return steps && steps.length ? steps[steps.length - 1] : -1;
  }

  follow(url) {
    feedFollow(this, url);
  }

  // Appends the points of `steps` past the newest step held (the feed and Python's updates may bring the same
  // ones); valuesOf(i) is series i's values aligned with `steps`, or null for a gap. Returns whether any was new.
  appendAfterLast(steps, valuesOf) {
    const last = this.lastStep();
    let from = 0;
    while (from < steps.length && steps[from] <= last) from += 1;
    if (from >= steps.length) return false;
    this.columns[0].push(...steps.slice(from));
    for (let i = 1; i < this.columns.length; i++) {
      const values = valuesOf(i - 1);
      for (let k = from; k < steps.length; k++) this.columns[i].push(values ? values[k] : null);
    }
    return true;
  }

  appendFeed(body) {
    if (!this.columns || !this.plot) return;
    const rows = this.source === "quality" ? body.quality || {} : body;
    const series = rows.series || {};
    if (!this.appendAfterLast(rows.steps || [], (i) => series[this.names[i]])) return;
    this.feedAppends += 1;
    this.root.dataset.feedAppends = String(this.feedAppends);
    this.root.dataset.lastStep = String(this.lastStep());
    if (this.visible) this.redraw();
    else this.stale = true;
  }

  redraw() {
    this.stale = false;
    this.plot.setData(this.plotData());
  }

  // The plot's columns: the points held (the older half thinned past MAX_HELD_POINTS), then one flat column per
  // reference line. Also stamps the points held and the newest step on the root.
  plotData() {
    if (this.columns[0].length > MAX_HELD_POINTS) this.columns = thinOlderHalf(this.columns);
    const count = this.columns[0].length;
    this.root.dataset.points = String(count);
    this.root.dataset.lastStep = String(this.lastStep());
    return [...this.columns, ...this.referenceValues.map((value) => new Array(count).fill(value))];
  }

  update(data, setTriggerValue) {
    this.names = data.names || [];
    this.source = data.source || "history";
    this.follow(data.feed);
    const layout = JSON.stringify([data.series, data.references.map((r) => r.label), data.y_title, data.y_range,
      data.y_zero, data.points, data.height]);
    if (data.seq === this.seq && layout === this.layout) return; // a rerun with nothing new
    if (!data.reset && data.prev_seq !== this.seq) {
      setTriggerValue("resync", data.seq); // we missed an update: ask for the whole curve
      return;
    }
    this.referenceValues = data.references.map((r) => r.value);
    if (data.reset || !this.columns) {
      this.columns = [data.steps.slice(), ...data.values.map((v) => v.slice())];
    } else {
      this.appendAfterLast(data.steps, (i) => data.values[i]); // only what the live feed has not brought
      this.appends += 1;
    }
    const full = this.plotData();
    if (layout !== this.layout || !this.plot) {
      this.layout = layout;
      this.build(data, full);
    } else {
      this.plot.setData(full);
    }
    this.seq = data.seq;
    this.draws += 1;
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
    this.follow(null);
    this.resizer.disconnect();
    this.seen.disconnect();
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
