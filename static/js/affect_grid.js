// A 2-D affect grid: valence on x (left = unpleasant), arousal on y (top = excited).
// Click a cell, or focus the grid and use the arrow keys; values are scale points 1..n.

export class AffectGrid {
  constructor(el, { points, onChange }) {
    this.el = el;
    this.n = points;
    this.onChange = onChange;
    this.x = null;
    this.y = null;
    this.cells = new Map();
    for (const cell of el.querySelectorAll(".cell")) {
      this.cells.set(`${cell.dataset.x},${cell.dataset.y}`, cell);
      cell.addEventListener("click", () => {
        this.set(Number(cell.dataset.x), Number(cell.dataset.y));
        el.focus({ preventScroll: true });
      });
    }
    el.addEventListener("keydown", (e) => this.onKey(e));
  }

  get disabled() {
    return this.el.classList.contains("is-disabled");
  }

  setDisabled(flag) {
    this.el.classList.toggle("is-disabled", flag);
    this.el.setAttribute("aria-disabled", String(flag));
  }

  clamp(v) {
    return Math.max(1, Math.min(this.n, v));
  }

  set(x, y) {
    if (this.disabled) return;
    this.x = x == null ? null : this.clamp(x);
    this.y = y == null ? null : this.clamp(y);
    for (const cell of this.cells.values()) {
      const cx = Number(cell.dataset.x);
      const cy = Number(cell.dataset.y);
      cell.classList.toggle("is-selected", cx === this.x && cy === this.y);
      cell.classList.toggle("in-row", this.y !== null && cy === this.y && cx !== this.x);
      cell.classList.toggle("in-col", this.x !== null && cx === this.x && cy !== this.y);
      cell.setAttribute("aria-pressed", String(cx === this.x && cy === this.y));
    }
    this.onChange?.({ valence: this.x, arousal: this.y });
  }

  /** Set one axis ("valence" = x, "arousal" = y), keeping the other. */
  setAxis(axis, value) {
    if (axis === "valence") this.set(value, this.y);
    else this.set(this.x, value);
  }

  onKey(e) {
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
    const move = moves[e.key];
    if (!move || this.disabled) return;
    e.preventDefault();
    e.stopPropagation(); // inside the grid the arrows move the cell, not the focus between scales
    const mid = Math.ceil(this.n / 2);
    this.set((this.x ?? mid) + move[0], (this.y ?? mid) + move[1]);
  }
}
