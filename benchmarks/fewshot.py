"""Few-shot classification benchmark of light-curve methods.

Runs every requested method on the draws of the few-shot protocol (see ``_protocol.py`` and
``shared/data/README.md``) and writes, under ``--out``:

* ``results.csv`` / ``results.json``: one row per (method, protocol, spc, seed);
* ``results.md``: macro-F1 mean +- standard deviation over seeds (%), methods as rows;
* ``results.png``: macro-F1 against training samples per class, one panel per protocol.

Rows are merged into existing results: a rerun replaces the rows with the same key and keeps
the others, so methods can be added one run at a time.

A method is a factory registered with :func:`register_method`: ``factory(seed, context)``
returns an unfitted scikit-learn classifier that is fit on a list of ``(n_i, 3)`` light curves
(time, magnitude, error) and their labels, and predicts one label per light curve. ``context``
(a :class:`MethodContext`) gives the unlabelled pool of the draw, the cache directory and the
number of jobs.

Examples
--------
Full protocol with the feature baselines::

    python benchmarks/fewshot.py --methods features-rf,features-brf \\
        --out benchmarks/results/features

A custom task on another file::

    python benchmarks/fewshot.py --data my.parquet --classes A,B,C --spc 10,50 --out out/
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier, StackingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _embeddings import CachedTransform, PhaseFolded, PoolFitted
from _features import LightCurveFeatures
from _protocol import (
    DEFAULT_CUSTOM_SPC,
    PROTOCOLS,
    draw_split,
    load_light_curves,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "crts_train.parquet"
DEFAULT_CACHE = REPO_ROOT / "benchmarks" / ".cache"
DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results" / "fewshot"
SHARED_WEIGHTS = REPO_ROOT.parent / "shared" / "weights"
DEFAULT_SEEDS = (0, 1, 2)
#: Appended to the method name of rows run with ``--shared-pool``.
SHARED_POOL_SUFFIX = "/shared-pool"
KEY = ["method", "protocol", "spc", "seed"]
COLUMNS = KEY + [
    "macro_f1",
    "accuracy",
    "fit_seconds",
    "predict_seconds",
    "n_train",
    "n_test",
    "n_unlabelled",
    "n_classes",
    "test_per_class",
    "data",
    "test_data",
]


@dataclass(frozen=True)
class MethodContext:
    """What a method factory may use besides the seed.

    Attributes
    ----------
    seed : int
        Seed of the draw (also passed to the factory directly).
    protocol : str
        Protocol name (``"CRTS-5"``, ``"CRTS-9"`` or the ``+``-joined custom classes).
    classes : tuple of str
        Classes of the task.
    spc : int
        Training samples per class requested.
    unlabelled : list of ndarray of shape (n_observations_i, 3)
        Light curves of the training file neither drawn for training nor in the test set, of any
        class, without labels: for self-supervised fine-tuning. With ``--shared-pool``, the
        objects in no test set of the whole run, the same for every draw.
    cache_dir : Path or None
        Directory where methods may cache what depends only on the data (features,
        embeddings); None disables caching.
    n_jobs : int
        Parallel jobs for the method, in scikit-learn's convention (-1: all cores).
    shared_pool : bool, default=False
        Whether ``unlabelled`` is the run's shared pool: unsupervised fits then leave out the
        training curves (some are test objects of other seeds), so all draws share them.
    """

    seed: int
    protocol: str
    classes: tuple
    spc: int
    unlabelled: list
    cache_dir: Path | None
    n_jobs: int
    shared_pool: bool = False


MethodFactory = Callable[[int, MethodContext], object]

#: Registered methods: name -> factory(seed, context) returning an unfitted classifier.
METHODS: dict[str, MethodFactory] = {}


def register_method(name):
    """Register ``factory(seed, context) -> estimator`` under ``name`` (decorator).

    Parameters
    ----------
    name : str
        Method name used on the command line (``--methods``) and in the results.

    Returns
    -------
    decorator : callable
        Registers and returns the factory unchanged.
    """

    def decorator(factory):
        if name in METHODS:
            raise ValueError(f"method {name!r} is already registered")
        METHODS[name] = factory
        return factory

    return decorator


def _features(context):
    return LightCurveFeatures(n_jobs=context.n_jobs, cache_dir=context.cache_dir)


def _imputer():
    # A feature can be undefined for a curve (e.g. a zero-amplitude ratio); the median is a
    # neutral value for trees. Keeping all-NaN columns keeps the feature count fixed.
    return SimpleImputer(strategy="median", keep_empty_features=True)


@register_method("features-rf")
def features_rf(seed, context):
    """Hand-crafted light-curve features + random forest (500 trees)."""
    forest = RandomForestClassifier(n_estimators=500, n_jobs=context.n_jobs, random_state=seed)
    return make_pipeline(_features(context), _imputer(), forest)


@register_method("features-brf")
def features_brf(seed, context):
    """Hand-crafted features + balanced random forest (each tree on a class-balanced sample)."""
    from imblearn.ensemble import BalancedRandomForestClassifier

    forest = BalancedRandomForestClassifier(
        n_estimators=500, n_jobs=context.n_jobs, random_state=seed
    )
    return make_pipeline(_features(context), _imputer(), forest)


def _register_astromer_methods():
    """Register the Astromer methods when ``sklearn_astromer`` can be imported."""
    try:
        from sklearn_astromer import AstromerClassifier, AstromerEmbedder
    except ImportError:
        return
    # Serve the released weights from the shared folder beside the repository, when present,
    # rather than downloading them (an explicit SKLEARN_ASTROMER_HOME wins).
    if SHARED_WEIGHTS.is_dir():
        os.environ.setdefault("SKLEARN_ASTROMER_HOME", str(SHARED_WEIGHTS))

    def forest(seed, context):
        return RandomForestClassifier(n_estimators=500, n_jobs=context.n_jobs, random_state=seed)

    def frozen(seed, context, pooling="mean", weights="macho"):
        """Zero-shot embeddings with released weights, cached per light curve."""
        embedder = AstromerEmbedder(
            weights=weights, max_epochs=0, pooling=pooling, random_state=seed
        )
        return CachedTransform(embedder, cache_dir=context.cache_dir)

    def pool_fitted(transformer, context, pool=True):
        """``transformer`` fit without labels on the pool.

        The training curves are added unless the pool is shared by all draws. ``pool=False``
        fits on what it is given, for use inside another pool-fitted pipeline: both then see
        the same curves and share one cached fit.
        """
        return PoolFitted(
            transformer, unlabelled=context.unlabelled if pool else (),
            cache_dir=context.cache_dir, with_training=not (pool and context.shared_pool),
        )

    def reduced(embedding, seed, context):
        """``embedding`` standardised and reduced to 8 principal components.

        All of it is fit without labels on the pool; 8 columns are few
        enough not to drown the ~65 hand-crafted features in the forest's feature sampling.
        """
        pca = make_pipeline(
            embedding, StandardScaler(), PCA(n_components=8, random_state=seed)
        )
        return pool_fitted(pca, context)

    def with_features(embedding, seed, context):
        """Hand-crafted features and ``embedding`` side by side, then a random forest."""
        union = make_union(make_pipeline(_features(context), _imputer()), embedding)
        return make_pipeline(union, forest(seed, context))

    def finetuned(seed, context, pool=True):
        """MACHO weights fine-tuned (self-supervised, 5 epochs) on the pool (see
        :func:`pool_fitted` for ``pool``)."""
        embedder = AstromerEmbedder(weights="macho", max_epochs=5, random_state=seed)
        return pool_fitted(embedder, context, pool)

    @register_method("astromer-rf")
    def astromer_rf(seed, context):
        """Frozen pretrained Astromer (MACHO weights) mean embeddings + random forest."""
        return make_pipeline(frozen(seed, context), forest(seed, context))

    @register_method("astromer-atlas-rf")
    def astromer_atlas_rf(seed, context):
        """Frozen pretrained Astromer (ATLAS weights) mean embeddings + random forest."""
        return make_pipeline(frozen(seed, context, weights="atlas"), forest(seed, context))

    @register_method("astromer-ft-rf")
    def astromer_ft_rf(seed, context):
        """Astromer fine-tuned without labels on the unlabelled pool + training curves, + RF."""
        return make_pipeline(finetuned(seed, context), forest(seed, context))

    @register_method("astromer-clf")
    def astromer_clf(seed, context):
        """AstromerClassifier: fine-tuned encoder, layer-weighted embedding and MLP head."""
        return AstromerClassifier(weights="macho", random_state=seed)

    @register_method("astromer-fold-rf")
    def astromer_fold_rf(seed, context):
        """Frozen MACHO embeddings of the curve folded at its period (2 cycles) + RF."""
        folded = make_pipeline(
            PhaseFolded(n_jobs=context.n_jobs, cache_dir=context.cache_dir),
            AstromerEmbedder(weights="macho", max_epochs=0, random_state=seed),
        )
        embedding = CachedTransform(folded, cache_dir=context.cache_dir)
        return make_pipeline(embedding, forest(seed, context))

    def fold_scratch(seed, context, pool=True):
        """Small Astromer 2 trained from scratch without labels on folded pool curves (see
        :func:`pool_fitted` for ``pool``)."""
        embedder = AstromerEmbedder(
            weights=None, preset="astromer2", n_layers=2, n_heads=4, d_model=64, d_ff=128,
            max_epochs=10, pooling="layers", random_state=seed,
        )
        folded = make_pipeline(
            PhaseFolded(n_jobs=context.n_jobs, cache_dir=context.cache_dir), embedder
        )
        return pool_fitted(folded, context, pool)

    @register_method("astromer-fold-scratch-rf")
    def astromer_fold_scratch_rf(seed, context):
        """Astromer 2 (2 x 64) trained from scratch on folded pool curves, 10 epochs, + RF."""
        return make_pipeline(fold_scratch(seed, context), forest(seed, context))

    @register_method("astromer-fold-scratch-hybrid-pca-rf")
    def astromer_fold_scratch_hybrid_pca_rf(seed, context):
        """Features + 8 principal components of the from-scratch folded-curve embeddings + RF."""
        embedding = reduced(fold_scratch(seed, context, pool=False), seed, context)
        return with_features(embedding, seed, context)

    @register_method("astromer-hybrid-rf")
    def astromer_hybrid_rf(seed, context):
        """Hand-crafted features and frozen Astromer embeddings side by side + random forest."""
        return with_features(frozen(seed, context), seed, context)

    @register_method("astromer-hybrid-pca-rf")
    def astromer_hybrid_pca_rf(seed, context):
        """Features + 8 principal components of the frozen per-layer embeddings + RF."""
        embedding = reduced(frozen(seed, context, pooling="layers"), seed, context)
        return with_features(embedding, seed, context)

    @register_method("astromer-ft-hybrid-pca-rf")
    def astromer_ft_hybrid_pca_rf(seed, context):
        """Features + 8 principal components of the pool-fine-tuned embeddings + RF."""
        embedding = reduced(finetuned(seed, context, pool=False), seed, context)
        return with_features(embedding, seed, context)

    @register_method("astromer-stack")
    def astromer_stack(seed, context):
        """Stacking of features + RF and frozen per-layer embeddings + logistic regression.

        A logistic regression combines the two models' cross-validated class probabilities.
        """
        embedding_model = make_pipeline(
            frozen(seed, context, pooling="layers"), StandardScaler(),
            LogisticRegression(C=0.1, max_iter=2000),
        )
        return StackingClassifier(
            [("features", features_rf(seed, context)), ("astromer", embedding_model)],
            final_estimator=LogisticRegression(max_iter=2000),
            # Five folds, or fewer when a class has fewer than five training curves.
            cv=StratifiedKFold(min(5, context.spc), shuffle=True, random_state=seed),
        )


_register_astromer_methods()


def _comma_list(text):
    return [item.strip() for item in text.split(",") if item.strip()]


def _int_list(text):
    return [int(item) for item in _comma_list(text)]


def build_parser():
    """Command-line parser of the harness."""
    parser = argparse.ArgumentParser(
        description="Few-shot light-curve classification benchmark (macro-F1 per object).",
    )
    parser.add_argument(
        "--data", type=Path, default=None,
        help=f"parquet file of the shared schema (default: {DEFAULT_DATA} if present)",
    )
    parser.add_argument(
        "--test-data", type=Path, default=None,
        help="separate parquet file for the test objects (training objects from --data)",
    )
    task = parser.add_mutually_exclusive_group()
    task.add_argument(
        "--protocol", action="append", default=None,
        help=f"protocol(s), repeatable or comma list, among {sorted(PROTOCOLS)} (default: all)",
    )
    task.add_argument("--classes", type=_comma_list, help="custom task: comma list of classes")
    parser.add_argument(
        "--spc", type=_int_list, default=None,
        help="training samples per class, comma list (default: per protocol; "
        f"{','.join(map(str, DEFAULT_CUSTOM_SPC))} with --classes)",
    )
    parser.add_argument(
        "--seeds", type=_int_list, default=list(DEFAULT_SEEDS), help="comma list (default 0,1,2)"
    )
    parser.add_argument(
        "--test-per-class", type=int, default=100,
        help="test objects per class (default 100; 0 = all, with --test-data only)",
    )
    parser.add_argument("--band", default=None, help="band to use when the file has several")
    parser.add_argument(
        "--methods", type=_comma_list, default=None,
        help=f"comma list of methods (default: all registered: {','.join(METHODS)})",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output directory ({DEFAULT_OUT})"
    )
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help=f"cache directory ({DEFAULT_CACHE})"
    )
    parser.add_argument("--no-cache", action="store_true", help="disable the feature cache")
    parser.add_argument("--n-jobs", type=int, default=-1, help="parallel jobs (-1: all cores)")
    parser.add_argument(
        "--shared-pool", action="store_true",
        help="one unlabelled pool for every draw: the training-file objects in no test set of "
        "any requested protocol and seed (self-supervised fits are then shared by all draws); "
        f"method names get the suffix {SHARED_POOL_SUFFIX!r} in the results",
    )
    parser.add_argument(
        "--merge", type=Path, action="append", default=[],
        help="results.csv of another run to merge into --out (repeatable); with --merge, "
        "methods run only when --methods is given",
    )
    parser.add_argument("--list-methods", action="store_true", help="print methods and exit")
    return parser


def _tasks(args):
    """``[(protocol name, classes, spc values)]`` requested on the command line."""
    if args.classes:
        return [("+".join(args.classes), tuple(args.classes), args.spc or DEFAULT_CUSTOM_SPC)]
    names = [n for item in (args.protocol or list(PROTOCOLS)) for n in _comma_list(item)]
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown:
        raise SystemExit(f"unknown protocol(s) {unknown}; choose among {sorted(PROTOCOLS)}")
    return [
        (n, PROTOCOLS[n]["classes"], args.spc or PROTOCOLS[n]["spc"]) for n in dict.fromkeys(names)
    ]


def _resolve_data(path):
    if path is not None:
        return path
    if DEFAULT_DATA.exists():
        return DEFAULT_DATA
    raise SystemExit(f"no --data given and the default {DEFAULT_DATA} does not exist")


def shared_pool(draws):
    """Positions of the training-file objects that are in no test set of any of ``draws``.

    Parameters
    ----------
    draws : sequence of Draw
        Draws of the same training file.

    Returns
    -------
    ndarray of int
        Objects that every draw may use without labels: each draw's training and unlabelled
        objects, intersected over the draws. The training objects of a draw are among them;
        methods get them without their labels through the pool, and with labels as the
        training set.
    """
    usable = None
    for draw in draws:
        allowed = set(draw.unlabelled.tolist()) | set(draw.train.tolist())
        usable = allowed if usable is None else usable & allowed
    return np.array(sorted(usable or ()), dtype=int)


def run_method(name, seed, context, X_train, y_train, X_test, y_test):
    """Fit and evaluate one method on one draw; return the metric and timing fields of a row."""
    estimator = METHODS[name](seed, context)
    start = time.perf_counter()
    estimator.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    y_pred = np.asarray(estimator.predict(X_test))
    predict_seconds = time.perf_counter() - start
    # Average over the classes of the test set only: a class absent from it has no defined F1.
    labels = sorted(set(y_test))
    return {
        "macro_f1": f1_score(y_test, y_pred, labels=labels, average="macro", zero_division=0),
        "accuracy": accuracy_score(y_test, y_pred),
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
    }


def merge_results(path, new_rows):
    """Merge ``new_rows`` into the CSV at ``path`` (same key: new row wins); return the table."""
    new = pd.DataFrame(new_rows, columns=COLUMNS)
    if path.exists():
        old = pd.read_csv(path)
        table = pd.concat([old, new], ignore_index=True) if len(new) else old
    else:
        table = new
    table = table.drop_duplicates(subset=KEY, keep="last")
    # An empty test_data (no separate test file) reads back from CSV as NaN.
    table["test_data"] = table["test_data"].fillna("")
    return table.sort_values(KEY, kind="stable").reset_index(drop=True)


def summarise(table):
    """Mean and standard deviation (over seeds, ddof=1) of macro-F1 per method/protocol/spc."""
    grouped = table.groupby(["method", "protocol", "spc"], sort=True)
    summary = grouped.agg(
        n_seeds=("seed", "nunique"),
        macro_f1_mean=("macro_f1", "mean"),
        macro_f1_std=("macro_f1", "std"),
        fit_seconds_mean=("fit_seconds", "mean"),
        predict_seconds_mean=("predict_seconds", "mean"),
    )
    return summary.reset_index()


def markdown_table(summary):
    """Markdown table of macro-F1 (%) mean +- std: methods as rows, (protocol, spc) as columns."""
    columns = summary[["protocol", "spc"]].drop_duplicates().sort_values(["protocol", "spc"])
    header = ["method"] + [f"{p} · {s}" for p, s in columns.itertuples(index=False)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method, rows in summary.groupby("method", sort=True):
        cells = [method]
        for protocol, spc in columns.itertuples(index=False):
            match = rows[(rows["protocol"] == protocol) & (rows["spc"] == spc)]
            cells.append(_format_score(match.iloc[0]) if len(match) else "")
        lines.append("| " + " | ".join(cells) + " |")
    note = (
        "\nMacro-F1 (%) over test objects, mean ± standard deviation over seeds "
        "(number of seeds in brackets when not 3). "
        "Columns: protocol · training samples per class."
    )
    return "\n".join(lines) + "\n" + note + "\n"


def _format_score(row):
    text = f"{100 * row.macro_f1_mean:.1f}"
    if row.n_seeds > 1:
        text += f" ± {100 * row.macro_f1_std:.1f}"
    if row.n_seeds != 3:
        text += f" ({row.n_seeds})"
    return text


def plot_results(summary, path):
    """Macro-F1 against samples per class (log x), one line per method, one panel per protocol."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    protocols = sorted(summary["protocol"].unique())
    methods = sorted(summary["method"].unique())
    # One colour per method, the same in every panel; tab20 keeps up to 20 apart.
    colours = dict(zip(methods, plt.get_cmap("tab20" if len(methods) > 10 else "tab10").colors))
    fig, axes = plt.subplots(
        1, len(protocols), figsize=(5 * len(protocols), 4), squeeze=False, sharey=True
    )
    for ax, protocol in zip(axes[0], protocols):
        part = summary[summary["protocol"] == protocol]
        for method, rows in part.groupby("method", sort=True):
            rows = rows.sort_values("spc")
            # Baselines dashed, so the methods that must beat them stand out.
            ax.errorbar(
                rows["spc"], 100 * rows["macro_f1_mean"],
                yerr=100 * rows["macro_f1_std"].fillna(0), marker="o", capsize=3, label=method,
                linestyle="--" if method.startswith("features") else "-",
                color=colours.get(method),
            )
        spcs = sorted(part["spc"].unique())
        ax.set_xscale("log")
        ax.set_xticks(spcs, [str(s) for s in spcs])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(spcs[0] / 1.5, spcs[-1] * 1.5)
        ax.set_xlabel("training samples per class")
        ax.set_title(protocol)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("macro-F1 (%)")
    # Beside the panels rather than on them, where it would hide the curves.
    entries = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    fig.legend(
        [entries[m] for m in methods if m in entries], [m for m in methods if m in entries],
        loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def write_outputs(out_dir, table):
    """Write ``results.csv``, ``.json``, ``.md`` and ``.png`` for the merged ``table``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "results.csv", index=False)
    summary = summarise(table)
    payload = {
        "runs": json.loads(table.to_json(orient="records")),
        "summary": json.loads(summary.to_json(orient="records")),
    }
    (out_dir / "results.json").write_text(json.dumps(payload, indent=1) + "\n")
    (out_dir / "results.md").write_text(markdown_table(summary))
    plot_results(summary, out_dir / "results.png")


def main(argv=None):
    """Run the benchmark; return the process exit status (1 if any run failed)."""
    args = build_parser().parse_args(argv)
    if args.list_methods:
        for name, factory in METHODS.items():
            print(f"{name}: {(factory.__doc__ or '').strip().splitlines()[0]}")
        return 0
    methods = args.methods or ([] if args.merge else list(METHODS))
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; registered: {sorted(METHODS)}")
    csv_path = args.out / "results.csv"
    if args.merge:
        merged = pd.concat([pd.read_csv(path) for path in args.merge], ignore_index=True)
        write_outputs(args.out, merge_results(csv_path, merged.to_dict("records")))
        if not methods:
            print(markdown_table(summarise(pd.read_csv(csv_path))))
            return 0

    data_path = _resolve_data(args.data)
    train_set = load_light_curves(data_path, band=args.band)
    test_set = load_light_curves(args.test_data, band=args.band) if args.test_data else None
    tasks = _tasks(args)
    cache_dir = None if args.no_cache else args.cache

    runs = [(p, c, s, seed) for p, c, spcs in tasks for s in spcs for seed in args.seeds]
    draws = [
        draw_split(train_set, classes, spc, seed, args.test_per_class, test_set)
        for _, classes, spc, seed in runs
    ]
    shared = shared_pool(draws) if args.shared_pool else None
    suffix = SHARED_POOL_SUFFIX if args.shared_pool else ""
    evaluated = test_set if test_set is not None else train_set
    rows, failures = [], []
    progress = tqdm(total=len(runs) * len(methods), unit="run")
    for (protocol, classes, spc, seed), draw in zip(runs, draws):
        X_train, y_train = train_set.subset(draw.train), train_set.labels[draw.train]
        X_test, y_test = evaluated.subset(draw.test), evaluated.labels[draw.test]
        unlabelled = draw.unlabelled if shared is None else shared
        context = MethodContext(
            seed=seed, protocol=protocol, classes=classes, spc=spc,
            unlabelled=train_set.subset(unlabelled), cache_dir=cache_dir, n_jobs=args.n_jobs,
            shared_pool=shared is not None,
        )
        for method in methods:
            progress.set_description(f"{method} {protocol} spc={spc} seed={seed}")
            try:
                metrics = run_method(method, seed, context, X_train, y_train, X_test, y_test)
            except Exception:  # noqa: BLE001 - one failing method must not lose the other runs
                failures.append((method, protocol, spc, seed))
                tqdm.write(f"FAILED {method} {protocol} spc={spc} seed={seed}\n"
                           + traceback.format_exc())
                progress.update()
                continue
            rows.append({
                "method": method + suffix, "protocol": protocol, "spc": spc, "seed": seed,
                **metrics, "n_train": len(draw.train), "n_test": len(draw.test),
                "n_unlabelled": len(unlabelled), "n_classes": len(classes),
                "test_per_class": args.test_per_class, "data": Path(data_path).name,
                "test_data": Path(args.test_data).name if args.test_data else "",
            })
            # Write after every run so that an interrupted benchmark keeps what it measured.
            write_outputs(args.out, merge_results(csv_path, rows[-1:]))
            progress.update()
    progress.close()
    if not rows and not csv_path.exists():
        return 1
    table = pd.read_csv(csv_path)
    print(markdown_table(summarise(table)))
    if failures:
        print(f"{len(failures)} run(s) failed: {failures}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
