"""The ``sklearn-astromer`` command line: quickstart, embed and finetune.

``quickstart`` trains a small Astromer on synthetic light curves and reports how well
its embeddings classify them; ``embed`` streams a parquet or CSV file of light curves
through a model and writes one row of embeddings per object; ``finetune`` trains a model
self-supervised on a file of light curves and saves it for ``embed --weights``.

Run ``sklearn-astromer COMMAND --help`` for each command's options.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from ._base import _SIZES
from ._lightcurves import DEFAULT_COLUMNS
from ._pooling import POOLINGS
from .datasets import _LightCurveFile

__all__ = ["main"]

_PROG = "sklearn-astromer"


class InputError(ValueError):
    """A problem with the user's input file, reported without a traceback."""


# --------------------------------------------------------------------------- arguments


def _columns(text):
    """Parse ``id=..,time=..,mag=..,err=..`` into a column-name dict."""
    names = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise argparse.ArgumentTypeError(f"expected KEY=NAME, got {item!r}")
        if key not in DEFAULT_COLUMNS:
            raise argparse.ArgumentTypeError(
                f"unknown key {key!r}; expected some of {', '.join(DEFAULT_COLUMNS)}"
            )
        names[key] = value
    return names


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, got {text}")
    return value


def _fraction(text):
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _config_field(text):
    """``FIELD=VALUE`` -> (field, value), the value read as JSON when it parses."""
    field, sep, value = text.partition("=")
    if not sep or not field:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE, got {text!r}")
    try:
        return field.strip(), json.loads(value)
    except json.JSONDecodeError:
        return field.strip(), value


def _weights(text):
    """``none`` means random initialisation; anything else is passed on as is."""
    return None if text.lower() == "none" else text


def _add_input_options(parser):
    parser.add_argument(
        "input",
        type=Path,
        metavar="INPUT",
        help="parquet file (one row per object with list columns mjd/mag/mag_err, "
        "or a long table) or CSV file (long table: one row per observation)",
    )
    parser.add_argument(
        "--columns",
        type=_columns,
        default={},
        metavar="id=..,time=..,mag=..,err=..",
        help="column names in INPUT, for the keys to change "
        "(default id=object_id,time=mjd,mag=mag,err=mag_err; the err column is optional)",
    )
    parser.add_argument(
        "--band", default=None,
        help="keep only the rows of this passband (needs a 'band' column); a table whose "
        "object ids have rows in several bands needs it. With embed, a comma list B1,B2 "
        "embeds each band and writes the embeddings side by side, in that order",
    )
    parser.add_argument(
        "--format",
        choices=("auto", "parquet", "csv"),
        default="auto",
        help="file format; auto goes by the extension (default: auto)",
    )
    parser.add_argument(
        "--keep-negative-times",
        action="store_true",
        help="keep observations at negative times (by default they are dropped as "
        "placeholders for a missing time: no observation precedes MJD 0; keep them for "
        "times relative to an epoch)",
    )
    parser.add_argument(
        "--device", default="auto", help="torch device, e.g. cpu, cuda, cuda:1 (default: auto)"
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="CPU threads for torch (default: torch's choice, usually the number of cores)",
    )


