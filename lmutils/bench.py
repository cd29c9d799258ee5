"""`python -m lmutils.bench`: train a preset, then print a one-line summary (lmutils.run.bench_main).

    python -m lmutils.bench --preset shakespeare-char-cpu
    python -m lmutils.bench --preset shakespeare-char --max-iters 500

The line: preset, device, parameters, steps, wall time (everything: data, compilation, evaluation), training
tokens/s and MFU, the last train/validation loss estimates, the validation loss over the whole split, and peak
memory. The whole course on a GPU: python -m lmutils.course.report.
"""

import sys

from .run import bench_main

if __name__ == "__main__":
    sys.exit(bench_main())
