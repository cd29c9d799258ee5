"""What fit() shows while it trains: reporters.

fit() calls its reporter at a few moments (start, every log, every evaluation, a message, the end, and close
after the end or an error) and knows nothing about how they are shown. A Reporter shows nothing; Printer prints
the evaluation lines (fit's default); ProgressBar adds a bar above them; lmutils.course.plot.LivePlot draws the
losses in a notebook. Give fit a list to have several:

    fit(model, train_ids, val_ids, cfg, report=Reporter())                         # silent
    fit(model, train_ids, val_ids, cfg, report=[ProgressBar("GPT"), LivePlot("GPT")])
"""

import sys

from tqdm.auto import tqdm

from .speed import format_mfu


class Reporter:
    """A reporter that shows nothing. Subclasses override what they show."""

    def start(self, history, step: int, max_iters: int) -> None:
        """Before the first step; step > 0 for a resumed run, whose history holds the losses so far."""

    def logged(self, step: int, loss: float, figures: dict) -> None:
        """Every log_interval steps: the mean training loss since the last log; figures: the bar's short texts
        (loss, tokens/s and, where known, MFU)."""

    def evaluated(self, step: int, train_loss: float, val_loss: float, speed: str | None) -> None:
        """Every eval_interval steps: the loss estimates on both splits; speed: tokens/s and MFU since the last
        evaluation ('41,000 tokens/s | MFU 35.2%'), None at the first."""

    def say(self, text: str) -> None:
        """A message: resumed from a checkpoint, nothing to train, a warning."""

    def end(self, history, steps: int) -> None:
        """After training: steps trained in this run (0: there was nothing to train)."""

    def close(self) -> None:
        """Last, after the end or an error: close what was opened (a progress bar, a figure)."""


class Reporters(Reporter):
    """Several reporters as one: each call goes to each of them, in order."""

    def __init__(self, reporters):
        self.reporters = list(reporters)

    def start(self, *args):
        for r in self.reporters:
            r.start(*args)

    def logged(self, *args):
        for r in self.reporters:
            r.logged(*args)

    def evaluated(self, *args):
        for r in self.reporters:
            r.evaluated(*args)

    def say(self, text):
        for r in self.reporters:
            r.say(text)

    def end(self, *args):
        for r in self.reporters:
            r.end(*args)

    def close(self):
        for r in self.reporters:
            r.close()


def reporter(report) -> Reporter:
    """fit()'s report argument as one Reporter: None is a Printer, a list or tuple becomes Reporters."""
    if report is None:
        return Printer()
    return Reporters(report) if isinstance(report, (list, tuple)) else report


class Printer(Reporter):
    """Prints the messages, a line per evaluation and, at the end, the steps, seconds and tokens/s of the run.
    speed=True adds tokens/s and MFU to the evaluation lines."""

    def __init__(self, speed: bool = False):
        self.speed = speed

    def start(self, history, step, max_iters):
        self.first_step, self.seconds, self.tokens = step, history.seconds, history.tokens

    def print(self, text: str) -> None:
        tqdm.write(text, file=sys.stdout)  # below a progress bar, if there is one

    def say(self, text):
        self.print(text)

    def evaluated(self, step, train_loss, val_loss, speed):
        line = f"step {step:5d} | train loss {train_loss:.4f} | val loss {val_loss:.4f}"
        self.print(line + (f" | {speed}" if self.speed and speed else ""))

    def end(self, history, steps):
        if not steps:
            return
        seconds, tokens = history.seconds - self.seconds, history.tokens - self.tokens
        extra = f", {format_mfu(history.mfu)}" if self.speed or history.mfu is not None else ""
        done = f"{steps} steps" + (f" in this run ({self.first_step + steps} in all)" if self.first_step else "")
        self.print(f"trained {done} in {seconds:.1f} s ({tokens / seconds if seconds else 0:,.0f} tokens/s{extra})")


class ProgressBar(Printer):
    """A progress bar (tqdm: a widget in a notebook, a line in a terminal) with the Printer's lines below it;
    lines=False: the bar alone."""

    def __init__(self, title: str = "training", lines: bool = True, speed: bool = False):
        super().__init__(speed)
        self.title, self.lines, self.bar = title, lines, None

    def start(self, history, step, max_iters):
        super().start(history, step, max_iters)
        # one refresh a second: in a notebook each refresh is a few messages to the browser, and a minute of
        # training at ten a second (tqdm's default) can overflow the kernel's output queue of a client that reads
        # it only at the end (nbval, in the tests), which then loses the cell's last messages
        self.bar = tqdm(total=max_iters, initial=step, desc=self.title, unit="step", file=sys.stdout,
                        mininterval=1.0)

    def print(self, text):
        if self.lines:
            super().print(text)

    def logged(self, step, loss, figures):
        self.bar.update(step - self.bar.n)
        self.bar.set_postfix(figures)

    def end(self, history, steps):
        self.close()  # the bar first: the summary line goes below it
        super().end(history, steps)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
