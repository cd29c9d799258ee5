"""Plot helpers: one readable style for class, and a live loss plot for training."""

import math

import matplotlib.pyplot as plt

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


class LivePlot:
    """A loss curve that redraws in place while training runs (in a notebook), and stays as a static
    picture afterwards. Outside a notebook it draws nothing.

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

    def close(self) -> None:
        """Final redraw, then release the figure (the notebook keeps the last picture)."""
        if self.handle is not None:
            self._draw()
            self.handle.update(self.fig)
            plt.close(self.fig)
            self.handle = None


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ != "TerminalInteractiveShell"
