"""Plot helpers: one readable style for class, and a live loss plot for training."""

import math

import matplotlib.pyplot as plt

from ..progress import Reporter

COLORS = {"train": "#1f77b4", "val": "#d62728", "baseline": "#7f7f7f"}


def use_course_style() -> None:
    """Large, clean defaults that stay readable on a projector."""
    plt.rcParams.update({
        "figure.figsize": (8, 4.5),
        "figure.dpi": 100,
        "font.size": 13,
        "axes.titlesize": 15,
        "axes.labelsize": 13,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "legend.frameon": False,
        "lines.linewidth": 2,
    })


class Plotting(Reporter):
    """fit()'s reporter calls as updates of a plot: the training loss at each log, the validation estimate at
    each evaluation (and, for a resumed run, the losses so far); close() is the plot's own."""

    def start(self, history, step, max_iters):
        for s, t in zip(history.steps, history.train_loss):
            self.update(s, train=t)
        for s, v in zip(history.eval_steps, history.eval_val):
            self.update(s, val=v)

    def logged(self, step, loss, figures):
        self.update(step, train=loss)

    def evaluated(self, step, train_loss, val_loss, speed):
        self.update(step, val=val_loss, force=True)


class LivePlot(Plotting):
    """A loss curve that redraws in place while training runs (in a notebook), and stays as a static
    picture afterwards. Outside a notebook it draws nothing. A reporter for fit (lmutils.progress):

        fit(model, train_ids, val_ids, cfg, report=[ProgressBar("char-RNN"), LivePlot("char-RNN")])

    or by hand:
        live = LivePlot(title="char-RNN")
        live.update(step, train=loss)           # as often as you like
        live.update(step, val=val_loss)
        live.close()
    """

    def __init__(self, title: str = "", ylabel: str = "loss (nats per token)", baselines: dict | None = None,
                 logy: bool = False, every: float = 2.0):
        self.series: dict[str, tuple[list, list]] = {}
        self.baselines = baselines or {}
        self.title, self.ylabel, self.logy = title, ylabel, logy
        self.every = every  # seconds between redraws: drawing is slow next to a training step
        self._last = -math.inf
        self.fig = self.handle = None
        if _in_notebook():
            from IPython.display import display
            self.fig, self.ax = plt.subplots(figsize=(8, 4))
            self._draw()
            self.handle = display(self.fig, display_id=True)

    def update(self, step: int, force: bool = False, **values) -> None:
        import time

        for name, v in values.items():
            xs, ys = self.series.setdefault(name, ([], []))
            xs.append(step)
            ys.append(float(v))
        now = time.monotonic()
        if self.handle is not None and (force or now - self._last >= self.every):
            self._last = now
            self._draw()
            self.handle.update(self.fig)

    def _draw(self) -> None:
        ax = self.ax
        ax.clear()
        for name, (xs, ys) in self.series.items():
            style = dict(marker="o", ms=4) if len(xs) < 40 else {}
            ax.plot(xs, ys, label=name, color=COLORS.get(name), **style)
        for name, y in self.baselines.items():
            ax.axhline(y, ls="--", color=COLORS["baseline"], lw=1.5)
            ax.annotate(name, (0, y), xycoords=("axes fraction", "data"), va="bottom", fontsize=11,
                        color=COLORS["baseline"])
        if self.logy:
            ax.set_yscale("log")
        ax.set(xlabel="step", ylabel=self.ylabel, title=self.title)
        if self.series:
            ax.legend(loc="upper right")

    def series_of(self, model: str) -> "_Series":
        """A view of this plot for one of several models trained in turn: fit(..., report=live.series_of("LSTM"))
        draws "LSTM train" and "LSTM val"; call live.close() after the last one."""
        return _Series(self, model)

    def close(self) -> None:
        """Final redraw, then release the figure (the notebook keeps the last picture)."""
        if self.handle is not None:
            self._draw()
            self.handle.update(self.fig)
            plt.close(self.fig)
            self.handle = None


class _Series(Plotting):
    def __init__(self, live: LivePlot, model: str):
        self.live, self.model = live, model

    def update(self, step: int, force: bool = False, **values) -> None:
        self.live.update(step, force, **{f"{self.model} {k}": v for k, v in values.items()})

    def close(self) -> None:
        self.live.update(0, force=True)  # redraw; the LivePlot itself stays open for the next model


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ != "TerminalInteractiveShell"


# --- notebooks 01-02: a neuron's decision boundary, the neuron diagram, a computational graph -----

CLASS_COLORS = ("#1f77b4", "#d62728")  # class 0 blue, class 1 red, as the RdBu_r colour map


