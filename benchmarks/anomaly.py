"""Anomaly detection and gap filling on the Catalina (CRTS) periodic variables.

Protocol (``--seeds`` draws, each seed its own split):

- **normal** objects are the five common classes (EA, EW, RRab, RRc, RS_CVn): per class,
  ``--test-per-class`` held-out test objects, then ``--train-per-class`` training objects
  from the rest;
- **anomalies** are the rare classes of the file (LPV, HADS, Cep_II, ELL, PCEB, ACEP,
  Blazhko, Hump, LADS, beta_lyrae, RRd): up to ``--rare-per-class`` of each (all of the
  smaller ones);
- every detector is fitted on the training objects alone (no labels, no rare object) and
  scores the test set: held-out common objects and the rare ones;
- metrics: ROC AUC of the anomaly score for rare against common, and the precision of the
  top 1 % (the share of rare objects among the highest-scored 1 % of the test set, at
  least one object); overall and per rare class (that class against the held-out common
  objects).

Detectors:

- ``features-iforest``, ``features-lof``: scikit-learn's ``IsolationForest`` (200 trees)
  and ``LocalOutlierFactor`` (``novelty=True``, 20 neighbours) on the package's
  hand-crafted features (:class:`~sklearn_astromer.features.LightCurveFeatures`, median
  imputed, standardised);
- ``embedding-iforest``, ``embedding-lof``: the same on the released ``macho`` encoder's
  mean-pooled embedding;
- ``astromer-<weights>[-ft]``: :class:`~sklearn_astromer.anomaly.AstromerOutlierDetector`,
  the masked-reconstruction error (3 deterministic hide patterns, residuals over the
  magnitude errors), with the weights as released or fine-tuned (``-ft``) by masked
  reconstruction for ``--epochs`` epochs; ``...+knn``: plus the distance to the 10
  nearest training embeddings; ``...-knn``: that distance alone. Fine-tuning is done once
  per run, on ``--finetune-per-class`` common objects of each class that are in no
  seed's test set (nor rare), and the folder cached; every detector is then fitted
  (calibrated) on its seed's training objects;
- ``window-mean-chi2``, ``interpolation-chi2``: the same per-object error with the
  baselines below as predictions (a reduced chi-square about the window mean, and about
  linear interpolation), which need no model.

Reconstruction: for each Astromer model, the RMSE on hidden observations of the test
objects (each hidden once under the same 3 patterns), next to two baselines under the
same patterns and windows: the mean of the window's visible observations, and linear
interpolation in time between them (the nearest one beyond the ends). Reported as the
median over objects of the per-object RMSE, for single hidden observations (``block=1``)
and for hidden runs of 4 (``block=4``, about one CRTS visit).

Usage, from the repository root (2-core CPU: a few minutes per seed and weight set)::

    nice -n 10 python benchmarks/anomaly.py --seeds 0 1 2
    nice -n 10 python benchmarks/anomaly.py --seeds 0 --weights atlas astromer2_random

Writes ``results/anomaly/results.csv`` (one row per seed, detector and class),
``reconstruction.csv``, ``table.md``, ``reconstruction.md`` and ``results.png``; a rerun
merges into them (rows of the same seed and detector are replaced).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _caching import CachedTransform  # noqa: E402
from _protocol import load_light_curves  # noqa: E402

from sklearn_astromer import AstromerEmbedder, as_light_curves  # noqa: E402
from sklearn_astromer._preprocessing import covering_windows  # noqa: E402
from sklearn_astromer._reconstruction import hide_folds, reconstruct  # noqa: E402
from sklearn_astromer.anomaly import AstromerOutlierDetector, reconstruction_errors  # noqa: E402
from sklearn_astromer.features import LightCurveFeatures  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "crts_train.parquet"
OUT = REPO / "benchmarks" / "results" / "anomaly"
CACHE = REPO / "benchmarks" / ".cache"
COMMON = ["EA", "EW", "RRab", "RRc", "RS_CVn"]
N_PATTERNS = 3
TOP_SHARE = 0.01


# ----------------------------------------------------------------------------- protocol


def split(labels, seed, train_per_class, test_per_class, rare_per_class):
    """Training and test positions of one seed (see the module docstring)."""
    rng = np.random.default_rng([seed, 14])
    train, test = [], []
    for label in sorted(set(labels)):
        members = rng.permutation(np.flatnonzero(labels == label))
        if label in COMMON:
            test.extend(members[:test_per_class])
            train.extend(members[test_per_class : test_per_class + train_per_class])
        else:
            test.extend(members[:rare_per_class])
    return np.asarray(train), np.asarray(test)


def finetune_pool(labels, seeds, test_per_class, per_class):
    """Common objects in no seed's test set (``per_class`` of each): the fine-tuning pool.

    Fine-tuning once on this pool serves every seed: it holds no test object of any seed
    and no rare object.
    """
    in_test = set()
    for seed in seeds:
        in_test.update(split(labels, seed, 0, test_per_class, 0)[1].tolist())
    rng = np.random.default_rng([14, 0])
    pool = []
    for label in COMMON:
        members = [i for i in np.flatnonzero(labels == label) if i not in in_test]
        pool.extend(rng.permutation(members)[:per_class])
    return np.asarray(pool)


def finetuned(weights, epochs, curves, device):
    """Released weights fine-tuned by masked reconstruction on ``curves``; a cached folder."""
    from _caching import light_curve_keys

    import joblib

    lc = as_light_curves(curves)
    key = joblib.hash((str(weights), epochs, light_curve_keys(lc)))[:12]
    folder = CACHE / "anomaly" / f"{Path(str(weights)).stem}-ft{epochs}-{key}"
    if not (folder / "config.json").is_file():
        tic = time.perf_counter()
        embedder = AstromerEmbedder(weights=weights, max_epochs=epochs, random_state=0,
                                    device=device, verbose=1).fit(lc)
        embedder.save(folder)
        print(f"fine-tuned {weights} for {epochs} epochs on {len(lc)} curves in "
              f"{time.perf_counter() - tic:.0f} s", flush=True)
    return folder


def precision_at_top(anomaly, is_rare, share=TOP_SHARE):
    """Share of rare objects among the ``share`` highest anomaly scores (at least one)."""
    k = max(1, math.ceil(share * len(anomaly)))
    top = np.argsort(-anomaly, kind="stable")[:k]
    return float(np.mean(is_rare[top]))


def evaluate(anomaly, labels):
    """Rows of ROC AUC and top-1 % precision: overall, then each rare class."""
    is_rare = ~np.isin(labels, COMMON)
    rows = [dict(rare_class="all", n_rare=int(is_rare.sum()),
                 roc_auc=roc_auc_score(is_rare, anomaly),
                 precision_top1=precision_at_top(anomaly, is_rare))]
    common = ~is_rare
    for label in sorted(set(labels[is_rare])):
        keep = common | (labels == label)
        rows.append(dict(rare_class=label, n_rare=int((labels == label).sum()),
                         roc_auc=roc_auc_score(labels[keep] == label, anomaly[keep]),
                         precision_top1=precision_at_top(anomaly[keep], labels[keep] == label)))
    return rows


# ------------------------------------------------------------------------ reconstruction


def baseline_predictions(lc, length, block):
    """Window-mean and linear-interpolation predictions under the detectors' hide patterns.

    Same windows (:func:`covering_windows`) and patterns (:func:`hide_folds`) as
    :func:`~sklearn_astromer._reconstruction.reconstruct`; each hidden observation is
    predicted from the visible ones of its window (mean over both windows where two
    overlap).
    """
    objects, starts = covering_windows(lc.lengths, length)
    means = [np.zeros(n) for n in lc.lengths]
    interp = [np.zeros(n) for n in lc.lengths]
    counts = [np.zeros(n) for n in lc.lengths]
    for k, start in zip(objects, starts):
        t, m, _ = lc[k]
        stop = min(start + length, len(t))
        fold = hide_folds(len(t), N_PATTERNS, block)[start:stop]
        tw, mw = t[start:stop], m[start:stop]
        for j in range(N_PATTERNS):
            hidden = fold == j
            if not hidden.any() or hidden.all():
                continue
            index = np.arange(start, stop)[hidden]
            means[k][index] += mw[~hidden].mean()
            interp[k][index] += np.interp(tw[hidden], tw[~hidden], mw[~hidden])
            counts[k][index] += 1
    return ([a / c for a, c in zip(means, counts)], [a / c for a, c in zip(interp, counts)])


def median_rmse(predictions, lc):
    """Median over objects of the RMSE of the predictions (finite ones) in magnitudes."""
    rmse = []
    for (_, m, _), p in zip(lc, predictions):
        ok = np.isfinite(p)
        rmse.append(np.sqrt(np.mean((p[ok] - m[ok]) ** 2)))
    return float(np.median(rmse))


# ----------------------------------------------------------------------------- detectors


def table_detectors(seed, features, embedding, train, test):
    """Anomaly scores of IsolationForest and LOF on a feature table (higher = more anomalous)."""
    out = {}
    for name, table in (("features", features), ("embedding", embedding)):
        for kind, detector in (
            ("iforest", IsolationForest(n_estimators=200, random_state=seed)),
            ("lof", LocalOutlierFactor(n_neighbors=20, novelty=True)),
        ):
            pipe = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                                 StandardScaler(), detector)
            tic = time.perf_counter()
            pipe.fit(table[train])
            fit_seconds = time.perf_counter() - tic
            tic = time.perf_counter()
            anomaly = -pipe.score_samples(table[test])
            out[f"{name}-{kind}"] = (anomaly, (fit_seconds, time.perf_counter() - tic))
    return out


def astromer_detector(name, weights, seed, lc_train, lc_test, device, recon_rows,
                      reconstruction=True):
    """Scores of one AstromerOutlierDetector, and its reconstruction errors (appended)."""
    tic = time.perf_counter()
    detector = AstromerOutlierDetector(
        weights=weights, max_epochs=0, n_patterns=N_PATTERNS, n_neighbors=10,
        random_state=seed, device=device,
    ).fit(lc_train)
    fit_seconds = time.perf_counter() - tic
    tic = time.perf_counter()
    predictions = reconstruct(detector.module_, lc_test, hide=N_PATTERNS,
                              device=detector.device_)
    parts = detector._parts(lc_test, reconstruction_errors(predictions, lc_test))
    score_seconds = time.perf_counter() - tic
    times = (fit_seconds, score_seconds)
    scores = {
        name: (parts["reconstruction"], times),
        f"{name}+knn": (-detector._combine(parts), times),
        f"{name}-knn": (parts["neighbors"], times),
    }
    if not reconstruction:
        return scores
    length = detector.config_.window_length
    mean_pred, interp_pred = baseline_predictions(lc_test, length, block=1)
    recon_rows.append(dict(
        seed=seed, model=name, block=1, astromer=median_rmse(predictions, lc_test),
        window_mean=median_rmse(mean_pred, lc_test),
        linear_interpolation=median_rmse(interp_pred, lc_test),
        copy=median_rmse(reconstruct(detector.module_, lc_test, device=detector.device_),
                         lc_test),
    ))
    block_pred = reconstruct(detector.module_, lc_test, hide=N_PATTERNS, block=4,
                             device=detector.device_)
    mean_pred, interp_pred = baseline_predictions(lc_test, length, block=4)
    recon_rows.append(dict(
        seed=seed, model=name, block=4, astromer=median_rmse(block_pred, lc_test),
        window_mean=median_rmse(mean_pred, lc_test),
        linear_interpolation=median_rmse(interp_pred, lc_test), copy=np.nan,
    ))
    return scores


# ---------------------------------------------------------------------------------- output


def merge(path, new, key):
    """Merge rows into a CSV: rows of ``new`` replace those with the same ``key`` values."""
    new = pd.DataFrame(new)
    if path.exists():
        old = pd.read_csv(path)
        if not len(new):
            return old
        stale = old.set_index(key).index.isin(new.set_index(key).index)
        new = pd.concat([old[~stale], new], ignore_index=True)
    if len(new):
        new.to_csv(path, index=False)
    return new


def write_tables(results, recon, out):
    summary = (results.groupby(["detector", "rare_class"])[["roc_auc", "precision_top1"]]
               .agg(["mean", "std"]))
    seeds = results.groupby("detector")["seed"].nunique()
    overall = summary.xs("all", level="rare_class").sort_values(("roc_auc", "mean"),
                                                                 ascending=False)
    classes = sorted(set(results["rare_class"]) - {"all"})
    lines = ["| detector | seeds | ROC AUC | precision top 1 % | "
             + " | ".join(classes) + " | fit s | score s |",
             "|---|---:|---:|---:|" + "---:|" * len(classes) + "---:|---:|"]
    timing = results[results.rare_class == "all"].groupby("detector")[
        ["fit_seconds", "score_seconds"]].mean()
    for detector, row in overall.iterrows():
        per_class = [f"{summary.loc[(detector, c), ('roc_auc', 'mean')]:.2f}"
                     if (detector, c) in summary.index else "" for c in classes]
        lines.append(
            f"| {detector} | {seeds[detector]} | {row[('roc_auc', 'mean')]:.3f} ± "
            f"{row[('roc_auc', 'std')]:.3f} | {row[('precision_top1', 'mean')]:.2f} ± "
            f"{row[('precision_top1', 'std')]:.2f} | " + " | ".join(per_class)
            + f" | {timing.loc[detector, 'fit_seconds']:.0f} | "
            f"{timing.loc[detector, 'score_seconds']:.0f} |"
        )
    (out / "table.md").write_text("\n".join(lines) + "\n")

    precision = summary.xs("precision_top1", axis=1, level=0)["mean"].unstack()
    lines = ["| detector | " + " | ".join(classes) + " |", "|---|" + "---:|" * len(classes)]
    for detector in overall.index:
        lines.append(f"| {detector} | " + " | ".join(
            f"{precision.loc[detector, c]:.2f}" for c in classes) + " |")
    (out / "precision.md").write_text("\n".join(lines) + "\n")

    if not len(recon):
        return overall
    rec = recon.groupby(["model", "block"])[
        ["astromer", "window_mean", "linear_interpolation", "copy"]].agg(["mean", "std"])
    n = recon.groupby(["model", "block"])["seed"].nunique()
    lines = ["| model | hidden | seeds | Astromer | window mean | linear interpolation | "
             "nothing hidden |", "|---|---|---:|---:|---:|---:|---:|"]
    for (model, block), row in rec.iterrows():
        def cell(col):
            mean, std = row[(col, "mean")], row[(col, "std")]
            if not np.isfinite(mean):
                return ""
            return f"{mean:.3f}" + (f" ± {std:.3f}" if np.isfinite(std) else "")
        what = "single observations" if block == 1 else f"runs of {block}"
        lines.append(f"| {model} | {what} | {n[(model, block)]} | {cell('astromer')} | "
                     f"{cell('window_mean')} | {cell('linear_interpolation')} | "
                     f"{cell('copy')} |")
    (out / "reconstruction.md").write_text("\n".join(lines) + "\n")
    return overall


def plot(results, overall, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    detectors = list(overall.index)[::-1]
    classes = sorted(set(results["rare_class"]) - {"all"})
    auc = results.pivot_table(index="detector", columns="rare_class", values="roc_auc")
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 0.42 * len(detectors) + 2),
                                      width_ratios=[1, 2.2])
    y = np.arange(len(detectors))
    left.barh(y, overall.loc[detectors, ("roc_auc", "mean")],
              xerr=overall.loc[detectors, ("roc_auc", "std")].fillna(0), color="tab:blue")
    left.set_yticks(y, detectors)
    left.set_xlim(0.4, 1.0)
    left.axvline(0.5, color="0.5", lw=0.8, ls="--")
    left.set_xlabel("ROC AUC, all rare classes (mean ± std over seeds)")
    image = right.imshow(auc.loc[detectors, classes].to_numpy(), aspect="auto", cmap="RdYlGn",
                         vmin=0.3, vmax=1.0, origin="lower")
    right.set_xticks(np.arange(len(classes)), classes, rotation=45, ha="right")
    right.set_yticks(y, [""] * len(detectors))
    for i, d in enumerate(detectors):
        for j, c in enumerate(classes):
            right.text(j, i, f"{auc.loc[d, c]:.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=right, label="ROC AUC, rare class against held-out common")
    fig.suptitle("CRTS: rare classes against held-out common ones (EA, EW, RRab, RRc, RS CVn)")
    fig.tight_layout()
    fig.savefig(out / "results.png", dpi=100)


# ------------------------------------------------------------------------------------ main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--weights", nargs="+", default=["macho"],
                        help="weight sets of the Astromer detectors (names or archives)")
    parser.add_argument("--epochs", type=int, default=5,
                        help="self-supervised fine-tuning epochs of the -ft detectors (0: none)")
    parser.add_argument("--finetune-per-class", type=int, default=200,
                        help="common objects per class, in no seed's test set, to fine-tune on")
    parser.add_argument("--train-per-class", type=int, default=100)
    parser.add_argument("--test-per-class", type=int, default=40)
    parser.add_argument("--rare-per-class", type=int, default=25)
    parser.add_argument("--reconstruction-seeds", type=int, default=1,
                        help="the reconstruction table is measured on the first seeds only "
                        "(it scores the test set four more times)")
    parser.add_argument("--no-tables", action="store_true",
                        help="skip the IsolationForest and LOF detectors")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    data = load_light_curves(args.data)
    labels = np.asarray(data.labels)
    args.out.mkdir(parents=True, exist_ok=True)
    recon_rows = []
    start = time.perf_counter()
    models = []
    for weights in args.weights:
        name = f"astromer-{Path(str(weights)).stem.replace('_a0', '')}"
        models.append((name, weights))
        if args.epochs:
            pool = finetune_pool(labels, args.seeds, args.test_per_class,
                                 args.finetune_per_class)
            models.append((f"{name}-ft", finetuned(weights, args.epochs, data.subset(pool),
                                                   args.device)))
    for seed in args.seeds:
        torch.manual_seed(seed)
        train, test = split(labels, seed, args.train_per_class, args.test_per_class,
                            args.rare_per_class)
        lc_train = as_light_curves(data.subset(train))
        lc_test = as_light_curves(data.subset(test))
        scores = {}
        if not args.no_tables:
            both = np.concatenate([train, test])
            lc_both = as_light_curves(data.subset(both))
            tic = time.perf_counter()
            features = CachedTransform(LightCurveFeatures(), cache_dir=CACHE).fit(lc_both)
            features = features.transform(lc_both)
            embedder = AstromerEmbedder(weights="macho", max_epochs=0, device=args.device)
            embedding = CachedTransform(embedder, cache_dir=CACHE).fit(lc_both)
            embedding = embedding.transform(lc_both)
            print(f"seed {seed}: features and embeddings in {time.perf_counter() - tic:.0f} s",
                  flush=True)
            i_train, i_test = np.arange(len(train)), np.arange(len(train), len(both))
            scores.update(table_detectors(seed, features, embedding, i_train, i_test))
        for name, weights in models:
            tic = time.perf_counter()
            scores.update(astromer_detector(
                name, weights, seed, lc_train, lc_test, args.device, recon_rows,
                reconstruction=seed in args.seeds[: args.reconstruction_seeds]))
            print(f"seed {seed}: {name} in {time.perf_counter() - tic:.0f} s", flush=True)
        # The baselines' errors as anomaly scores: the reduced chi-square about the
        # window mean, and about linear interpolation, under the same hide patterns.
        for block_name, pred in zip(("window-mean", "interpolation"),
                                    baseline_predictions(lc_test, 200, block=1)):
            scores[f"{block_name}-chi2"] = (reconstruction_errors(pred, lc_test), (0.0, 0.0))
        rows = []
        for detector, (anomaly, (fit_s, score_s)) in scores.items():
            for row in evaluate(np.asarray(anomaly), labels[test]):
                rows.append(dict(seed=seed, detector=detector, **row, fit_seconds=fit_s,
                                 score_seconds=score_s, n_train=len(train),
                                 n_test=len(test)))
        # Written after every seed, so that an interrupted run keeps the seeds it finished.
        results = merge(args.out / "results.csv", rows, ["seed", "detector", "rare_class"])
        recon = merge(args.out / "reconstruction.csv", recon_rows, ["seed", "model", "block"])
        recon_rows = []
        overall = write_tables(results, recon, args.out)
        plot(results, overall, args.out)
        print(f"seed {seed} done at {time.perf_counter() - start:.0f} s", flush=True)
    print((args.out / "table.md").read_text())
    print((args.out / "reconstruction.md").read_text())


if __name__ == "__main__":
    main()