def _parser():
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Astromer light-curve embeddings from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"{_PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    quick = commands.add_parser(
        "quickstart",
        help="train a small Astromer on synthetic light curves and classify them",
        description="Generate labelled synthetic light curves, train a small Astromer "
        "from scratch by self-supervised reconstruction, embed the light curves and "
        "classify the embeddings with a random forest. Needs no data and no download.",
    )
    quick.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    quick.add_argument(
        "--quick", action="store_true", help="fewer light curves and epochs (a few seconds)"
    )
    quick.add_argument(
        "--device", default="auto", help="torch device, e.g. cpu, cuda (default: auto)"
    )
    quick.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="CPU threads for torch (default: 1; the model is small enough that splitting "
        "its matrix products across threads costs more than it saves)",
    )

    embed = commands.add_parser(
        "embed",
        help="embed the light curves of a file, streaming",
        description="Embed every light curve of INPUT and write a parquet file with "
        "object_id, label and band (when INPUT has them) and the embedding columns "
        "emb_0, emb_1, ... The file is read in batches of whole objects, so its size "
        "is not limited by memory; in a long table the rows of one object must be "
        "consecutive.",
    )
    _add_input_options(embed)
    embed.add_argument(
        "-o", "--output", type=Path, required=True, help="parquet file to write"
    )
    embed.add_argument(
        "--weights",
        default="macho",
        help="released weights (macho, atlas) or a folder written by 'finetune' "
        "(default: macho)",
    )
    embed.add_argument(
        "--pooling",
        choices=sorted(POOLINGS),
        default="mean",
        help="how per-observation outputs become one row per object: "
        + "; ".join(f"{name}: {p.description}" for name, p in POOLINGS.items())
        + " (default: mean)",
    )
    embed.add_argument(
        "--batch-size",
        type=_positive_int,
        default=1024,
        help="light curves read, embedded and written at a time (default: 1024)",
    )
    embed.add_argument(
        "--inference-batch-size",
        type=_positive_int,
        default=256,
        help="windows per forward pass (default: 256)",
    )
    embed.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="what a light curve that fails validation does: raise stops with an error "
        "and writes nothing; skip leaves it out, goes on, and lists the skipped ones "
        "(id, position, reason) in OUTPUT.skipped.csv (default: raise)",
    )
    embed.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    cluster = embed.add_mutually_exclusive_group()
    cluster.add_argument(
        "--dask", metavar="SCHEDULER", default=None,
        help="embed on the Dask cluster of this scheduler (e.g. tcp://host:8786): INPUT is "
        "a parquet file, a folder of them or a glob, split into partitions embedded by the "
        "workers (objects split across partitions are regrouped); the output has "
        "object_id and the embedding columns. Needs sklearn-astromer[dask]",
    )
    cluster.add_argument(
        "--n-workers", type=_positive_int, default=None,
        help="as --dask, on a local cluster of this many worker processes (each with "
        "--threads torch threads, default 1)",
    )

    export = commands.add_parser(
        "export",
        help="export a model to ONNX for onnxruntime and light_curve.embed",
        description="Write the encoder of WEIGHTS to one ONNX file in light_curve.embed's "
        "Astromer convention (inputs input, times and mask_in of shape (B, window_length, 1), "
        "float32, per-window mean-centred, mask 1 at real observations; outputs mean, max "
        "and sequence), with a model card in its metadata and in OUTPUT.json. "
        "light_curve.embed.Astromer1(onnxruntime.InferenceSession(OUTPUT)) runs it. "
        "Needs sklearn-astromer[onnx].",
    )
    export.add_argument("-o", "--output", type=Path, required=True, help="ONNX file to write")
    export.add_argument(
        "--weights",
        default="macho",
        help="released weights (macho, atlas, ...) or a folder written by 'finetune' or "
        "save() (default: macho)",
    )
    export.add_argument(
        "--layer-means", action="store_true",
        help="also output the masked mean of every layer (B, n_layers + 1, d_model), what "
        "the layers and weighted poolings combine",
    )
    export.add_argument("--opset", type=_positive_int, default=None,
                        help="ONNX opset (default: 18)")
    export.add_argument(
        "--check", action="store_true",
        help="after writing, embed the bundled 300-curve CRTS sample with the package and "
        "with the file under onnxruntime, print the per-object cosine, and fail (status 1) "
        "below 0.9999",
    )
    export.add_argument("--threads", type=_positive_int, default=None,
                        help="CPU threads (default: torch's)")

    tune = commands.add_parser(
        "finetune",
        help="train a model self-supervised on a file and save it",
        description="Fine-tune released weights (or train a new model with --weights "
        "none) by masked reconstruction on the light curves of INPUT, and save the "
        "model to a folder that 'embed --weights' and the estimators' weights= accept. "
        "INPUT is read whole.",
    )
    _add_input_options(tune)
    tune.add_argument(
        "-o", "--output", type=Path, required=True, help="folder to save the model to"
    )
    tune.add_argument(
        "--weights",
        type=_weights,
        default="macho",
        help="starting weights: macho, atlas, a saved folder, or none for a new model "
        "(default: macho)",
    )
    tune.add_argument(
        "--epochs", type=_non_negative_int, default=10, help="training epochs (default: 10)"
    )
    tune.add_argument(
        "--validation-fraction",
        type=_fraction,
        default=0.0,
        help="share of light curves held out for early stopping; the best epoch is "
        "kept (default: 0, no early stopping)",
    )
    tune.add_argument(
        "--patience", type=_positive_int, default=5,
        help="epochs without improvement before stopping (default: 5)",
    )
    tune.add_argument(
        "--batch-size", type=_positive_int, default=64,
        help="light curves per training step (default: 64)",
    )
    tune.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)")
    tune.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    new = tune.add_argument_group("architecture of a new model (with --weights none)")
    new.add_argument(
        "--preset", choices=("astromer1", "astromer2"), default="astromer1",
        help="architecture family (default: astromer1)",
    )
    for name, what in [
        ("n-layers", "transformer blocks"),
        ("n-heads", "attention heads"),
        ("d-model", "embedding width"),
        ("d-ff", "feed-forward width"),
        ("window-length", "observations per window"),
    ]:
        new.add_argument(
            f"--{name}", type=_positive_int, default=None,
            help=f"{what} (default: the preset's)",
        )
    new.add_argument(
        "--set", dest="architecture", type=_config_field, action="append", default=[],
        metavar="FIELD=VALUE",
        help="any other AstromerConfig field, e.g. --set pe_base=1000 or --set "
        "residual=true (VALUE is read as JSON, else as a string); repeatable",
    )
    tune.add_argument("--quiet", action="store_true", help="print only the summary")
    tune.add_argument(
        "--checkpoint-dir", type=Path, default=None,
        help="write a checkpoint there after every epoch; run the same command again to "
        "resume an interrupted training after its last complete epoch (default: none). "
        "Under torchrun the training runs on every process and rank 0 saves",
    )
    return parser