def plot_decision(ax, prob, X, t, lim=None, res: int = 150, colorbar: bool = True):
    """Colour the plane by prob(points) (the probability of class 1, a function of an (G, 2) tensor
    returning G numbers), draw the boundary prob = 0.5 in black and the points coloured by class.
    Returns the accuracy of `prob > 0.5` on (X, t)."""
    import torch

    if lim is None:
        lo, hi = X.min(0).values - 0.7, X.max(0).values + 0.7
        lim = (min(lo).item(), max(hi).item())
    g = torch.linspace(lim[0], lim[1], res)
    g1, g2 = torch.meshgrid(g, g, indexing="xy")
    with torch.no_grad():
        p = torch.as_tensor(prob(torch.stack([g1.reshape(-1), g2.reshape(-1)], 1))).reshape(res, res)
        acc = ((torch.as_tensor(prob(X)) > 0.5).long() == t).float().mean().item()
    im = ax.contourf(g1, g2, p, levels=torch.linspace(0, 1, 11).tolist(), cmap="RdBu_r", alpha=0.6, vmin=0, vmax=1)
    if p.min() < 0.5 < p.max():
        ax.contour(g1, g2, p, levels=[0.5], colors="k", linewidths=2.5)
    for c, marker in ((0, "o"), (1, "s")):
        ax.scatter(*X[t == c].T, c=CLASS_COLORS[c], marker=marker, s=45, edgecolors="white", linewidths=0.8,
                   label=f"class {c}", zorder=3)
    ax.set(xlim=lim, ylim=lim, xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    ax.grid(False)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="y (neuron output)")
    return acc


def draw_neuron(ax, weights=("w_1", "w_2", "w_3"), bias="b", f="f"):
    """The picture of y = f(Σ wᵢxᵢ + b): inputs on the left, weighted arrows, the sum and the activation."""
    from matplotlib.patches import Circle

    n = len(weights)
    ys = [(n - 1) / 2 - i for i in range(n)]
    ax.add_patch(Circle((3, 0), 0.75, fc="#ffe9c6", ec="k", lw=2))
    ax.text(3, 0, rf"$\Sigma \;|\; {f}$", ha="center", va="center", fontsize=22)
    for i, (y, w) in enumerate(zip(ys, weights)):
        ax.add_patch(Circle((0, y), 0.35, fc="#dbe9f6", ec="k", lw=1.5))
        ax.text(0, y, f"$x_{i + 1}$", ha="center", va="center", fontsize=18)
        ax.annotate("", xy=(2.27, 0.25 * y), xytext=(0.35, y), arrowprops=dict(arrowstyle="-|>", lw=2, color="k"))
        ax.text(1.3, 0.62 * y + 0.18, f"${w}$", ha="center", fontsize=18, color="#d62728")
    ax.annotate("", xy=(3, -0.75), xytext=(3, -1.9), arrowprops=dict(arrowstyle="-|>", lw=2, color="k"))
    ax.text(3.15, -1.7, f"${bias}$", fontsize=18, color="#d62728")
    ax.annotate("", xy=(5.2, 0), xytext=(3.75, 0), arrowprops=dict(arrowstyle="-|>", lw=2, color="k"))
    ax.text(5.35, 0, "$y$", va="center", fontsize=20)
    ax.set(xlim=(-0.6, 5.9), ylim=(-2.1, max(ys) + 0.6), aspect="equal")
    ax.axis("off")


