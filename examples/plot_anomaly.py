"""Gap filling and anomaly scores from Astromer's masked reconstruction.

An :class:`~sklearn_astromer.anomaly.AstromerOutlierDetector` is fitted on light curves
of the five common Catalina (CRTS) classes (EA, EW, RRab, RRc, RS CVn): the released
``macho`` weights are fine-tuned by masked reconstruction on them, and the scores of
these ordinary objects calibrate the detector. Then:

- top: one light curve of a held-out long-period variable with a third of its
  observations hidden (every third one, one of the detector's three deterministic hide
  patterns) and the magnitudes the model predicts there from the others, and the curve
  resampled on a regular grid of new times
  (:meth:`AstromerEmbedder.reconstruct <sklearn_astromer.AstromerEmbedder.reconstruct>`
  does the same for an embedder);
- bottom: the objects the detector finds most anomalous among held-out common objects
  and objects of the file's rare classes, with their classes.

Without the CRTS file (``--data``), synthetic light curves from
:func:`~sklearn_astromer.datasets.make_light_curves` are used instead: RRab, EA, EW and
RRc stars as the ordinary ones, long-period variables and Cepheids as the rare.

Run::

    python examples/plot_anomaly.py --out figures/

The figure is written to ``anomaly.png`` in ``--out`` (default: the
``SKLEARN_ASTROMER_EXAMPLES_OUT`` environment variable, else the current folder).
"""

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sklearn_astromer._reconstruction import hide_folds, reconstruct  # noqa: E402
from sklearn_astromer.anomaly import AstromerOutlierDetector  # noqa: E402
from sklearn_astromer.datasets import load_light_curves, make_light_curves  # noqa: E402

CRTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "crts_train.parquet"
COMMON = ["EA", "EW", "RRab", "RRc", "RS_CVn"]


def load(path, n_train, n_test, seed):
    """Training curves (common classes) and test curves with labels and names."""
    rng = np.random.default_rng(seed)
    if path.is_file():
        X, y, ids = load_light_curves(path, return_ids=True)
        common = COMMON
    else:
        print(f"{path} not found: using synthetic light curves")
        common = ["RRab", "EA", "EW", "RRc"]
        X, y = make_light_curves(n_per_class=n_train + n_test,
                                 classes=common + ["LPV", "Cepheid"], random_state=seed)
        ids = [f"synthetic {k}" for k in range(len(X))]
    y = np.asarray(y)
    train, test = [], []
    for label in sorted(set(y)):
        members = rng.permutation(np.flatnonzero(y == label))
        if label in common:
            train.extend(members[:n_train])
            test.extend(members[n_train : n_train + n_test])
        else:
            test.extend(members[:n_test])
    return ([X[i] for i in train], [X[i] for i in test], y[test],
            [str(ids[i]) for i in test])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=CRTS, help="parquet file of light curves")
    parser.add_argument("--n-train", type=int, default=40,
                        help="training light curves per common class")
    parser.add_argument("--n-test", type=int, default=8, help="test light curves per class")
    parser.add_argument("--epochs", type=int, default=5, help="fine-tuning epochs")
    parser.add_argument("--weights", default="macho")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path,
                        default=Path(os.environ.get("SKLEARN_ASTROMER_EXAMPLES_OUT", ".")))
    args = parser.parse_args(argv)

    X_train, X_test, y_test, names = load(args.data, args.n_train, args.n_test, args.seed)
    detector = AstromerOutlierDetector(weights=args.weights, max_epochs=args.epochs,
                                       random_state=args.seed).fit(X_train)
    anomaly = -detector.score_samples(X_test)  # higher = more anomalous
    flagged = detector.predict(X_test) == -1

    # One held-out long-period variable (the first test curve of the slowest class),
    # its first window, and the magnitudes predicted at the observations of fold 0.
    slow = "LPV" if "LPV" in set(y_test) else y_test[-1]
    k = int(np.flatnonzero(y_test == slow)[0])
    curve = X_test[k]
    window = curve[: detector.config_.window_length]
    time, mag, err = window[:, 0], window[:, 1], window[:, 2]
    hidden = hide_folds(len(window), detector.n_patterns) == 0
    from sklearn_astromer import as_light_curves

    lc = as_light_curves([window])
    predicted = reconstruct(detector.module_, lc, hide=[hidden])[0]
    grid = np.linspace(time[0], time[-1], 300)
    resampled = reconstruct(detector.module_, lc, times=grid)[0]

    fig = plt.figure(figsize=(12, 10))
    layout = fig.add_gridspec(3, 3, height_ratios=[1.4, 1, 1])
    top = fig.add_subplot(layout[0, :])
    top.errorbar(time[~hidden], mag[~hidden], err[~hidden], fmt="o", ms=3, color="black",
                 elinewidth=0.5, label="visible to the model")
    top.errorbar(time[hidden], mag[hidden], err[hidden], fmt="o", ms=4, mfc="none",
                 color="tab:red", elinewidth=0.5, label="hidden (true magnitude)")
    rmse = np.sqrt(np.mean((predicted[hidden] - mag[hidden]) ** 2))
    top.plot(time[hidden], predicted[hidden], "x", ms=6, color="tab:red",
             label=f"predicted at the hidden observations (RMSE {rmse:.3f} mag)")
    top.plot(grid, resampled, "-", lw=0.8, color="tab:blue", alpha=0.7,
             label="predicted on a grid of 300 new times")
    top.set_title(f"{names[k]} ({slow}): {hidden.sum()} of {len(window)} observations hidden")
    top.set_xlabel("MJD (days)")
    top.set_ylabel("magnitude")
    top.invert_yaxis()
    top.legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.15))

    for rank, i in enumerate(np.argsort(-anomaly)[:6]):
        ax = fig.add_subplot(layout[1 + rank // 3, rank % 3])
        t, m = X_test[i][:, 0], X_test[i][:, 1]
        ax.plot(t, m, ".", ms=2, color="tab:red" if y_test[i] not in COMMON else "tab:blue")
        ax.invert_yaxis()
        ax.set_title(f"#{rank + 1} {y_test[i]}: anomaly {anomaly[i]:.1f}", fontsize=9)
        ax.tick_params(labelsize=7)
    rare = ~np.isin(y_test, COMMON)
    fig.suptitle(
        f"Masked reconstruction ({args.weights} weights fine-tuned {args.epochs} epochs on "
        f"{len(X_train)} common light curves); most anomalous of {len(X_test)} held-out "
        f"({rare.sum()} rare, red)", fontsize=10)
    fig.tight_layout()

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "anomaly.png"
    fig.savefig(path, dpi=100)
    top6 = np.argsort(-anomaly)[:6]
    print(f"hidden-observation RMSE {rmse:.3f} mag; {flagged.sum()} of {len(X_test)} flagged "
          f"as outliers; rare among the top 6: {rare[top6].sum()}; saved {path}")
    return path


if __name__ == "__main__":
    main()
