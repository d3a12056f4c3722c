// The server-mode latent sliders (Streamlit components v2): the sliders, the digit and its neighbours as one
// element, so a slider move re-renders one element in the browser instead of a dozen sliders, two images and
// their columns (benchmarks/README.md: ~112 ms of React per press for 31 elements).
//
// Streamlit calls the default export on mount and again whenever `data` changes, with the same parentElement,
// so the view is built once per parentElement and then only updated.
// data = {groups: [{title, caption, sliders: [{id, label, value}]}], range, step, applied: "<instance>-<n>" | null,
//         digit: {src, size, alt}, caption: [{text, strong?, title?}], neighbours: {src, width, caption} | null}
// Back to Python: state "moves" = {instance, moves: [{n, id, value}]}, every move Python has not yet applied
// (a move is a slider let go, or stepped with a key: its `change` event). Python applies those with n past the
// last it applied and says so in data.applied, so a rerun that a newer one interrupts loses no move.

const VIEWS = new WeakMap();

function element(tag, className, text) {
  const made = document.createElement(tag);
  made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

class LatentSlidersView {
  constructor(root) {
    this.root = root;
    this.groupsBox = root.querySelector(".latent-groups");
    this.digit = root.querySelector(".latent-digit");
    this.captionBox = root.querySelector(".latent-caption");
    this.neighbours = root.querySelector(".latent-neighbours");
    this.neighboursCaption = root.querySelector(".latent-neighbours-caption");
    this.instance = Math.random().toString(36).slice(2, 10);
    this.sent = 0; // moves made here, numbered from 1
    this.pending = []; // moves Python has not applied yet: {n, id, value}
    this.active = null; // the slider under the pointer between its first `input` and its `change`
    this.layout = "";
    this.onInput = (event) => this.handleInput(event);
    this.onChange = (event) => this.handleChange(event);
    this.groupsBox.addEventListener("input", this.onInput);
    this.groupsBox.addEventListener("change", this.onChange);
  }

  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    this.range = Number(data.range);
    this.step = Number(data.step);
    this.acknowledge(data.applied);
    this.buildSliders(data.groups);
    this.syncSliders(data.groups);
    this.showPicture(data);
  }

  acknowledge(applied) {
    if (typeof applied !== "string") return;
    const [instance, n] = applied.split("-");
    if (instance === this.instance) this.pending = this.pending.filter((move) => move.n > Number(n));
  }

  buildSliders(groups) {
    // Rebuilt only when the set of sliders changes (another model, other dimensions); otherwise kept, so a
    // slider being dragged is never replaced under the pointer.
    const layout = JSON.stringify(groups.map((group) => [group.title, group.caption,
      group.sliders.map((slider) => [slider.id, slider.label])]));
    if (layout === this.layout) return;
    this.layout = layout;
    this.groupsBox.replaceChildren(...groups.map((group) => this.makeGroup(group)));
  }

  makeGroup(group) {
    const box = element("div", "latent-group");
    box.append(element("div", "latent-group-title", group.title));
    if (group.caption) box.append(element("div", "latent-group-caption", group.caption));
    const rows = element("div", "latent-rows");
    rows.append(...group.sliders.map((slider) => this.makeSlider(slider)));
    box.append(rows);
    return box;
  }

  makeSlider(slider) {
    const input = element("input", "latent-slider-input");
    input.type = "range";
    input.dataset.id = slider.id;
    input.setAttribute("data-testid", `latent-slider-${slider.id}`);
    input.setAttribute("aria-label", slider.label);
    const value = element("output", "latent-slider-value");
    value.setAttribute("data-testid", `latent-slider-value-${slider.id}`);
    const row = element("label", "latent-slider");
    row.append(element("span", "latent-slider-label", slider.label), input, value);
    return row;
  }

  syncSliders(groups) {
    // Python's values, except on a slider being dragged or with a move Python has not applied yet: those show
    // what the hand did, not an older z.
    const moved = new Set(this.pending.map((move) => move.id));
    if (this.active) moved.add(this.active);
    const inputs = new Map(Array.from(this.groupsBox.querySelectorAll("input"), (input) => [input.dataset.id, input]));
    for (const group of groups) {
      for (const slider of group.sliders) {
        const input = inputs.get(slider.id);
        if (!input) continue;
        input.min = String(-this.range);
        input.max = String(this.range);
        input.step = String(this.step);
        if (moved.has(slider.id)) continue;
        const value = Math.max(-this.range, Math.min(this.range, Number(slider.value)));
        input.value = String(value);
        input.nextElementSibling.textContent = value.toFixed(2);
      }
    }
  }

  showPicture(data) {
    const digit = data.digit;
    if (this.digit.getAttribute("src") !== digit.src) this.digit.src = digit.src;
    this.digit.alt = digit.alt;
    this.digit.style.width = `${digit.size}px`;
    this.digit.style.height = `${digit.size}px`;
    this.captionBox.replaceChildren(...data.caption.map((part) => {
      const span = element(part.strong ? "strong" : "span", part.title ? "latent-explained" : "", part.text);
      if (part.title) span.title = part.title;
      return span;
    }));
    const neighbours = data.neighbours;
    this.neighbours.hidden = !neighbours;
    this.neighboursCaption.hidden = !neighbours;
    if (!neighbours) return;
    if (this.neighbours.getAttribute("src") !== neighbours.src) this.neighbours.src = neighbours.src;
    this.neighbours.style.width = `${neighbours.width}px`;
    this.neighbours.alt = neighbours.caption;
    this.neighboursCaption.textContent = neighbours.caption;
  }

  handleInput(event) {
    const input = event.target;
    if (!input.classList || !input.classList.contains("latent-slider-input")) return;
    this.active = input.dataset.id;
    input.nextElementSibling.textContent = Number(input.value).toFixed(2);
  }

  handleChange(event) {
    const input = event.target;
    if (!input.classList || !input.classList.contains("latent-slider-input")) return;
    const id = input.dataset.id;
    this.active = null;
    this.sent += 1;
    this.pending.push({ n: this.sent, id, value: Number(input.value) });
    this.setStateValue("moves", { instance: this.instance, moves: this.pending.slice() });
  }

  destroy() {
    this.groupsBox.removeEventListener("input", this.onInput);
    this.groupsBox.removeEventListener("change", this.onChange);
    this.groupsBox.replaceChildren();
    VIEWS.delete(this.root);
  }
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const root = parentElement.querySelector(".latent-sliders");
  if (!root || !data) return undefined;
  let view = VIEWS.get(root);
  if (!view) {
    view = new LatentSlidersView(root);
    VIEWS.set(root, view);
  }
  const generation = (view.generation = (view.generation ?? 0) + 1);
  view.update(data, setStateValue);
  // Streamlit keeps only the latest cleanup and may call an older one late: only the latest may tear down.
  return () => {
    if (view.generation === generation) view.destroy();
  };
}
