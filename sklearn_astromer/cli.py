"""The ``sklearn-astromer`` command line: quickstart, embed and finetune.

``quickstart`` trains a small Astromer on synthetic light curves and reports how well
its embeddings classify them; ``embed`` streams a parquet or CSV file of light curves
through a model and writes one row of embeddings per object; ``finetune`` trains a model
self-supervised on a file of light curves and saves it for ``embed --weights``.

Run ``sklearn-astromer COMMAND --help`` for each command's options.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

from ._base import _SIZES
from ._lightcurves import DEFAULT_COLUMNS, _column_names

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
        "--band", default=None, help="keep only the rows of this passband (needs a 'band' column)"
    )
    parser.add_argument(
        "--format",
        choices=("auto", "parquet", "csv"),
        default="auto",
        help="file format; auto goes by the extension (default: auto)",
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
        choices=("mean", "max", "layers", "weighted"),
        default="mean",
        help="how per-observation outputs become one row per object (default: mean)",
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
    embed.add_argument("--no-progress", action="store_true", help="hide the progress bar")

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
    tune.add_argument("--quiet", action="store_true", help="print only the summary")
    return parser


# --------------------------------------------------------------------------- reading


def _format(path, fmt):
    if fmt != "auto":
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if ".parquet" in suffixes or ".pq" in suffixes:
        return "parquet"
    if ".csv" in suffixes:
        return "csv"
    raise InputError(f"{path}: cannot tell the format from the name; pass --format")


class _Reader:
    """Light curves of one file, as pandas DataFrames of whole objects.

    Parameters
    ----------
    path : pathlib.Path
    fmt : {"auto", "parquet", "csv"}
    columns : dict
        Column names overriding the defaults.
    band : str or None
        Keep only rows of this passband.
    """

    def __init__(self, path, fmt, columns, band):
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        self.path = path
        self.format = _format(path, fmt)
        self.names = _column_names(columns)
        self.band = band
        self.nested = False
        self.n_objects = None
        if self.format == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            try:
                self._file = pq.ParquetFile(path)
            except pa.ArrowException as exc:
                raise InputError(f"{path}: not a readable parquet file ({exc})") from exc
            schema = self._file.schema_arrow
            self.available = list(schema.names)
            self._check_columns()
            kind = schema.field(self.names["time"]).type
            self.nested = pa.types.is_list(kind) or pa.types.is_large_list(kind)
            if self.nested and band is None:
                self.n_objects = self._file.metadata.num_rows
        else:
            import pandas as pd

            try:
                self.available = list(pd.read_csv(path, nrows=0).columns)
            except (ValueError, UnicodeDecodeError) as exc:
                raise InputError(f"{path}: not a readable CSV file ({exc})") from exc
            self._check_columns()
        if not self.nested and self.names["id"] not in self.available:
            raise InputError(
                f"{path}: a table with one row per observation needs an object id column "
                f"{self.names['id']!r}; it has {self.available}. Use --columns id=.. to "
                "name it"
            )

    def _check_columns(self):
        wanted = [self.names[key] for key in ("time", "mag")]
        missing = [name for name in wanted if name not in self.available]
        if self.band is not None and "band" not in self.available:
            missing.append("band")
        if missing:
            raise InputError(
                f"{self.path}: missing column(s) {missing}; it has {self.available}. "
                "Use --columns id=..,time=..,mag=..,err=.. to name other columns"
            )

    def _wanted(self):
        keys = [self.names[key] for key in ("id", "time", "mag", "err")]
        extra = [name for name in ("label", "band") if name in self.available]
        return list(dict.fromkeys(name for name in keys + extra if name in self.available))

    def _filter_band(self, frame):
        if self.band is None:
            return frame
        return frame[frame["band"] == self.band]

    def read_all(self):
        """The whole file as one DataFrame."""
        import pandas as pd

        if self.format == "parquet":
            table = self._file.read(columns=self._wanted())
            return self._filter_band(table.to_pandas(types_mapper=pd.ArrowDtype))
        return self._filter_band(pd.read_csv(self.path, usecols=self._wanted(), dtype=self._dtypes()))

    def _dtypes(self):
        # Ids, labels and bands stay text: a chunk of numeric-looking ids must not turn
        # into integers while another holds strings.
        return {name: str for name in (self.names["id"], "label", "band") if name in self.available}

    def batches(self, n_objects):
        """Yield DataFrames of about ``n_objects`` whole objects each."""
        import pandas as pd

        if self.nested:
            for batch in self._file.iter_batches(batch_size=n_objects, columns=self._wanted()):
                frame = self._filter_band(batch.to_pandas(types_mapper=pd.ArrowDtype))
                if len(frame):
                    yield frame
            return
        # Rows per read: room for n_objects curves of a few hundred observations.
        rows = max(1024, 256 * n_objects)
        if self.format == "parquet":
            chunks = (
                b.to_pandas() for b in self._file.iter_batches(batch_size=rows, columns=self._wanted())
            )
        else:
            chunks = pd.read_csv(
                self.path, usecols=self._wanted(), dtype=self._dtypes(), chunksize=rows
            )
        yield from _whole_objects(
            (self._filter_band(chunk) for chunk in chunks), self.names["id"], n_objects, self.path
        )


def _whole_objects(chunks, id_column, n_objects, path):
    """Regroup row chunks of a long table into DataFrames of whole objects.

    The last object of a chunk may continue in the next one, so its rows are held back
    until another object starts. The ids of finished objects are remembered (not their
    rows) so that an object whose rows are not consecutive raises an
    :class:`InputError` instead of being embedded twice from partial light curves.
    """
    import pandas as pd

    finished = set()
    pending = []  # chunks not yet yielded: whole objects, then the open one
    n_pending = 0  # objects in pending, the open one included
    open_id, has_open = None, False
    for chunk in chunks:
        if not len(chunk):
            continue
        ids = chunk[id_column]
        missing = ids.isna().to_numpy()
        if missing.any():
            raise InputError(
                f"{path}: missing object id in column {id_column!r} (after "
                f"{len(finished)} complete objects)"
            )
        runs = ids.to_numpy()[ids.ne(ids.shift()).to_numpy()]
        if has_open and runs[0] == open_id:
            runs = runs[1:]  # the open object continues in this chunk
        if len(runs):
            if has_open:
                finished.add(open_id)
            index = pd.Index(runs)
            repeated = [i for i in runs if i in finished] + list(index[index.duplicated()])
            if repeated:
                raise InputError(
                    f"{path}: the rows of object {repeated[0]!r} are not consecutive; "
                    f"sort the file by {id_column!r} (embed reads the rows of one object "
                    "together)"
                )
            finished.update(runs[:-1])
            open_id, has_open = runs[-1], True
            n_pending += len(runs)
        pending.append(chunk)
        if n_pending > n_objects:
            frame = pd.concat(pending, ignore_index=True)
            tail = frame[id_column].eq(open_id).to_numpy()
            yield from _groups(frame[~tail], id_column, n_objects)
            pending, n_pending = [frame[tail]], 1
    if pending:
        yield from _groups(pd.concat(pending, ignore_index=True), id_column, n_objects)


def _groups(frame, id_column, n_objects):
    """Split a long table of whole objects into tables of ``n_objects`` objects."""
    ids = frame[id_column]
    group = (ids.ne(ids.shift()).cumsum().to_numpy() - 1) // n_objects
    bounds = np.flatnonzero(np.diff(group)) + 1
    for rows in np.split(np.arange(len(frame)), bounds):
        yield frame.iloc[rows[0] : rows[-1] + 1]


def _light_curves(frame, names, path, first):
    """The funnel on one batch, its errors renumbered from the start of the file."""
    from ._lightcurves import as_light_curves

    try:
        return as_light_curves(frame, columns=names)
    except ValueError as exc:
        # The funnel numbers objects within the batch; the user needs their position
        # in the file (the object id follows it when the file has ids).
        message = re.sub(
            r"^light curve (\d+)",
            lambda m: f"light curve {int(m.group(1)) + first}",
            str(exc),
        )
        raise InputError(f"{path}: {message}") from exc


def _batch_labels(frame, names, nested, column):
    """One value of ``column`` per object of the batch, in the funnel's object order."""
    values = frame[column]
    if not nested:
        # The funnel orders a long table's objects by first appearance.
        values = values[~frame[names["id"]].duplicated()]
    import pandas as pd

    return [None if pd.isna(v) else str(v) for v in values.astype(object).to_numpy()]