def draw_graph(root, ax=None, grads: bool = True):
    """Draw the computational graph of an autograd Value (lmutils.engine, or any class with data, grad, label, _op,
    _prev
    and topological_order()): one box per
    Value with its label (or operation), its data and, if grads, its grad; arrows go from inputs to outputs.
    Columns are depths: leaves on the left, the root on the right."""
    if ax is None:
        ax = plt.figure(figsize=(12, 5)).add_subplot()
    order = root.topological_order()
    consumers = {v: [] for v in order}
    for v in order:
        for c in v._prev:
            consumers[c].append(v)
    depth = {}
    for v in order:  # longest path from a leaf: the root's column
        depth[v] = 1 + max((depth[c] for c in v._prev), default=-1)
    col = {}
    for v in reversed(order):  # every other Value just left of its first consumer
        col[v] = depth[v] if v is root else min(col[p] for p in consumers[v]) - 1
    pos = {}
    for x in range(col[root], min(col.values()) - 1, -1):  # right to left: rows follow the consumers' rows
        want = {v: sum(pos[p][1] for p in consumers[v]) / max(len(consumers[v]), 1) for v in order if col[v] == x}
        here = sorted(want, key=want.get, reverse=True)
        ys = []
        for v in here:  # as close to the consumers' row as possible, one row apart at least
            ys.append(min(want[v], ys[-1] - 1) if ys else want[v])
        shift = sum(want[v] - y for v, y in zip(here, ys)) / len(ys)
        pos.update({v: (x, y + shift) for v, y in zip(here, ys)})
    boxes = {}
    for v, (x, y) in pos.items():
        name = f"{v.label} = {v._op}" if v.label and v._op else v.label or v._op
        text = "\n".join(filter(None, [name, f"data {v.data:.4g}", f"grad {v.grad:.4g}" if grads else ""]))
        color = "#dbe9f6" if not v._prev else ("#ffe9c6" if v is root else "#eeeeee")
        boxes[v] = ax.text(x, y, text, ha="center", va="center", fontsize=12, family="monospace",
                           bbox=dict(boxstyle="round,pad=0.4", fc=color, ec="k"))
    for v in order:
        for c in set(v._prev):
            ax.annotate("", xy=(0, 0.5), xycoords=boxes[v], xytext=(1, 0.5), textcoords=boxes[c],
                        arrowprops=dict(arrowstyle="-|>", lw=1.5, color="#555555", shrinkA=2, shrinkB=2))
    ys = [y for _, y in pos.values()]
    ax.set(xlim=(min(col.values()) - 0.6, col[root] + 0.6), ylim=(min(ys) - 0.6, max(ys) + 0.6))
    ax.axis("off")
    return ax



def attention_heatmap(ax, weights, keys=None, queries=None, title: str = "", annotate: bool | None = None,
                      cmap: str = "Blues", vmax: float | None = 1.0):
    """Draw attention weights (T_q, T_k) on ax: rows are queries, columns are keys; token labels optional.
    annotate writes each weight in its cell (default: when the matrix is at most 10 × 10)."""
    import torch

    w = torch.as_tensor(weights).detach().float().cpu()
    T_q, T_k = w.shape
    im = ax.imshow(w, cmap=cmap, vmin=0.0, vmax=vmax)
    ax.grid(False)
    ax.set_xticks(range(T_k), keys if keys is not None else range(T_k), rotation=90 if keys is not None else 0)
    ax.set_yticks(range(T_q), queries if queries is not None else (keys if keys is not None else range(T_q)))
    ax.set_xlabel("key (looked at)")
    ax.set_ylabel("query (looking)")
    ax.set_title(title)
    if annotate is None:
        annotate = max(T_q, T_k) <= 10
    if annotate:
        top = vmax if vmax is not None else w.max().item()
        for i in range(T_q):
            for j in range(T_k):
                if w[i, j] >= 0.005:
                    ax.text(j, i, f"{w[i, j]:.2f}".lstrip("0"), ha="center", va="center", fontsize=9,
                            color="white" if w[i, j] > 0.6 * top else "black")
    return im


# --- notebooks 04-05: the unrolled recurrent network, values over characters ------------------------

