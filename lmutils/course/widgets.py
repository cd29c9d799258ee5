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


class ChatWidget(widgets.VBox):
    """Talk to a chat model: a text box and a send button, the conversation so far, and the sampling settings
    (temperature, top-k, the longest answer, whether the model sees earlier turns) as controls.

    chat is an lmutils.chat.Chat (anything with reply(text), turns, stopped and those settings as attributes).
    """

    def __init__(self, chat, title: str = "chat"):
        self.chat, self.title = chat, title
        self.temperature = slider(chat.temperature, 0.1, 2.0, 0.1, "temperature")
        self.top_k = slider(chat.top_k or 0, 0, 20, 1, "top-k (0: off)")
        self.max_new_tokens = slider(chat.max_new_tokens, 8, 120, 4, "longest answer")
        self.memory = widgets.Checkbox(value=bool(chat.memory is None or chat.memory), description="see earlier turns")
        self.box = widgets.Textarea(placeholder="Who speaks this line?\nThe dukedom yet unbow'd--alas, poor Milan!--",
                                    layout=widgets.Layout(width="520px", height="64px"))
        self.send = widgets.Button(description="send", button_style="primary")
        self.clear = widgets.Button(description="start again")
        self.send.on_click(lambda _: self.say(self.box.value))
        self.clear.on_click(lambda _: self.restart())
        self.conversation = widgets.HTML()
        controls = widgets.HBox([self.temperature, self.top_k, self.max_new_tokens, self.memory],
                                layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([controls, self.conversation, widgets.HBox([self.box, self.send, self.clear])])
        self.show()

    def say(self, text: str) -> str | None:
        """Send text as the user's turn (with the current settings); returns the answer."""
        text = text.strip("\n")
        if not text:
            return None
        c = self.chat
        c.temperature, c.top_k = self.temperature.value, self.top_k.value or None
        c.max_new_tokens, c.memory = self.max_new_tokens.value, None if self.memory.value else 0
        try:
            answer = c.reply(text)
        except ValueError as err:
            self.conversation.value += f"<p style='color:#d62728'>{html.escape(str(err))}</p>"
            return None
        self.box.value = ""
        self.show()
        return answer

    def restart(self) -> None:
        self.chat.turns.clear()
        self.chat.stopped.clear()
        self.chat._ids.clear()
        self.show()

    def show(self) -> None:
        rows = []
        for (q, a), stopped in zip(self.chat.turns, self.chat.stopped):
            end = "" if stopped else " <i>(no end marker: cut at the longest answer)</i>"
            rows.append(f"<div style='margin:4px 0'><b>you</b>: <pre style='display:inline'>{html.escape(q)}</pre>"
                        f"</div><div style='margin:4px 0 10px 24px;color:#1f77b4'><b>model</b>: "
                        f"<pre style='display:inline'>{html.escape(a)}</pre>{end}</div>")
        self.conversation.value = "".join(rows) or "<i>no conversation yet</i>"

    def snapshot(self) -> bytes:
        """A PNG of the conversation so far: what a saved notebook shows."""
        return png(draw_conversation(self.chat.turns, self.chat.stopped, title=self.title))

    def __repr__(self) -> str:
        return f"<chat {self.title}: {len(self.chat.turns)} turns>"


def draw_conversation(turns, stopped=None, title: str = "", width: int = 64):
    """A conversation as a picture: the user's turns on the left, the model's on the right, in monospace."""
    import textwrap

    stopped = stopped or [True] * len(turns)
    blocks = []
    for (q, a), ok in zip(turns, stopped):
        blocks.append(("you", "\n".join(textwrap.fill(line, width) or " " for line in q.split("\n"))))
        blocks.append(("model", "\n".join(textwrap.fill(line, width) or " " for line in a.split("\n"))
                       + ("" if ok else "  (no end marker)")))
    n_lines = sum(text.count("\n") + 2 for _, text in blocks) + 1
    fig = plt.figure(figsize=(9, 0.26 * n_lines + 0.6))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_axis_off()
    y = 1 - 0.3 / (0.26 * n_lines + 0.6)
    step = 1 / n_lines * 0.95
    if title:
        ax.text(0.5, y, title, ha="center", va="top", fontsize=13, weight="bold")
        y -= step
    for who, text in blocks:
        color, x = ("#333333", 0.03) if who == "you" else ("#1f77b4", 0.12)
        ax.text(x, y, f"{who}:", ha="left", va="top", fontsize=11, weight="bold", color=color)
        ax.text(x + 0.08, y, text, ha="left", va="top", fontsize=11, family="monospace", color=color,
                bbox=dict(boxstyle="round,pad=0.3", fc="#f4f4f4" if who == "you" else "#e8f1fa", ec="none"))
        y -= step * (text.count("\n") + 2)
    return fig


def chat_widget(chat, examples=(), title: str = "chat") -> ChatWidget:
    """Show a ChatWidget; examples (user texts) are sent first, so that the saved picture shows a conversation."""
    w = ChatWidget(chat, title=title)
    for text in examples:
        w.say(text)
    bundle = {
        "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0, "model_id": w.model_id},
        "image/png": base64.b64encode(w.snapshot()).decode("ascii"),
        "text/plain": repr(w),
    }
    display(bundle, raw=True)
    return w
