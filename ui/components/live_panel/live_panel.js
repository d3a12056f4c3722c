// The live panel (Streamlit components v2): the run's numbers (Step, Elapsed, Steps/s), its fixed-noise sample
// grid, its last live-quality scoring's class shares, or its discriminator view, kept current by the run's live feed
// between the page's reruns. ui/live_panel.py puts the shared feed poller (ui/components/live_feed/feed.js) in front
// of this file, so the panel and the curves make one request together.
//
// data = {part: "numbers" | "grid" | "shares" | "dview", token, busy, status, feed: address | null,
//         numbers: [{label, value, help?}], step (the step the numbers are at),
//         watch (a viewer's page: follow the feed while the run is paused too)           -- part "numbers"
//         grid: {step, png (data URL)} | null, caption ("... at step {step}")          -- part "grid"
//         shares: {step, values: 10 shares} | null                                     -- part "shares"
//         dview: {chunk, step, lower, upper, real, fake (counts per bin), count, probabilities} | null,
//         labels: {title, real, fake, realColour, fakeColour}                           -- part "dview"}
// The feed answers with the run as it is at that moment, so what it brings is always shown (a run restored to an
// earlier step goes back). Python's data was made at its rerun: while the run trains it is shown unless the feed
// already showed a later step; while it doesn't (paused, ended), Python's data is the truth and is shown as is.
// The numbers part also watches the feed's status and its `redraw` key (the alerts up, whether live quality has a
// score: ui/live_feed.py): when either differs from the one the page was drawn with (data.redraw; null: not
// watched), it fires the trigger "status" once, which reruns the page's live fragment, so a run that ends or fails,
// a new alert, or the first quality score shows at once (a redraw key no sooner than REDRAW_MIN_MS after a draw).
//
// window.__ganLabRedrawReruns counts the reruns fired for a changed redraw key alone (the status the same).
//
// DOM, inside the component's shadow root: [data-testid="live-numbers"] holding one [data-testid="live-metric"]
// per number (data-label, its value in .live-metric-value), or [data-testid="live-grid"] (data-step, data-feed-grids:
// how many grids the feed brought) holding the <img> and its caption, or [data-testid="live-shares"] (data-step,
// data-feed-shares) holding ten [data-testid="live-share-bar"] (data-share, a title with the digit and its share), or
// [data-testid="live-dview"] (data-step, data-chunk, data-feed-dviews) holding one [data-testid="live-dview-bin"] per
// bin (data-real, data-fake: its counts; a title with its range and both counts).

const PANELS = new WeakMap();
// A changed redraw key reruns the fragment no sooner than this after the page drew the panel: an alert flickering
// at its threshold must not rerun the page every second (each rerun costs the browser, and so the trainer). A
// change of status is always at once.
const REDRAW_MIN_MS = 5000;

function stepText(step) {
  return Math.round(step).toLocaleString("en-US");
}

