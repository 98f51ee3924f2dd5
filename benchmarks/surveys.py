"""Features on other cadences, and one band against two: synthetic EROS-like and ZTF-like surveys.

The real files of the project are CRTS and ASAS, both single-band; this script checks what
they cannot, on :func:`sklearn_astromer.datasets.make_multiband_light_curves` (six classes:
RRab, RRc, EA, EW, LPV, Cepheid; sparse cadences of at most one observation a night):

* the package's features (:class:`sklearn_astromer.features.LightCurveFeatures`) against
  the plain light-curve feature set of ``_methods.PlainFeatures``, each with the same
  500-tree random forest, on the red band alone (run it once with the package as it is and
  once with an older version on ``PYTHONPATH``, with ``--label``, to compare versions);
* one band against two: the red band's features against both bands' and their colours
  (:class:`sklearn_astromer.multiband.MultiBandFeatures`).

For each seed a training set of ``spc`` objects per class and a test set of
``--test-per-class`` (60) per class are generated (the seed sets the survey draw; the training sets of a seed are nested), and the
macro-F1 over test objects is reported as mean +- std over seeds, as in the few-shot harness.

Example::

    python benchmarks/surveys.py --cadence eros,ztf --seeds 0,1,2 --out results/surveys.md
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _methods import PlainFeatures  # noqa: E402
from sklearn_astromer.datasets import make_multiband_light_curves  # noqa: E402
from sklearn_astromer.features import LightCurveFeatures  # noqa: E402

def _feature_sets(X, bands, n_jobs, plain):
    """Feature matrices of the objects ``X``: ``{name: (n_objects, n_features)}``.

    The package's features are computed once, by :class:`MultiBandFeatures` on both bands;
    the red band's alone are its red block, so both experiments share one extraction.
    """
    from sklearn_astromer.multiband import MultiBandFeatures

    blue, red = bands
    multiband = MultiBandFeatures(bands=bands, features=LightCurveFeatures(n_jobs=n_jobs))
    values = multiband.fit_transform(X)
    names = list(multiband.get_feature_names_out())
    red_block = [j for j, name in enumerate(names) if name.startswith(f"{red}__")]
    sets = {
        f"features, {red}": values[:, red_block],
        f"features, {blue}+{red} + colours": values,
    }
    if plain:
        sets[f"plain light-curve features, {red}"] = (
            PlainFeatures(n_jobs=n_jobs).fit_transform([curves[red] for curves in X])
        )
    return sets


def run(cadences, seeds, spcs, n_jobs, noise, label, plain, test_per_class):
    """Rows ``(cadence, method, spc, seed, macro_f1, seconds)``."""
    bands = ("B", "R")
    rows = []
    for cadence in cadences:
        for seed in seeds:
            X, y = make_multiband_light_curves(
                max(spcs) + test_per_class, bands=bands, cadence=cadence, noise=noise,
                random_state=seed,
            )
            # Per class: the first test_per_class objects test, the next ones train (nested).
            rank = np.zeros(len(y), dtype=int)
            for name in np.unique(y):
                members = np.flatnonzero(y == name)
                rank[members] = np.arange(members.size)
            test = np.flatnonzero(rank < test_per_class)
            start = time.perf_counter()
            sets = _feature_sets(X, bands, n_jobs, plain)
            extract = time.perf_counter() - start
            for name, values in sets.items():
                if label and not name.startswith("plain"):
                    name = f"{name} ({label})"
                for spc in spcs:
                    train = np.flatnonzero((rank >= test_per_class) & (rank < test_per_class + spc))
                    model = make_pipeline(
                        SimpleImputer(strategy="median", keep_empty_features=True),
                        RandomForestClassifier(n_estimators=500, n_jobs=n_jobs, random_state=seed),
                    )
                    model.fit(values[train], y[train])
                    score = f1_score(y[test], model.predict(values[test]), average="macro")
                    rows.append((cadence, name, spc, seed, 100 * score, extract))
                    print(f"{cadence:5s} {name:45s} spc={spc:<4d} seed={seed} "
                          f"macro-F1 {100 * score:5.1f}  ({extract:.0f} s features)", flush=True)
    return rows


def table(rows, spcs):
    """Markdown table: mean +- std over seeds, one row per (cadence, method)."""
    lines = ["| cadence | method | " + " | ".join(f"{s} per class" for s in spcs) + " |",
             "|---|---|" + "---|" * len(spcs)]
    keys = list(dict.fromkeys((r[0], r[1]) for r in rows))
    for cadence, name in keys:
        cells = []
        for spc in spcs:
            scores = [r[4] for r in rows if (r[0], r[1], r[2]) == (cadence, name, spc)]
            cells.append(f"{np.mean(scores):.1f} ± {np.std(scores):.1f}")
        lines.append(f"| {cadence} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--label", default="", help="appended to the package's rows, e.g. before")
    parser.add_argument("--no-plain", action="store_true", help="leave out the plain features")
    parser.add_argument("--test-per-class", type=int, default=60)
    parser.add_argument("--cadence", default="eros,ztf", help="comma list of eros, ztf")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--spc", default="20,100")
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument(
        "--noise", type=float, default=0.1,
        help="1-sigma error at magnitude 15 in the red band (default 0.1: faint stars of a "
        "sparse survey, the regime where the periodogram's false peaks matter)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the table here (markdown)")
    args = parser.parse_args(argv)
    spcs = [int(s) for s in args.spc.split(",")]
    rows = run(
        args.cadence.split(","), [int(s) for s in args.seeds.split(",")], spcs, args.n_jobs,
        args.noise, args.label, not args.no_plain, args.test_per_class,
    )
    text = table(rows, spcs)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
