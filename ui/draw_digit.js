// The drawing canvas of the Explore page (Streamlit components v2): draw a digit with the mouse or a finger.
//
// Strokes are kept as lists of points in [0, 1] (so undo is "drop the last stroke, draw the rest again").
// The canvas on screen shows the drawing on a 28 x 28 grid, scaled up, as the model will see it; Python gets
// the same strokes drawn at SEND_SIDE x SEND_SIDE (finer, so ui/draw_digit.py can fit the digit into MNIST's
// 20 x 20 box without blur), once per finished stroke, undo or clear:
//   state "drawing" = {seq, side, pixels: number[side * side] of 0-255} (pixels empty when nothing is drawn)
// data = {size: display side in px, brush: stroke width as a share of the side}

const SEND_SIDE = 112;
const GRID_SIDE = 28;
const VIEWS = new WeakMap();

class DrawView {
  constructor(root) {
    this.root = root;
    this.canvas = root.querySelector(".draw-canvas");
    this.grid = document.createElement("canvas"); // 28 x 28: what the screen shows, scaled up
    this.grid.width = this.grid.height = GRID_SIDE;
    this.send = document.createElement("canvas");
    this.send.width = this.send.height = SEND_SIDE;
    this.strokes = [];
    this.current = null;
    this.sent = 0;
    this.instanceId = Math.random().toString(36).slice(2, 10);
    this.onDown = (event) => this.down(event);
    this.onMove = (event) => this.move(event);
    this.onUp = (event) => this.up(event);
    this.canvas.addEventListener("pointerdown", this.onDown);
    this.canvas.addEventListener("pointermove", this.onMove);
    this.canvas.addEventListener("pointerup", this.onUp);
    this.canvas.addEventListener("pointercancel", this.onUp);
    root.querySelector(".draw-undo").addEventListener("click", () => this.undo());
    root.querySelector(".draw-clear").addEventListener("click", () => this.clear());
  }

  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    this.brush = Number(data.brush) || 0.09;
    const size = Number(data.size) || 280;
    if (this.canvas.width !== size) {
      this.canvas.width = this.canvas.height = size;
    }
    this.redraw();
  }

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return [Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1),
            Math.min(Math.max((event.clientY - box.top) / box.height, 0), 1)];
  }

  down(event) {
    event.preventDefault();
    this.canvas.setPointerCapture(event.pointerId);
    this.current = [this.point(event)];
    this.strokes.push(this.current);
    this.redraw();
  }

  move(event) {
    if (!this.current) return;
    event.preventDefault();
    this.current.push(this.point(event));
    this.redraw();
  }

  up(event) {
    if (!this.current) return;
    this.current = null;
    if (this.canvas.hasPointerCapture(event.pointerId)) this.canvas.releasePointerCapture(event.pointerId);
    this.report();
  }

  undo() {
    this.strokes.pop();
    this.redraw();
    this.report();
  }

  clear() {
    this.strokes = [];
    this.redraw();
    this.report();
  }

  paint(canvas) {
    const context = canvas.getContext("2d");
    const side = canvas.width;
    context.fillStyle = "#000";
    context.fillRect(0, 0, side, side);
    context.strokeStyle = context.fillStyle = "#fff";
    context.lineWidth = this.brush * side;
    context.lineCap = context.lineJoin = "round";
    for (const stroke of this.strokes) {
      context.beginPath();
      context.moveTo(stroke[0][0] * side, stroke[0][1] * side);
      if (stroke.length === 1) context.lineTo(stroke[0][0] * side + 0.01, stroke[0][1] * side);
      for (const [x, y] of stroke.slice(1)) context.lineTo(x * side, y * side);
      context.stroke();
    }
  }

  redraw() {
    this.paint(this.grid);
    const context = this.canvas.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.drawImage(this.grid, 0, 0, this.canvas.width, this.canvas.height);
    this.root.dataset.strokes = String(this.strokes.length);
  }

  report() {
    if (!this.setStateValue) return;
    let pixels = [];
    if (this.strokes.length) {
      this.paint(this.send);
      const rgba = this.send.getContext("2d").getImageData(0, 0, SEND_SIDE, SEND_SIDE).data;
      pixels = new Array(SEND_SIDE * SEND_SIDE);
      for (let i = 0; i < pixels.length; i++) pixels[i] = rgba[4 * i];
    }
    this.sent += 1;
    this.root.dataset.sent = String(this.sent);
    this.setStateValue("drawing", { seq: `${this.instanceId}-${this.sent}`, side: SEND_SIDE, pixels });
  }

  destroy() {
    this.canvas.removeEventListener("pointerdown", this.onDown);
    this.canvas.removeEventListener("pointermove", this.onMove);
    this.canvas.removeEventListener("pointerup", this.onUp);
    this.canvas.removeEventListener("pointercancel", this.onUp);
    VIEWS.delete(this.root);
  }
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const root = parentElement.querySelector(".draw-digit");
  if (!root) return undefined;
  let view = VIEWS.get(root);
  if (!view) {
    view = new DrawView(root);
    VIEWS.set(root, view);
  }
  view.update(data || {}, setStateValue);
  return undefined; // the view lives as long as its root: a rerun must not wipe a drawing in progress
}