# --------------------------------------------------------------------------- reading


class _InputFile(_LightCurveFile):
    """The reader of :func:`~sklearn_astromer.datasets.iter_light_curves`, with its
    messages naming the command-line options."""

    hints = {
        "columns": "Use --columns id=..,time=..,mag=..,err=.. to name other columns",
        "id": "Use --columns id=.. to name it",
        "format": "pass --format",
    }


def _input_file(args):
    return _InputFile(args.input, format=args.format, columns=args.columns, band=args.band)


# --------------------------------------------------------------------------- commands


def _embed(args):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    from ._embedder import AstromerEmbedder

    if args.weights.lower() == "none":
        raise InputError("embed needs trained weights: macho, atlas or a saved model folder")
    if args.dask is not None or args.n_workers is not None:
        return _embed_dask(args)
    if args.band is not None and "," in args.band:
        return _embed_multiband(args, [b.strip() for b in args.band.split(",") if b.strip()])
    source = _input_file(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the output and renamed at the end, so that a run stopped by a bad
    # light curve halfway through the file leaves no truncated output behind.
    partial = args.output.with_name(args.output.name + ".partial")
    embedder = None
    writer = None
    done = 0
    # With --on-error skip: (id, position, reason) of the light curves left out.
    skipped = [] if args.on_error == "skip" else None
    skipped_file = args.output.with_name(args.output.name + ".skipped.csv")
    start = time.perf_counter()
    progress = tqdm(
        total=source.n_objects, unit="obj", desc="embedding", disable=args.no_progress,
        file=sys.stderr,
    )
    try:
        batches = source.batches(
            args.batch_size, drop_placeholders=not args.keep_negative_times, skipped=skipped
        )
        for lc, extra, n_read in batches:
            if embedder is None:
                # max_epochs=0: fit only loads the weights, no training happens.
                embedder = AstromerEmbedder(
                    weights=args.weights,
                    pooling=args.pooling,
                    max_epochs=0,
                    inference_batch_size=args.inference_batch_size,
                    device=args.device,
                    random_state=0,
                ).fit(lc)
            values = embedder.transform(lc)
            columns = {"object_id": pa.array([str(i) for i in lc.ids], pa.string())}
            for name, text in extra.items():  # label and band, when the file has them
                columns[name] = pa.array(text.tolist(), pa.string())
            for j in range(values.shape[1]):
                columns[f"emb_{j}"] = pa.array(values[:, j])
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema)
            writer.write_table(table)
            done += len(lc)
            progress.update(n_read)
    except BaseException:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
        raise
    finally:
        progress.close()
    if skipped is not None:
        _write_skipped(skipped_file, skipped)
    if writer is None:
        raise InputError(f"{args.input}: no light curves to embed")
    writer.close()
    partial.replace(args.output)
    elapsed = time.perf_counter() - start
    summary = (
        f"embedded {done} light curves with {args.weights} ({args.pooling} pooling, "
        f"{values.shape[1]} features) on {embedder.device_} in {elapsed:.1f} s "
        f"-> {args.output}"
    )
    if skipped is not None:
        summary += f"; skipped {len(skipped)} invalid light curves -> {skipped_file}"
    print(summary)
    return 0


