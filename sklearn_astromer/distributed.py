"""Embed partitioned light-curve catalogues on a Dask cluster.

:func:`embed_dask` runs a fitted :class:`~sklearn_astromer.AstromerEmbedder`
over a partitioned table (parquet files, or a Dask DataFrame) on a
``dask.distributed`` cluster and returns one row per object:

- the embedder is sent to every worker once (``Client.scatter`` with
  ``broadcast=True``); each partition's task receives the worker's copy;
- a worker holds one partition at a time and embeds it with ``transform``,
  which works in blocks, so its memory is bounded by the partition's size;
- rows keep their object ids and come back in order of each object's first
  row in the table (partition by partition), which does not depend on how the
  table is partitioned; this is also the order ``transform`` gives the whole
  table as one DataFrame;
- in the *long* schema (one row per observation) an object whose rows fall in
  two or more partitions is *regrouped*: its partial embeddings are dropped,
  its rows are brought together by a shuffle on the id (of those objects'
  rows only) and it is embedded whole. In a table sorted or grouped by object
  (as surveys write them) that is at most two objects per partition boundary;
  a table in random row order is correct too, but all its objects are then
  embedded twice: shuffle it on the id first (``ddf.shuffle(on="object_id")``).
  Rows need not be in time order.

Both schemas of :func:`~sklearn_astromer.datasets.load_light_curves` are
read: *nested* (one row per object, list columns) and *long* (one row per
observation, with an id column).

Needs ``dask[distributed]`` (``pip install "sklearn-astromer[dask]"``).

Training on several processes is PyTorch's: run the script under ``torchrun``
(see :mod:`sklearn_astromer._ddp` and the "Scaling out" guide);
:func:`is_main_process` tells the process that should save or print.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._ddp import is_main_process
from ._lightcurves import DEFAULT_COLUMNS, _holds_arrays, as_light_curves

__all__ = ["embed_dask", "embed_file", "read_light_curve_table", "is_main_process"]

#: Extra columns of a partition's result: where each object's first row is.
_ORDER = ("_partition", "_row")


def _require_dask():
    try:
        import dask.dataframe as dd
        from dask import distributed
    except ImportError as exc:  # pragma: no cover - exercised without dask only
        raise ImportError(
            "embedding on Dask needs dask[distributed] and dask[dataframe]: "
            'pip install "sklearn-astromer[dask]"'
        ) from exc
    return dd, distributed


def read_light_curve_table(paths, *, columns=None, **kwargs):
    """Open parquet files of light curves as a Dask DataFrame, lazily.

    Parameters
    ----------
    paths : str, path-like or list of them
        Files, a folder of parquet files or a glob pattern, as
        :func:`dask.dataframe.read_parquet` takes them. Long (one row per
        observation) or nested (one row per object, list columns) schema.
    columns : dict, default=None
        Column names overriding ``{"id": "object_id", "time": "mjd", "mag":
        "mag", "err": "mag_err"}``; only these columns are read.
    **kwargs
        Passed to :func:`dask.dataframe.read_parquet` (e.g. ``split_row_groups``
        to make one partition per row group).

    Returns
    -------
    dask.dataframe.DataFrame
    """
    dd, _ = _require_dask()
    import pyarrow.parquet as pq

    names = {**DEFAULT_COLUMNS, **(columns or {})}
    first = paths[0] if isinstance(paths, (list, tuple)) else paths
    try:
        available = set(pq.read_schema(first).names)
    except (OSError, ValueError):  # a folder or a glob: let Dask find the files
        available = None
    wanted = [names[k] for k in ("id", "time", "mag", "err")]
    if available is not None:
        wanted = [c for c in wanted if c in available]
    if isinstance(paths, (list, tuple)):
        paths = [str(p) for p in paths]
    else:
        paths = str(paths)
    return dd.read_parquet(paths, columns=wanted, **kwargs)


def _embed_partition(frame, embedder, names, drop_placeholders=False, partition_info=None):
    """Embed the objects of one partition, one row each, with where its first row was.

    Returns
    -------
    pandas.DataFrame
        Index ``object_id``; columns ``_partition`` (the partition's number),
        ``_row`` (the object's first row in it) and the embedding ``emb_0``,
        ``emb_1``, ...
    """
    number = partition_info["number"] if partition_info else 0
    features = [f"emb_{j}" for j in range(embedder._n_features_out)]
    if not len(frame):
        return _empty_result(features)
    ids = frame[names["id"]]
    if _holds_arrays(frame[names["time"]]) and ids.duplicated().any():
        raise ValueError(
            f"object {ids[ids.duplicated()].iloc[0]!r} is on several rows of a nested table "
            "(one row per object, list columns); merge its rows or give them distinct ids"
        )
    lc = as_light_curves(frame, columns=names)
    if drop_placeholders:
        from .datasets import drop_placeholder_times

        lc = drop_placeholder_times(lc)
    # Objects come in order of first appearance (long) or of rows (nested).
    _, first_row = np.unique(pd.factorize(frame[names["id"]], sort=False)[0],
                             return_index=True)
    out = pd.DataFrame(embedder.transform(lc), index=pd.Index(lc.ids, name="object_id"),
                       columns=features)
    out.insert(0, "_row", first_row.astype(np.int64))
    out.insert(0, "_partition", np.int64(number))
    return out


def _empty_result(features):
    out = pd.DataFrame(
        {"_partition": pd.Series([], dtype=np.int64), "_row": pd.Series([], dtype=np.int64),
         **{f: pd.Series([], dtype=np.float32) for f in features}},
    )
    out.index.name = "object_id"
    return out


def embed_dask(embedder, data, *, client=None, columns=None, drop_placeholders=False,
               progress=False):
    """Embed a partitioned light-curve table on a Dask cluster.

    Parameters
    ----------
    embedder : AstromerEmbedder
        Fitted; sent to each worker once.
    data : dask.dataframe.DataFrame, str, path-like or list of them
        The light curves: a Dask DataFrame, or parquet files opened with
        :func:`read_light_curve_table`. Long schema (one row per observation,
        with the id column) or nested (one row per object, list columns).
        Long tables need not be sorted: an object's rows may be anywhere in
        its partition, and objects split between partitions are regrouped
        (see the module's notes).
    client : dask.distributed.Client, default=None
        The cluster to run on; None takes the current client
        (``distributed.get_client()``).
    columns : dict, default=None
        Column names overriding ``{"id": "object_id", "time": "mjd", "mag":
        "mag", "err": "mag_err"}``; None uses the embedder's ``columns``.
    drop_placeholders : bool, default=False
        Drop observations at placeholder times (before MJD 0) as
        :func:`~sklearn_astromer.datasets.drop_placeholder_times` does (a light
        curve of placeholders only raises); the command line does by default.
    progress : bool or callable, default=False
        True shows a tqdm bar of partitions done; a callable is called with the
        number of partitions (once, first) and then once per partition done,
        with 1.

    Returns
    -------
    embeddings : pandas.DataFrame of shape (n_objects, n_features), float32
        Indexed by ``object_id`` (for nested tables without an id column:
        ``"p<partition>_<row>"``), columns ``emb_0``, ``emb_1``, ..., in order of
        each object's first row in the table.

    Raises
    ------
    ValueError
        A light curve is invalid (the message names it, as ``transform``'s do),
        or ``data`` lacks a needed column.

    Examples
    --------
    >>> from dask.distributed import Client, LocalCluster    # doctest: +SKIP
    >>> with LocalCluster(n_workers=2) as cluster, Client(cluster) as client:
    ...     table = read_light_curve_table("catalogue/*.parquet")
    ...     embeddings = embed_dask(embedder, table, client=client, progress=True)
    """
    from sklearn.utils.validation import check_is_fitted

    dd, distributed = _require_dask()
    check_is_fitted(embedder, "module_")
    if not isinstance(data, dd.DataFrame):
        data = read_light_curve_table(data, columns=columns or embedder.columns)
    names = {**DEFAULT_COLUMNS, **(columns or embedder.columns or {})}
    missing = [names[k] for k in ("time", "mag") if names[k] not in data.columns]
    if missing:
        raise ValueError(
            f"the table has no column(s) {missing}; it has {list(data.columns)}. Pass "
            "columns={'id': ..., 'time': ..., 'mag': ..., 'err': ...} to use other names"
        )
    if names["id"] not in data.columns:
        raise ValueError(
            f"embedding a partitioned table needs its object id column {names['id']!r}, "
            f"which names each row of the result; the table has {list(data.columns)}"
        )
    client = client if client is not None else distributed.get_client()

    # Send the model once; every partition's task gets its worker's copy.
    model = client.scatter(embedder, broadcast=True, hash=False)
    meta = _empty_result([f"emb_{j}" for j in range(embedder._n_features_out)])
    out = _compute(client, data.map_partitions(_embed_partition, model, names, drop_placeholders,
                                                     meta=meta),
                   progress, "embedding")
    split = out.index[out.index.duplicated()].unique()
    if len(split):
        # Objects with rows in several partitions (long tables; in a nested table
        # the regrouped rows are refused by _embed_partition as a repeated id):
        # embedded again from all their rows, brought together by a shuffle on the
        # id, and put at the place of their first row.
        out = out.sort_values(list(_ORDER), kind="stable")
        place = out[~out.index.duplicated(keep="first")].loc[split, list(_ORDER)]
        # Few rows as a rule (at most two objects per partition boundary in a table
        # sorted by object): one output partition per 1000 objects.
        rows = data[data[names["id"]].isin(list(split))].shuffle(
            on=names["id"], npartitions=len(split) // 1000 + 1
        )
        whole = _compute(client, rows.map_partitions(_embed_partition, model, names,
                                                     drop_placeholders, meta=meta), progress, "regrouping")
        whole[list(_ORDER)] = place.loc[whole.index].to_numpy()
        out = pd.concat([out.drop(split), whole])
    out = out.sort_values(list(_ORDER), kind="stable")
    return out.drop(columns=list(_ORDER)).astype(np.float32)


def _compute(client, frame, progress, what):
    """Compute a Dask DataFrame partition by partition; concatenate in partition order."""
    futures = client.compute(frame.to_delayed())
    advance = _progress(progress, len(futures), what)
    from dask.distributed import as_completed

    for _ in as_completed(futures):
        advance(1)
    frames = client.gather(futures)
    return pd.concat(frames) if frames else frame._meta


def _progress(progress, total, what):
    """A callable advancing a progress display by n."""
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="partition", desc=what)

        def advance(n):
            bar.update(n)
            if bar.n >= total:
                bar.close()

        return advance
    if callable(progress):
        progress(total)
        return progress
    return lambda n: None


def embed_file(embedder, source, output, *, scheduler=None, n_workers=None, threads=1,
               columns=None, drop_placeholders=True, progress=True):
    """Embed parquet files on a Dask cluster and write one parquet file (``embed --dask``).

    Parameters
    ----------
    embedder : AstromerEmbedder
        Fitted.
    source : str or path-like
        A parquet file, a folder of them or a glob pattern (long or nested schema).
    output : path-like
        Parquet file written with ``object_id`` and ``emb_0``, ``emb_1``, ...;
        written beside and renamed at the end, so a failed run leaves none.
    scheduler : str, default=None
        Address of a running Dask scheduler (``tcp://host:8786``).
    n_workers : int, default=None
        Without ``scheduler``: start a ``LocalCluster`` of this many worker
        processes on this machine, each running one task at a time with
        ``threads`` torch threads.
    threads : int, default=1
    columns : dict, default=None
    drop_placeholders : bool, default=True
    progress : bool, default=True

    Returns
    -------
    n_objects : int
    n_workers : int
        Workers of the cluster used.
    """
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    _, distributed = _require_dask()
    if scheduler is not None:
        cluster, client = None, distributed.Client(scheduler)
    else:
        # One task at a time per worker process, with ``threads`` torch threads.
        cluster = distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True,
            dashboard_address=None, env={"OMP_NUM_THREADS": str(threads)},
        )
        client = distributed.Client(cluster)
    try:
        workers = len(client.scheduler_info()["workers"])
        out = embed_dask(embedder, source, client=client, columns=columns,
                         drop_placeholders=drop_placeholders, progress=progress)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    table = pa.table({"object_id": pa.array([str(i) for i in out.index], pa.string()),
                      **{name: pa.array(out[name].to_numpy()) for name in out.columns}})
    pq.write_table(table, partial)
    partial.replace(output)
    return len(out), workers