def draw_unrolled(ax, steps: int = 4, lstm: bool = False, grads=None):
    """The recurrent network unrolled over `steps` time steps: inputs x_t at the bottom, states h_t above
    them and outputs y_t on top; every step reuses the same weights. lstm=True draws the LSTM's two paths
    instead: h_t and, above it, the cell state C_t, carried on by C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t.
    grads (one number per step, e.g. ‖∂L/∂h_t‖) draws backpropagation through time: red arrows from the
    loss at the last step back along the recurrence (the C path for an LSTM), as thick as the gradient."""
    from matplotlib.patches import FancyBboxPatch

    def node(x, y, text, color):
        ax.add_patch(FancyBboxPatch((x - 0.42, y - 0.3), 0.84, 0.6, boxstyle="round,pad=0.05", fc=color, ec="k",
                                    lw=1.5))
        ax.text(x, y, text, ha="center", va="center", fontsize=16)

    def arrow(a, b, label="", color="k", lw=1.8, side=0.12, style="-|>"):
        ax.annotate("", xy=b, xytext=a, arrowprops=dict(arrowstyle=style, lw=lw, color=color, shrinkA=0, shrinkB=0))
        if label:
            ax.text((a[0] + b[0]) / 2 + side, (a[1] + b[1]) / 2 + 0.08, label, fontsize=12, color="#555555")

    y_h, y_top = 1.6, 2.9  # y_top: the outputs y_t, or the cell states C_t of an LSTM
    for t in range(1, steps + 1):
        x = 2.0 * t
        node(x, 0, f"$x_{t}$", "#dbe9f6"), node(x, y_h, f"$h_{t}$", "#ffe9c6")
        arrow((x, 0.35), (x, y_h - 0.35), "" if lstm else "$W_{xh}$")
        arrow((x - 1.58, y_h), (x - 0.47, y_h), "" if lstm else "$W_{hh}$", side=-0.3)
        if lstm:
            node(x, y_top, f"$C_{t}$", "#f2d7ee")
            arrow((x, y_h + 0.35), (x, y_top - 0.35), style="<|-|>")
            arrow((x - 1.58, y_top), (x - 0.47, y_top), rf"$\odot f_{t} +$", color="#9b3d8c", lw=2.5, side=-0.45)
        else:
            node(x, y_top, f"$y_{t}$", "#d9f0d3")
            arrow((x, y_h + 0.35), (x, y_top - 0.35), "$W_{hy}$")
    node(0, y_h, "$h_0$", "#eeeeee")
    if lstm:
        node(0, y_top, "$C_0$", "#eeeeee")
    if grads is not None:
        g = [float(v) for v in grads]
        if len(g) != steps:
            raise ValueError(f"grads must have one number per step ({steps}), got {len(g)}")
        top, y_g = max(g) or 1.0, (y_top + 0.45 if lstm else y_h + 0.42)
        x_T = 2.0 * steps
        ax.text(x_T + 1.0, y_top, "$L$", fontsize=20, color="#d62728", va="center")
        arrow((x_T + 0.9, y_top), (x_T + 0.47, y_top), color="#d62728")
        for k in range(steps - 1, 0, -1):  # from step k+1 back to step k
            x = 2.0 * (k + 1)
            arrow((x - 0.47, y_g), (x - 1.55, y_g), color="#d62728", lw=0.5 + 6 * g[k - 1] / top)
    ax.set(xlim=(-0.7, 2.0 * steps + (1.5 if grads is not None else 0.7)), ylim=(-0.6, y_top + 0.7), aspect="equal")
    ax.axis("off")
    return ax


def text_heatmap(ax, text: str, values, width: int = 60, cmap: str = "RdBu_r", vmin: float = -1.0,
                 vmax: float = 1.0, fontsize: int = 11):
    """Each character of text in its own cell, coloured by its value (one value per character): how a
    hidden unit, a gate or an attention weight behaves along a passage. Newlines show as ↵ and start a
    new row. Returns the image (for a colour bar)."""
    import numpy as np

    values = np.asarray(getattr(values, "detach", lambda: values)(), dtype=float).reshape(-1)
    if len(values) != len(text):
        raise ValueError(f"need one value per character: {len(text)} characters, {len(values)} values")
    rows, row, pos = [], [], []
    for k, ch in enumerate(text):
        row.append(k)
        if ch == "\n" or len(row) == width:
            rows.append(row)
            row = []
    rows += [row] if row else []
    grid = np.full((len(rows), width), np.nan)
    for r, ks in enumerate(rows):
        grid[r, :len(ks)] = values[ks]
        pos += [(r, c, k) for c, k in enumerate(ks)]
    im = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    for r, c, k in pos:
        ch = {"\n": "↵", " ": "·"}.get(text[k], text[k])
        ax.text(c, r, ch, ha="center", va="center", fontsize=fontsize, family="monospace",
                color="#999999" if ch in "↵·" else "black")
    ax.set(xticks=[], yticks=[])
    ax.grid(False)
    return im


# --- notebook 03: from text to tensors ---------------------------------------------------------------

def show_char(ch: str) -> str:
    """A character as it can be seen on a plot: space as ·, newline as ↵ (as text_heatmap does)."""
    return {"\n": "↵", " ": "·"}.get(ch, ch)


def draw_pipeline(ax, steps):
    """A pipeline as boxes from left to right with arrows between them; steps: [(title, example text)]."""
    for i, (title, example) in enumerate(steps):
        ax.text(i, 0.8, title, ha="center", va="bottom", fontsize=14, weight="bold")
        ax.text(i, 0.72, example, ha="center", va="top", fontsize=11, family="monospace", linespacing=1.4,
                bbox=dict(boxstyle="round,pad=0.5", fc="#dbe9f6" if i % 2 == 0 else "#ffe9c6", ec="k"))
        if i:
            ax.annotate("", xy=(i - 0.44, 0.84), xytext=(i - 0.56, 0.84),
                        arrowprops=dict(arrowstyle="-|>", lw=2.5, color="k"))
    ax.set(xlim=(-0.5, len(steps) - 0.5), ylim=(0.4, 0.95))
    ax.axis("off")
    return ax


