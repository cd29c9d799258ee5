import base64

import ipywidgets as widgets
import matplotlib

from lmutils.course.widgets import FigureWidget, interactive_figure, slider

matplotlib.use("Agg")
PNG = b"\x89PNG"


def draw(fig, a, b=1):
    ax = fig.add_subplot()
    ax.plot([0, 1], [b, a + b])
    return f"a = {a}"


def test_figure_widget_renders_and_redraws():
    a = slider(2.0, -5.0, 5.0, description="a")
    w = FigureWidget(draw, {"a": a}, title="line")
    first = bytes(w.image.value)
    assert first.startswith(PNG) and w.caption.value == "a = 2.0"
    a.value = -1.0
    assert bytes(w.image.value).startswith(PNG) and bytes(w.image.value) != first
    assert w.caption.value == "a = -1.0"
    assert repr(w) == "<interactive line: a>"


def test_interactive_figure_displays_widget_with_a_saved_picture(monkeypatch):
    shown = []
    monkeypatch.setattr("lmutils.course.widgets.display", lambda obj, raw=False: shown.append((obj, raw)))
    assert interactive_figure(draw, title="t", a=slider(1, 0, 3), b=slider(0.5, 0.0, 1.0)) is None
    (bundle, raw), = shown
    assert raw and bundle["text/plain"] == "<interactive t: a, b>"
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["version_major"] == 2 and len(view["model_id"]) == 32
    assert base64.b64decode(bundle["image/png"]).startswith(PNG)


def test_snapshot_writes_the_caption_into_the_picture():
    w = FigureWidget(draw, {"a": slider(2.0, -5.0, 5.0)}, title="line")
    with_caption = w.snapshot()
    w.draw = lambda fig, **v: draw(fig, **v) and None  # same picture, no caption
    assert with_caption.startswith(PNG) and with_caption != w.snapshot()


def test_slider_kinds():
    assert isinstance(slider(3, 0, 10), widgets.IntSlider)
    assert isinstance(slider(0.5, 0.0, 1.0), widgets.FloatSlider)
    log = slider(0.01, 1e-4, 1.0, log=True)
    assert isinstance(log, widgets.FloatLogSlider) and log.min == -4 and log.max == 0


class _Chat:  # what ChatWidget needs of lmutils.chat.Chat
    def __init__(self):
        self.temperature, self.top_k, self.max_new_tokens, self.memory = 0.8, None, 40, 0
        self.turns, self.stopped, self._ids, self.seen = [], [], [], []

    def reply(self, text):
        if "!" in text:
            raise ValueError("'!' is not in the vocabulary")
        self.seen.append((self.temperature, self.top_k, self.max_new_tokens, self.memory))
        self.turns.append((text, text.upper()))
        self.stopped.append(len(text) < 5)
        return text.upper()


def test_chat_widget_sends_with_the_current_settings_and_shows_the_conversation(monkeypatch):
    from lmutils.course.widgets import ChatWidget, chat_widget

    shown = []
    monkeypatch.setattr("lmutils.course.widgets.display", lambda obj, raw=False: shown.append(obj))
    w = chat_widget(_Chat(), examples=["ay", "to be\nor not"], title="t")
    (bundle,) = shown
    assert bundle["text/plain"] == "<chat t: 2 turns>" and base64.b64decode(bundle["image/png"]).startswith(PNG)
    assert "AY" in w.conversation.value and "no end marker" in w.conversation.value  # the second answer did not stop
    w.temperature.value, w.top_k.value, w.memory.value = 1.5, 5, True
    w.box.value = "sir"
    w.send.click()
    assert w.chat.seen[-1] == (1.5, 5, 40, None) and w.box.value == "" and "SIR" in w.conversation.value
    w.box.value = "no!"
    w.send.click()
    assert "not in the vocabulary" in w.conversation.value and w.box.value == "no!"
    w.clear.click()
    assert w.chat.turns == [] and "no conversation yet" in w.conversation.value
    assert isinstance(w, ChatWidget)
