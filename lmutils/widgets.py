"""Interactive figures that work the same in JupyterLab, Colab and under nbval.

A slider callback that prints or calls plt.show() writes into an Output widget, which only a live front
end can route; nbval and static viewers see stray output. Here every redraw renders the figure to a PNG
inside an Image widget instead, so the notebook's saved output is stable and the widget stays live.
"""

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display


class FigureWidget(widgets.VBox):
    """Controls above a figure that redraws when any control changes.

    draw(fig, **values) draws on a fresh matplotlib figure and may return a short text (HTML allowed)
    shown under the picture, e.g. the current loss.
    """

    def __init__(self, draw, controls: dict, figsize=(8, 4.5), title: str = "figure"):
        self.draw, self.controls, self.figsize, self.title = draw, controls, figsize, title
        self.image = widgets.Image(format="png")
        self.caption = widgets.HTML()
        for c in controls.values():
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
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        plt.close(fig)
        self.image.value = buf.getvalue()
        self.caption.value = text or ""

    def __repr__(self) -> str:  # what static viewers and nbval see instead of the widget
        return f"<interactive {self.title}: {', '.join(self.controls)}>"


def interactive_figure(draw, figsize=(8, 4.5), title: str = "figure", static: bool = True, **controls) -> None:
    """Show a live figure with controls, and (static=True) the same figure as a plain picture below it,
    so GitHub, PDFs and slides still show something.

        interactive_figure(draw, w=FloatSlider(value=1, min=-3, max=3), b=FloatSlider(...))
    """
    w = FigureWidget(draw, controls, figsize=figsize, title=title)
    display(w)
    if static:
        fig, text = w.render()
        plt.show()
        if text:
            from IPython.display import HTML
            display(HTML(text))


def slider(value, lo, hi, step=None, description=None, log=False, **kwargs):
    """A float or int slider with sensible defaults; log=True gives a log-scale slider (base 10)."""
    style = {"description_width": "initial"}
    layout = widgets.Layout(width="320px")
    common = dict(description=description or "", continuous_update=False, style=style, layout=layout, **kwargs)
    if log:
        import math
        return widgets.FloatLogSlider(value=value, base=10, min=math.log10(lo), max=math.log10(hi),
                                      step=step or 0.1, **common)
    if all(isinstance(v, int) for v in (value, lo, hi)) and (step is None or isinstance(step, int)):
        return widgets.IntSlider(value=value, min=lo, max=hi, step=step or 1, **common)
    return widgets.FloatSlider(value=value, min=lo, max=hi, step=step or (hi - lo) / 100, **common)
