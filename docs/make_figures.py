"""Regenerate the example figures shown in the documentation.

Runs each plotting script of ``examples/`` with ``--out docs/images``. The released
weights are read from ``SKLEARN_ASTROMER_HOME`` (set it to a folder holding the official
archives to work offline) and the CRTS light curves from ``../shared/data`` when present.

Run from anywhere::

    python docs/make_figures.py
"""

import importlib.util
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = Path(__file__).resolve().parent / "images"
SCRIPTS = ["plot_embeddings.py", "plot_reconstruction.py", "plot_anomaly.py"]


def run(script):
    """Import an example script from its path and run its ``main``."""
    spec = importlib.util.spec_from_file_location(script[:-3], ROOT / "examples" / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(["--out", str(IMAGES)])


if __name__ == "__main__":
    for script in SCRIPTS:
        tic = time.perf_counter()
        path = run(script)
        print(f"{script}: {path.relative_to(ROOT)} in {time.perf_counter() - tic:.0f} s")