def draw_shift(ax, x: str, y: str):
    """Inputs x on the bottom row and targets y on the top row, one arrow per position: at step t the
    model has read x_1 … x_t and must predict y_t, which is x_{t+1} (dotted lines)."""
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    for t, (a, b) in enumerate(zip(x, y)):
        for row, ch, color in ((0, a, "#dbe9f6"), (1.6, b, "#d9f0d3")):
            ax.text(t, row, show_char(ch), ha="center", va="center", fontsize=16, family="monospace",
                    bbox=dict(boxstyle="round,pad=0.35", fc=color, ec="k"))
        ax.annotate("", xy=(t, 1.3), xytext=(t, 0.3), arrowprops=dict(arrowstyle="-|>", lw=1.8, color="k"))
        if t + 1 < len(x):
            ax.plot([t + 0.12, t + 0.88], [1.35, 0.25], ls=":", color="#999999", lw=1.5)
    ax.text(-0.8, 0, "x (input)", ha="right", va="center", fontsize=14)
    ax.text(-0.8, 1.6, "y (target)", ha="right", va="center", fontsize=14)
    ax.set(xlim=(-2.6, len(x) - 0.4), ylim=(-0.5, 2.1))
    ax.axis("off")
    return ax


# --- notebook 08: fp16 gradient scaling, data-parallel training -----------------------------------

def fp16_regions(ax, grads, scale: float = 1.0):
    """Histogram of log10(scale · |g|) for gradients g, over fp16's regions: flushed to 0, subnormal (less
    precise), normal, overflow. Returns a caption with the share of gradients in each."""
    import torch

    g = torch.as_tensor(grads).detach().float().abs().flatten()
    g = g[g > 0]
    fi = torch.finfo(torch.float16)
    scaled = (g.double() * scale).log10()
    half = (g * scale).half()
    zero, over = (half == 0).float().mean().item(), half.isinf().float().mean().item()
    sub = ((half != 0) & (half.abs() < fi.tiny)).float().mean().item()
    lo, hi = -12, 8
    ax.axvspan(lo, math.log10(2.0 ** -24), color="#7f7f7f", alpha=0.35, label="becomes 0", zorder=0)
    ax.axvspan(math.log10(2.0 ** -24), math.log10(fi.tiny), facecolor="none", hatch="//", edgecolor="#7f7f7f",
               label="subnormal: imprecise", zorder=0)
    ax.axvspan(math.log10(fi.max), hi, color="#d62728", alpha=0.25, label="overflow: inf", zorder=0)
    ax.hist(scaled.clamp(lo, hi).numpy(), bins=120, range=(lo, hi), color="#1f77b4", alpha=0.9, zorder=2)
    ax.set(xlim=(lo, hi), xlabel="log₁₀ of S × |gradient|", ylabel="count", yticks=[],
           title=f"activation gradients × S, S = {scale:,.0f}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=11)
    return f"S = {scale:,.0f}: {zero:.1%} become 0, {sub:.1%} subnormal, {over:.1%} overflow"


def draw_data_parallel(ax, n: int = 3):
    """Data-parallel training: n processes, each a model copy on its own batch; their gradients are averaged
    (all-reduce) and every copy takes the same step."""
    def box(x, y, text, color):
        ax.text(x, y, text, ha="center", va="center", fontsize=12, bbox=dict(boxstyle="round,pad=0.5", fc=color,
                ec="k"), zorder=3)

    def arrow(x0, y0, x1, y1):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="-|>", lw=1.8, color="#555555"))

    xs = [2.6 * i for i in range(n)]
    for i, x in enumerate(xs):
        box(x, 3.2, f"batch {i}\n(own random windows)", "#dbe9f6")
        box(x, 1.9, f"GPU {i}: model copy\nforward + backward", "#ffe9c6")
        arrow(x, 2.85, x, 2.3)
        arrow(x, 1.5, x, 0.75)
        ax.text(x + 0.1, 1.1, f"$g_{i}$", fontsize=15)
    ax.text((xs[0] + xs[-1]) / 2, 0.4, r"all-reduce: every GPU gets $\bar g = \frac{1}{N}\sum_i g_i$"
            "\nthen each takes the same AdamW step: the copies stay identical", ha="center", va="center",
            fontsize=13, bbox=dict(boxstyle="round,pad=0.5", fc="#e5f5e0", ec="k"))
    ax.set(xlim=(xs[0] - 1.4, xs[-1] + 1.4), ylim=(-0.3, 3.9))
    ax.axis("off")
    return ax
