"""Interactive figures that work the same in JupyterLab, Colab and under nbval.

A slider callback that prints or calls plt.show() writes into an Output widget, which only a live front
end can route; nbval and static viewers see stray output. Here every redraw renders the figure to a PNG
inside an Image widget instead, so the notebook's saved output is stable and the widget stays live.
The widget is displayed together with a PNG of its current picture: a live notebook shows the widget, and
anything without a kernel (a saved notebook reopened, GitHub, nbviewer, a PDF, the slides) shows the picture.
"""

import base64
import html
import io
import re

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

from .i18n import N_, translate

# The notebooks' slider labels, translated where a slider shows them (symbols alone, "w", "α", stay as they are)
LABELS = (N_("added to b_f"), N_("bias b"), N_("causal mask"), N_("gate"), N_("learning rate η"), N_("merges"),
          N_("order n"), N_("position weight λ"), N_("query word"), N_("sequence length T"),
          N_("spectral radius ρ of W_hh"), N_("steps"), N_("temperature τ"), N_("top-k (0 = off)"), N_("top-p"),
          N_("unit"), N_("weight w"))


class FigureWidget(widgets.VBox):
    """Controls above a figure that redraws when any control changes.

    draw(fig, **values) draws on a fresh matplotlib figure and may return a short text (HTML allowed)
    shown under the picture, e.g. the current loss.
    """

    def __init__(self, draw, controls: dict, figsize=(8, 4.5), title: str = "figure"):
        self.draw, self.controls, self.figsize, self.title = draw, controls, figsize, title
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="auto", max_width="100%"))
        self.caption = widgets.HTML()
        for c in controls.values():
            c.description = translate(c.description)  # a label the notebook gave (LABELS: the translated ones)
            c.observe(self.redraw, names="value")
        super().__init__([widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap")),
                          self.image, self.caption])
        self.redraw()

    def values(self) -> dict:
        return {name: c.value for name, c in self.controls.items()}

    def render(self, **overrides):
        """Draw with the current control values (or overrides) and return the figure, still open."""
        fig = plt.figure(figsize=self.figsize)
        text = self.draw(fig, **{**self.values(), **overrides})
        return fig, text

    def redraw(self, change=None) -> None:
        fig, text = self.render()
        self.image.value = png(fig)
        self.caption.value = text or ""

    def snapshot(self) -> bytes:
        """A PNG of the current picture with the caption written under it: what a saved notebook shows."""
        fig, text = self.render()
        if text:
            plain = html.unescape(re.sub(r"<[^>]+>", "", text))
            fig.text(0.5, 0, plain, ha="center", va="top", fontsize=12,
                     family="monospace" if "<pre>" in text else None)
        return png(fig)

    def __repr__(self) -> str:  # what static viewers and nbval see instead of the widget
        return f"<interactive {self.title}: {', '.join(self.controls)}>"


def interactive_figure(draw, figsize=(8, 4.5), title: str = "figure", **controls) -> None:
    """Show a live figure with controls; saved outputs keep a picture of it (see the module's docstring).

        interactive_figure(draw, w=slider(1.0, -3.0, 3.0, description="w"), b=slider(...))
    """
    w = FigureWidget(draw, controls, figsize=figsize, title=title)
    bundle = {
        "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0, "model_id": w.model_id},
        "image/png": base64.b64encode(w.snapshot()).decode("ascii"),
        "text/plain": repr(w),
    }
    display(bundle, raw=True)


def png(fig) -> bytes:
    """Render a figure to PNG bytes and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def slider(value, lo, hi, step=None, description=None, log=False, **kwargs):
    """A float or int slider with sensible defaults; log=True gives a log-scale slider (base 10)."""
    style = {"description_width": "initial"}
    layout = widgets.Layout(width="320px")
    common = dict(description=translate(description or ""), continuous_update=False, style=style, layout=layout,
                  **kwargs)
    if log:
        import math
        return widgets.FloatLogSlider(value=value, base=10, min=math.log10(lo), max=math.log10(hi),
                                      step=step or 0.1, **common)
    if all(isinstance(v, int) for v in (value, lo, hi)) and (step is None or isinstance(step, int)):
        return widgets.IntSlider(value=value, min=lo, max=hi, step=step or 1, **common)
    return widgets.FloatSlider(value=value, min=lo, max=hi, step=step or (hi - lo) / 100, **common)