function make(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

// A round top for a count axis: 1, 2 or 5 times a power of ten, at least 10.
function niceTop(value) {
  const top = Math.max(10, value);
  const power = 10 ** Math.floor(Math.log10(top));
  return [1, 2, 5, 10].map((m) => m * power).find((v) => v >= top);
}

function scoreText(value, probabilities) {
  return probabilities ? String(Number(value.toFixed(3))) : Number(value).toPrecision(3);
}

class LivePanel {
  constructor(root) {
    this.root = root;
    this.part = null;
    this.token = null;
    this.feedUrl = null;
    this.shownStep = -1;
    this.status = null;
    this.busy = false;
    this.fired = false;
    this.redraw = null;
    this.drawnAt = 0;
    this.feedGrids = 0;
    this.feedShares = 0;
    this.feedDviews = 0;
    this.shownChunk = -1;
    this.caption = "";
    this.trigger = null;
    this.generation = 0;
    this.visible = true;
    this.seen = new IntersectionObserver((entries) => {
      for (const entry of entries) this.visible = entry.isIntersecting;
    });
    this.seen.observe(root);
  }

  feedAfter() {
    return Infinity; // no curve points: the charts ask for those
  }

  follow(url) {
    feedFollow(this, url);
  }

  build(part) {
    this.part = part;
    this.root.replaceChildren();
    if (part === "numbers") {
      this.box = document.createElement("div");
      this.box.className = "live-numbers";
      this.box.setAttribute("data-testid", "live-numbers");
    } else if (part === "shares") {
      this.buildShares();
    } else if (part === "dview") {
      this.buildDview();
    } else {
      this.box = document.createElement("figure");
      this.box.className = "live-grid";
      this.box.setAttribute("data-testid", "live-grid");
      this.image = document.createElement("img");
      this.image.alt = "The sample grid: the generator's output for a fixed set of inputs";
      this.captionBox = document.createElement("figcaption");
      this.box.append(this.image, this.captionBox);
    }
    this.root.append(this.box);
  }

  // The class shares: ten bars (one per digit the classifier reads), the dashed uniform 10% line, the share axis.
  buildShares() {
    this.box = make("figure", "live-shares");
    this.box.setAttribute("data-testid", "live-shares");
    this.plot = make("div", "live-shares-plot");
    this.bars = [];
    for (let digit = 0; digit < 10; digit++) {
      const bar = make("div", "live-share-bar");
      bar.setAttribute("data-testid", "live-share-bar");
      this.bars.push(bar);
      this.plot.append(bar);
    }
    this.uniform = make("div", "live-share-uniform");
    this.uniform.append(make("span", "live-share-uniform-label", "uniform 10%"));
    this.ticks = [0, 1, 2].map(() => make("div", "live-share-tick"));
    this.plot.append(this.uniform, ...this.ticks);
    const digits = make("div", "live-shares-digits");
    for (let digit = 0; digit < 10; digit++) digits.append(make("span", "", String(digit)));
    this.captionBox = make("figcaption");
    this.box.append(this.plot, digits, this.captionBox);
  }

  showShares(shares) {
    if (!shares) {
      this.box.hidden = true;
      return;
    }
    this.box.hidden = false;
    const values = shares.values.map((v) => (v == null ? 0 : v));
    const top = Math.max(0.2, Math.ceil(Math.max(...values) * 20) / 20); // the axis: at least 20%, in 5% steps
    const percent = (v) => `${(100 * v).toFixed(1)}%`;
    values.forEach((v, digit) => {
      const bar = this.bars[digit];
      bar.style.height = `${(100 * v) / top}%`;
      bar.title = `digit ${digit}: ${percent(v)} of the samples`;
      bar.dataset.share = String(v);
    });
    this.uniform.style.bottom = `${(100 * 0.1) / top}%`;
    [0, top / 2, top].forEach((v, i) => {
      this.ticks[i].style.bottom = `${(100 * v) / top}%`;
      this.ticks[i].textContent = `${Math.round(100 * v)}%`;
    });
    const step = stepText(shares.step);
    this.captionBox.textContent = `Share of the samples the classifier reads as each digit, at step ${step}`;
    this.shownStep = shares.step;
    this.box.dataset.step = String(shares.step);
  }

  // The discriminator view: D's outputs on a real and a generated batch as two overlaid histograms (GAN Lab's).
  buildDview() {
    this.box = make("figure", "live-dview");
    this.box.setAttribute("data-testid", "live-dview");
    const legend = make("div", "live-dview-legend");
    this.legendReal = make("span", "live-dview-key");
    this.legendFake = make("span", "live-dview-key");
    legend.append(this.legendReal, this.legendFake);
    this.yTitle = make("div", "live-dview-ytitle");
    this.plot = make("div", "live-dview-plot");
    this.ticks = [0, 1, 2].map(() => make("div", "live-share-tick"));
    this.plot.append(...this.ticks);
    this.bins = [];
    this.xTicks = make("div", "live-dview-xticks");
    this.xTickLabels = [0, 1, 2].map((i) => {
      const label = make("span");
      label.style.left = `${50 * i}%`;
      return label;
    });
    this.xTicks.append(...this.xTickLabels);
    this.captionBox = make("figcaption");
    this.box.append(legend, this.yTitle, this.plot, this.xTicks, this.captionBox);
  }

  dviewBins(count) {
    if (this.bins.length === count) return;
    for (const bin of this.bins) bin.element.remove();
    this.bins = [];
    for (let i = 0; i < count; i++) {
      const element = make("div", "live-dview-bin");
      element.setAttribute("data-testid", "live-dview-bin");
      element.style.left = `${(100 * i) / count}%`;
      element.style.width = `${100 / count}%`;
      const real = make("div", "live-dview-bar");
      const fake = make("div", "live-dview-bar");
      element.append(real, fake);
      this.plot.append(element);
      this.bins.push({ element, real, fake });
    }
  }

  showDview(dview, labels) {
    if (!dview) {
      this.box.hidden = true;
      return;
    }
    this.box.hidden = false;
    labels = labels || {};
    const key = (span, colour, text) => {
      span.replaceChildren(make("i"), make("span", "", text));
      span.firstChild.style.background = colour;
    };
    key(this.legendReal, labels.realColour, labels.real);
    key(this.legendFake, labels.fakeColour, labels.fake);
    this.yTitle.textContent = `digits (of ${dview.count} each)`;
    const top = niceTop(Math.max(...dview.real, ...dview.fake));
    this.dviewBins(dview.real.length);
    const probabilities = Boolean(dview.probabilities);
    this.bins.forEach((bin, i) => {
      const real = dview.real[i];
      const fake = dview.fake[i];
      bin.real.style.height = `${(100 * real) / top}%`;
      bin.real.style.background = labels.realColour;
      bin.fake.style.height = `${(100 * fake) / top}%`;
      bin.fake.style.background = labels.fakeColour;
      bin.element.dataset.real = String(real);
      bin.element.dataset.fake = String(fake);
      const range = `${scoreText(dview.lower[i], probabilities)} to ${scoreText(dview.upper[i], probabilities)}`;
      bin.element.title = `${labels.title} ${range}: ${real} ${labels.real}, ${fake} ${labels.fake}`;
    });
    [0, top / 2, top].forEach((v, i) => {
      this.ticks[i].style.bottom = `${(100 * v) / top}%`;
      this.ticks[i].textContent = String(v);
    });
    const low = dview.lower[0];
    const high = dview.upper[dview.upper.length - 1];
    [low, (low + high) / 2, high].forEach((v, i) => {
      this.xTickLabels[i].textContent = scoreText(v, probabilities);
    });
    this.captionBox.textContent = `${labels.title}, at step ${stepText(dview.step)}`;
    this.shownStep = dview.step;
    this.shownChunk = dview.chunk;
    this.box.dataset.step = String(dview.step);
    this.box.dataset.chunk = String(dview.chunk);
  }

  showNumbers(numbers, step) {
    if (this.box.children.length !== numbers.length) {
      this.box.replaceChildren(...numbers.map(() => {
        const metric = document.createElement("div");
        metric.className = "live-metric";
        metric.setAttribute("data-testid", "live-metric");
        const label = document.createElement("div");
        label.className = "live-metric-label";
        const value = document.createElement("div");
        value.className = "live-metric-value";
        metric.append(label, value);
        return metric;
      }));
    }
    numbers.forEach((number, i) => {
      const metric = this.box.children[i];
      metric.dataset.label = number.label;
      metric.title = number.help || "";
      metric.children[0].textContent = number.label;
      metric.children[1].textContent = number.value;
    });
    this.shownStep = step;
    this.box.dataset.step = String(step);
  }

  showGrid(grid) {
    if (!grid) {
      this.box.hidden = true;
      return;
    }
    this.box.hidden = false;
    if (this.image.getAttribute("src") !== grid.png) this.image.src = grid.png;
    this.captionBox.textContent = this.caption.replace("{step}", stepText(grid.step));
    this.shownStep = grid.step;
    this.box.dataset.step = String(grid.step);
  }

  feedQualityAfter() {
    // The shares come with the live-quality rows; asking from the scoring shown brings only the rows since.
    if (this.part !== "shares") return undefined;
    return this.visible || this.box.hidden ? this.shownStep : undefined;
  }

  feedDviewAfter() {
    // As the grid: a view out of sight asks for none, and the next one it sees is the newest.
    if (this.part !== "dview") return undefined;
    return this.visible || this.box.hidden ? this.shownChunk : undefined;
  }

  feedGridAfter() {
    // A grid scrolled out of view asks for none: the next one it sees is the newest anyway. Before the run's first
    // grid the panel has no size to be seen by, so it asks then whatever the observer says.
    if (this.part !== "grid") return undefined;
    return this.visible || this.box.hidden ? this.shownStep : undefined;
  }

  appendFeed(body) {
    if (this.part === "numbers") {
      if (body.numbers) this.showNumbers(body.numbers, body.step); // the run as it is now, even a step back
      const redrawn = this.redraw !== null && body.redraw !== undefined && body.redraw !== this.redraw &&
        performance.now() - this.drawnAt >= REDRAW_MIN_MS;
      if (!this.fired && this.trigger && (body.status !== this.status || body.busy !== this.busy || redrawn)) {
        this.fired = true; // once per drawing: the rerun that follows draws the panel again
        if (redrawn && body.status === this.status && body.busy === this.busy) {
          window.__ganLabRedrawReruns = (window.__ganLabRedrawReruns || 0) + 1; // read by the tests
        }
        this.trigger("status", body.status);
      }
    } else if (this.part === "shares") {
      const shares = body.quality && body.quality.shares;
      if (shares && shares.step !== this.shownStep) {
        this.feedShares += 1;
        this.box.dataset.feedShares = String(this.feedShares);
        this.showShares(shares);
      }
    } else if (this.part === "dview") {
      if (body.dview && body.dview.chunk !== this.shownChunk) {
        this.feedDviews += 1;
        this.box.dataset.feedDviews = String(this.feedDviews);
        this.showDview(body.dview, this.labels);
      }
    } else if (body.grid && body.grid.step !== this.shownStep) {
      this.feedGrids += 1;
      this.box.dataset.feedGrids = String(this.feedGrids);
      this.showGrid(body.grid);
    }
  }

  update(data, setTriggerValue) {
    if (data.part !== this.part) this.build(data.part);
    this.trigger = setTriggerValue;
    const sameRun = data.token === this.token;
    this.token = data.token;
    this.status = data.status;
    this.busy = Boolean(data.busy);
    this.redraw = data.redraw === undefined ? null : data.redraw;
    this.drawnAt = performance.now();
    this.fired = false;
    // Python's data is shown unless, in the same run while it trains, the feed already showed a newer step.
    const stale = sameRun && this.busy;
    if (this.part === "numbers") {
      if (!(stale && data.step < this.shownStep)) this.showNumbers(data.numbers || [], data.step);
    } else if (this.part === "shares") {
      const step = data.shares ? data.shares.step : -1;
      if (!(stale && step < this.shownStep)) this.showShares(data.shares);
    } else if (this.part === "dview") {
      this.labels = data.labels;
      const chunk = data.dview ? data.dview.chunk : -1;
      if (!(stale && chunk < this.shownChunk)) this.showDview(data.dview, data.labels);
    } else {
      this.caption = data.caption || "";
      const step = data.grid ? data.grid.step : -1;
      if (!(stale && step < this.shownStep)) this.showGrid(data.grid);
      else this.captionBox.textContent = this.caption.replace("{step}", stepText(this.shownStep));
    }
    this.keepFollowing = Boolean(data.watch); // a viewer's numbers follow a paused run too (feed.js)
    this.follow(this.busy || this.keepFollowing ? data.feed : null);
  }

  destroy() {
    this.follow(null);
    this.seen.disconnect();
    PANELS.delete(this.root);
  }
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = parentElement.querySelector(".live-panel");
  if (!root || !data) return undefined;
  let panel = PANELS.get(root);
  if (!panel) {
    panel = new LivePanel(root);
    PANELS.set(root, panel);
  }
  const generation = ++panel.generation;
  panel.update(data, setTriggerValue);
  return () => {
    if (panel.generation === generation) panel.destroy();
  };
}