# --------------------------------------------------------------------------- commands


def _embed(args):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    from ._embedder import AstromerEmbedder

    if args.weights.lower() == "none":
        raise InputError("embed needs trained weights: macho, atlas or a saved model folder")
    reader = _Reader(args.input, args.format, args.columns, args.band)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the output and renamed at the end, so that a run stopped by a bad
    # light curve halfway through the file leaves no truncated output behind.
    partial = args.output.with_name(args.output.name + ".partial")
    names = reader.names
    embedder = None
    writer = None
    done = 0
    start = time.perf_counter()
    progress = tqdm(
        total=reader.n_objects, unit="obj", desc="embedding", disable=args.no_progress,
        file=sys.stderr,
    )
    try:
        for frame in reader.batches(args.batch_size):
            lc = _light_curves(frame, names, args.input, done)
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
            ids = lc.ids if lc.ids is not None else np.arange(done, done + len(lc))
            columns = {"object_id": pa.array([str(i) for i in ids], pa.string())}
            for extra in ("label", "band"):
                if extra in frame.columns:
                    columns[extra] = pa.array(
                        _batch_labels(frame, names, reader.nested, extra), pa.string()
                    )
            for j in range(values.shape[1]):
                columns[f"emb_{j}"] = pa.array(values[:, j])
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema)
            writer.write_table(table)
            done += len(lc)
            progress.update(len(lc))
    except BaseException:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
        raise
    finally:
        progress.close()
    if writer is None:
        raise InputError(f"{args.input}: no light curves to embed")
    writer.close()
    partial.replace(args.output)
    elapsed = time.perf_counter() - start
    print(
        f"embedded {done} light curves with {args.weights} ({args.pooling} pooling, "
        f"{values.shape[1]} features) on {embedder.device_} in {elapsed:.1f} s "
        f"-> {args.output}"
    )
    return 0


def _finetune(args):
    from ._embedder import AstromerEmbedder

    reader = _Reader(args.input, args.format, args.columns, args.band)
    lc = _light_curves(reader.read_all(), reader.names, args.input, 0)
    sizes = {name: getattr(args, name) for name in _SIZES}
    if args.weights is not None and any(v is not None for v in sizes.values()):
        raise InputError("architecture options apply only to a new model (--weights none)")
    embedder = AstromerEmbedder(
        weights=args.weights,
        preset=args.preset,
        **sizes,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        validation_fraction=args.validation_fraction,
        patience=args.patience,
        device=args.device,
        random_state=args.seed,
        verbose=0 if args.quiet else 1,
    )
    start = time.perf_counter()
    embedder.fit(lc)
    elapsed = time.perf_counter() - start
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


_COMMANDS = {"quickstart": _quickstart, "embed": _embed, "finetune": _finetune}


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
