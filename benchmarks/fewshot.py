"""Few-shot classification benchmark of light-curve methods: the command line.

Runs every requested method on the draws of the few-shot protocol (see ``_protocol.py`` and
``shared/data/README.md``) and writes, under ``--out`` (see ``_results.py``):

* ``results.csv`` / ``results.json``: one row per (method, protocol, spc, seed);
* ``results.md``: macro-F1 mean +- standard deviation over seeds (%), methods as rows;
* ``results.png``: macro-F1 against training samples per class, one panel per protocol.

Rows are merged into existing results: a rerun replaces the rows with the same key and keeps
the others, so methods can be added one run at a time. The methods are the factories of
``_methods.py``; the caches they share across draws are in ``_caching.py``.

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
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _methods import METHODS, MethodContext
from _protocol import (
    DEFAULT_CUSTOM_SPC,
    PROTOCOLS,
    draw_split,
    load_light_curves,
    shared_pool,
)
from _results import markdown_table, merge_results, summarise, write_outputs

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "crts_train.parquet"
DEFAULT_CACHE = REPO_ROOT / "benchmarks" / ".cache"
DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results" / "fewshot"
SHARED_WEIGHTS = REPO_ROOT.parent / "shared" / "weights"
DEFAULT_SEEDS = (0, 1, 2)
#: Appended to the method name of rows run with ``--shared-pool``.
SHARED_POOL_SUFFIX = "/shared-pool"


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
    parser.add_argument(
        "--band", default=None,
        help="band to use when the file has several; a comma list B1,B2 runs the methods' "
        "multi-band variants on those bands, in that order (rows get the suffix [B1+B2])",
    )
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
    parser.add_argument("--no-cache", action="store_true", help="disable the caches (features, embeddings, fits)")
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

    # Serve the released weights from the shared folder beside the repository, when present,
    # rather than downloading them (an explicit SKLEARN_ASTROMER_HOME wins).
    if SHARED_WEIGHTS.is_dir():
        os.environ.setdefault("SKLEARN_ASTROMER_HOME", str(SHARED_WEIGHTS))
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
    if train_set.bands:
        suffix += f"[{'+'.join(train_set.bands)}]"
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
            shared_pool=shared is not None, bands=train_set.bands,
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
