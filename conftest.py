"""The test suite's set-up, for the unit tests and for nbval's notebook kernels (which inherit this environment).

- The notebooks run on CPU whatever the machine has, and their recorded results are checked against
  notebooks/results/*.json within tolerance (lmutils.course.results).
- nbval skips pictures when it compares outputs; here a cell that committed a picture must still draw one.
"""

import os

os.environ["LMUTILS_DEVICE"] = "cpu"
os.environ["LMUTILS_RESULTS"] = "check"
os.environ.pop("LMUTILS_RESULTS_LOG", None)

try:
    from nbval.plugin import IPyNbCell
except ImportError:  # nbval missing: the unit tests still run
    IPyNbCell = None


def _pictures(outputs) -> int:
    return sum("image/png" in o.get("data", {}) for o in outputs)


if IPyNbCell is not None and not getattr(IPyNbCell, "_counts_pictures", False):
    _runtest = IPyNbCell.runtest

    def runtest(self):
        self.output_timeout = 60  # nbval waits 5 s between a cell's messages; a loaded machine can take longer
        _runtest(self)
        expected = _pictures(self.cell.get("outputs", []))
        drawn = _pictures(self.test_outputs or [])
        if expected and drawn < expected:
            self.raise_cell_error("Cell drew fewer pictures than committed",
                                  f"the notebook has {expected} picture(s) here, this run drew {drawn}")

    IPyNbCell.runtest = runtest
    IPyNbCell._counts_pictures = True

# The Chinese notebooks share the English ones' code and outputs (lmutils.course.zh builds them): nbval runs only
# the English ones, tests/test_zh.py checks the Chinese ones against them without executing them.
collect_ignore_glob = ["notebooks/zh/*"]