def _embed_dask(args):
    """``embed --dask SCHEDULER`` / ``--n-workers N``: see :func:`~sklearn_astromer.distributed.embed_file`."""
    from ._embedder import AstromerEmbedder
    from .distributed import embed_file

    if args.on_error != "raise" or args.band is not None or args.format == "csv":
        raise InputError("--dask and --n-workers read parquet input without --band and "
                         "--on-error skip")
    start = time.perf_counter()
    # The model, fitted (loaded, max_epochs=0) on the first batch as without Dask.
    first, _, _ = next(iter(_input_file(args).batches(
        args.batch_size, drop_placeholders=not args.keep_negative_times)))
    embedder = AstromerEmbedder(
        weights=args.weights, pooling=args.pooling, max_epochs=0,
        inference_batch_size=args.inference_batch_size, device=args.device,
        random_state=0,
    ).fit(first)
    n, workers = embed_file(
        embedder, args.input, args.output, scheduler=args.dask, n_workers=args.n_workers,
        threads=args.threads or 1, columns=args.columns,
        drop_placeholders=not args.keep_negative_times, progress=not args.no_progress,
    )
    print(f"embedded {n} light curves with {args.weights} ({args.pooling} pooling) on "
          f"{workers} Dask workers in {time.perf_counter() - start:.1f} s -> {args.output}")
    return 0


def _embed_multiband(args, bands):
    """``embed --band B1,B2``: per-band embeddings side by side, one row per object.

    Each band is read whole by the reader (cleaning and validation as for one band) and its
    rows are matched to objects by id. Columns: ``object_id``, ``label`` (when the file
    has it), then ``emb_<band>_<j>`` for each band in the given order and
    ``present_<band>`` (1 when the object has the band, 0 when its embedding is filled
    with zeros).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ._embedder import AstromerEmbedder
    from .multiband import MultiBandEmbedder, MultiBandLightCurves

    start = time.perf_counter()
    skipped = [] if args.on_error == "skip" else None
    skipped_file = args.output.with_name(args.output.name + ".skipped.csv")
    per_band, labels = {}, {}
    for band in bands:
        source = _InputFile(args.input, format=args.format, columns=args.columns, band=band)
        read = list(source.batches(
            None, drop_placeholders=not args.keep_negative_times, skipped=skipped
        ))
        if not read:
            raise InputError(f"{args.input}: no light curves in band {band!r}")
        (lc, extra, _), = read
        per_band[band] = lc
        if "label" in extra:
            labels.update(zip(map(str, lc.ids), extra["label"].tolist()))
    mb = MultiBandLightCurves.from_bands(per_band)
    embedder = MultiBandEmbedder(
        AstromerEmbedder(
            weights=args.weights, pooling=args.pooling, max_epochs=0,
            inference_batch_size=args.inference_batch_size, device=args.device,
            random_state=0,
        ),
        bands=bands,
    ).fit(mb)
    values = embedder.transform(mb)
    columns = {"object_id": pa.array([str(i) for i in mb.ids], pa.string())}
    if labels:
        columns["label"] = pa.array([labels.get(str(i)) for i in mb.ids], pa.string())
    j = 0
    for band in bands:  # the embedder's column order: each band's block, then the masks
        for k in range(embedder.band_widths_[band]):
            columns[f"emb_{band}_{k}"] = pa.array(values[:, j])
            j += 1
    for band in bands:
        columns[f"present_{band}"] = pa.array(values[:, j].astype(np.int8))
        j += 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    partial = args.output.with_name(args.output.name + ".partial")
    pq.write_table(pa.table(columns), partial)
    partial.replace(args.output)
    if skipped is not None:
        _write_skipped(skipped_file, skipped)
    counts = ", ".join(f"{band}: {len(mb.light_curves[band])}" for band in bands)
    summary = (
        f"embedded {len(mb)} objects in bands {','.join(bands)} ({counts} light curves) with "
        f"{args.weights} ({args.pooling} pooling, {values.shape[1]} features) in "
        f"{time.perf_counter() - start:.1f} s -> {args.output}"
    )
    if skipped is not None:
        summary += f"; skipped {len(skipped)} invalid light curves -> {skipped_file}"
    print(summary)
    return 0


def _write_skipped(path, skipped):
    """The light curves left out by ``--on-error skip``: id, position, reason."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as file:
        out = csv.writer(file)
        out.writerow(["id", "position", "reason"])
        for object_id, position, reason in skipped:
            out.writerow([object_id, position, reason])


def _finetune(args):
    from ._embedder import AstromerEmbedder

    # The whole file as one batch: the rows of an object in a long table may be anywhere.
    batches = _input_file(args).batches(None, drop_placeholders=not args.keep_negative_times)
    lc = next((lc for lc, _, _ in batches), None)
    if lc is None:
        raise InputError(f"{args.input}: no light curves to train on")
    sizes = {name: getattr(args, name) for name in _SIZES}
    architecture = dict(args.architecture)
    if args.weights is not None and (
        architecture or any(v is not None for v in sizes.values())
    ):
        raise InputError("architecture options apply only to a new model (--weights none)")
    embedder = AstromerEmbedder(
        weights=args.weights,
        preset=args.preset,
        architecture=architecture or None,
        **sizes,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        validation_fraction=args.validation_fraction,
        patience=args.patience,
        device=args.device,
        random_state=args.seed,
        verbose=0 if args.quiet else 1,
        checkpoint_dir=args.checkpoint_dir,
    )
    start = time.perf_counter()
    embedder.fit(lc)
    elapsed = time.perf_counter() - start
    from ._ddp import is_main_process

    if not is_main_process():
        return 0  # under torchrun: rank 0 saves and reports
    path = embedder.save(args.output)
    history = embedder.history_
    last = f", last train loss {history[-1]['train_loss']:.4f}" if history else ""
    if history and "valid_loss" in history[-1]:
        best = min(epoch["valid_loss"] for epoch in history)
        last += f", best valid loss {best:.4f}"
    print(
        f"trained {args.weights or 'a new model'} on {len(lc)} light curves for "
        f"{len(history)} epochs{last} on {embedder.device_} in {elapsed:.1f} s -> {path}"
    )
    return 0


def _quickstart(args):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score, classification_report, f1_score
    from sklearn.model_selection import train_test_split

    from ._embedder import AstromerEmbedder
    from .datasets import make_light_curves

    # Astromer 2 blocks (residuals, key masking, [MASK] token) learn faster from scratch
    # than the Astromer 1 ones; max pooling keeps the amplitude information that a mean
    # of window-centred magnitudes averages away.
    if args.quick:
        n_per_class, epochs, sizes = 25, 3, dict(n_layers=1, n_heads=2, d_model=32, d_ff=64)
    else:
        n_per_class, epochs, sizes = 80, 15, dict(n_layers=2, n_heads=4, d_model=64, d_ff=128)
    timings = {}

    tic = time.perf_counter()
    X, y = make_light_curves(n_per_class=n_per_class, n_obs=(60, 200), random_state=args.seed)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=args.seed
    )
    timings["data"] = time.perf_counter() - tic
    lengths = np.array([len(x) for x in X])
    classes, counts = np.unique(y, return_counts=True)
    print("== data ==")
    print(
        f"{len(X)} synthetic light curves (make_light_curves), {len(classes)} classes: "
        + ", ".join(f"{c} {n}" for c, n in zip(classes, counts))
    )
    print(
        f"{lengths.min()}-{lengths.max()} observations each (median {int(np.median(lengths))}); "
        f"train {len(X_train)} / test {len(X_test)}"
    )

    embedder = AstromerEmbedder(
        weights=None,
        preset="astromer2",
        **sizes,
        window_length=100,
        pooling="max",
        max_epochs=epochs,
        batch_size=32,
        lr=1e-3,
        device=args.device,
        random_state=args.seed,
    )
    tic = time.perf_counter()
    embedder.fit(X_train)
    timings["self-supervised training"] = time.perf_counter() - tic
    config = embedder.config_
    print("\n== model ==")
    print(
        f"Astromer 2 ({config.n_layers} blocks, {config.n_heads} heads, d_model "
        f"{config.d_model}, d_ff {config.d_ff}, windows of {config.window_length}), "
        f"{embedder.module_.n_parameters():,} parameters, random initialisation, "
        f"on {embedder.device_}"
    )
    print("self-supervised masked reconstruction on the training light curves:")
    for epoch in embedder.history_:
        print(
            f"  epoch {epoch['epoch']:2d}  train loss (masked RMSE, mag) "
            f"{epoch['train_loss']:.4f}  {epoch['dur']:.1f} s"
        )

    tic = time.perf_counter()
    E_train = embedder.transform(X_train)
    E_test = embedder.transform(X_test)
    timings["embedding"] = time.perf_counter() - tic
    print("\n== embeddings ==")
    print(
        f"train {E_train.shape}, test {E_test.shape} (pooling='max': maximum of the "
        "last block's outputs over each light curve's observations)"
    )

    tic = time.perf_counter()
    forest = RandomForestClassifier(n_estimators=300, random_state=args.seed, n_jobs=-1)
    predicted = forest.fit(E_train, y_train).predict(E_test)
    timings["random forest"] = time.perf_counter() - tic
    print("\n== classification: random forest on the embeddings, held-out test set ==")
    print(
        f"macro-F1 {f1_score(y_test, predicted, average='macro'):.3f}   "
        f"accuracy {accuracy_score(y_test, predicted):.3f}"
    )
    print(classification_report(y_test, predicted, digits=3, zero_division=0))

    print("== timings ==")
    for step, seconds in timings.items():
        print(f"  {step:<26} {seconds:6.1f} s")
    print(f"  {'total':<26} {sum(timings.values()):6.1f} s")
    return 0


def _export(args):
    """``export``: see :func:`~sklearn_astromer._onnx.export_onnx`."""
    from ._inference import encode
    from ._model import Astromer
    from ._onnx import DEFAULT_OPSET, OnnxEncoder, export_onnx
    from ._pooling import LayerWeighting
    from .weights import resolve_weights

    config, state, extra = resolve_weights(args.weights)
    module = Astromer(config)
    module.load_state_dict(state)
    module.eval()
    saved = (extra or {}).get("layer_weighting")
    path = export_onnx(
        module, args.output, layer_means=args.layer_means, opset=args.opset or DEFAULT_OPSET,
        weights=args.weights, layer_weighting=LayerWeighting.from_dict(saved) if saved else None,
    )
    print(f"wrote {path} and {path}.json (opset {args.opset or DEFAULT_OPSET}, "
          f"{config.name}, window length {config.window_length})")
    if not args.check:
        return 0
    from .datasets import load_crts_sample

    lc, _ = load_crts_sample(as_light_curves=True)
    statistics = ["mean", "max"] + (["layer_means"] if args.layer_means else [])
    ours = encode(module, lc, statistics)
    theirs = OnnxEncoder.from_file(path).encode(lc, statistics)
    worst = 1.0
    for name in statistics:
        a = ours[name].reshape(len(lc), -1).astype(np.float64)
        b = theirs[name].reshape(len(lc), -1).astype(np.float64)
        cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        worst = min(worst, cos.min())
        print(f"{name}: per-object cosine to the package min {cos.min():.9f}, "
              f"mean {cos.mean():.9f} ({len(lc)} CRTS curves)")
    if worst < 0.9999:
        print(f"{_PROG} export: error: the file disagrees with the package "
              f"(cosine {worst:.6f} < 0.9999)", file=sys.stderr)
        return 1
    return 0


_COMMANDS = {"quickstart": _quickstart, "embed": _embed, "finetune": _finetune,
             "export": _export}


def main(argv=None):
    """Run the ``sklearn-astromer`` command line.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments after the program name; None reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 2 when the input is invalid or a file cannot be read or written
        (the message is printed to stderr).
        Invalid options exit with status 2 through :class:`SystemExit`.

    Examples
    --------
    >>> from sklearn_astromer.cli import main
    >>> main(["quickstart", "--quick"])  # doctest: +SKIP
    """
    args = _parser().parse_args(argv)
    import torch

    threads = torch.get_num_threads()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        return _COMMANDS[args.command](args)
    except (ValueError, OSError) as exc:
        # ValueError: InputError, or invalid values reaching the estimators (the funnel's
        # messages name the object); OSError: unreadable input, unwritable output, or
        # released weights neither cached nor downloadable. The user needs the message,
        # not a traceback.
        print(f"{_PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        # Called in-process (tests, notebooks), leave torch as it was found.
        torch.set_num_threads(threads)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
