"""Peak memory of ``AstromerEmbedder.transform`` from Python, against the number of curves.

Each count runs in a fresh subprocess, which builds the light curves, fits
(loads) the embedder, reads its resident memory (the *baseline*: Python,
torch, the model and the input), runs ``transform`` once and reads its peak
resident memory (``ru_maxrss``). The difference is what ``transform`` itself
needs; with the block-wise transform it stays flat as the count grows, apart
from the float32 output (``n_curves x n_features x 4`` bytes), which is
reported beside it.

The light curves are synthetic magnitudes on real cadences: contiguous
segments of ``--n-obs`` observation times cut from the CRTS training file
(``shared/data/crts_train.parquet``, drawn with replacement), with a periodic
signal and Gaussian noise, so that counts past the file's size keep the
survey's sampling. Without the file, times are drawn from a seasonal pattern
by :func:`sklearn_astromer.datasets.make_light_curves`.

Run from the repository root::

    nice -n 10 python benchmarks/transform_memory.py --counts 1000 16000 100000

Results go to ``benchmarks/results/transform_memory/results-<weights>-<n>obs.json``
and ``table-<weights>-<n>obs.md``. ``--weights small`` uses a small random
model (2 blocks, d_model 64) instead of the released one, for large counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CRTS = REPO.parent / "shared" / "data" / "crts_train.parquet"
RESULTS = REPO / "benchmarks" / "results" / "transform_memory"


def _rss_mib():
    """Current resident memory of this process, MiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def make_curves(n, n_obs, seed):
    """``n`` light curves of ``n_obs`` observations on real CRTS cadences."""
    from sklearn_astromer._lightcurves import LightCurves

    rng = np.random.default_rng(seed)
    if CRTS.exists():
        import pyarrow.parquet as pq

        column = pq.read_table(CRTS, columns=["mjd"]).column("mjd").combine_chunks()
        lengths = np.diff(column.offsets.to_numpy())
        flat = column.values.to_numpy()
        starts = column.offsets.to_numpy()[:-1]
        usable = np.flatnonzero(lengths >= n_obs)
        pick = rng.choice(usable, size=n)
        first = starts[pick] + rng.integers(0, lengths[pick] - n_obs + 1)
        time_ = flat[first[:, None] + np.arange(n_obs)].ravel()
    else:
        from sklearn_astromer.datasets import make_light_curves

        X, _ = make_light_curves(n_per_class=1, n_obs=n_obs, random_state=seed)
        base = np.asarray(X[0])[:, 0]
        time_ = np.tile(base, n) + np.repeat(rng.uniform(0, 100, n), n_obs)
    period = np.repeat(rng.uniform(0.2, 50.0, n), n_obs)
    phase = np.repeat(rng.uniform(0, 1, n), n_obs)
    mag = (15 + 0.3 * np.sin(2 * np.pi * (time_ / period + phase))
           + rng.normal(0, 0.05, n * n_obs))
    err = np.full(n * n_obs, 0.05)
    offsets = np.arange(n + 1, dtype=np.int64) * n_obs
    ids = np.array([f"obj{i}" for i in range(n)])
    return LightCurves(time=time_, mag=mag, err=err, offsets=offsets, ids=ids)


def child(n, n_obs, weights, threads):
    import torch

    from sklearn_astromer import AstromerEmbedder

    torch.set_num_threads(threads)
    lc = make_curves(n, n_obs, seed=0)
    if weights == "small":
        # A 2-block d_model=64 model with random weights: the same code paths at a
        # sixteenth of the matrix-product cost, for counts a loaded machine cannot
        # embed with the released model in reasonable time.
        emb = AstromerEmbedder(weights=None, n_layers=2, n_heads=4, d_model=64, d_ff=128,
                               max_epochs=0, random_state=0)
    else:
        emb = AstromerEmbedder(weights=weights, max_epochs=0, random_state=0)
    emb.fit(lc.subset([0]))
    baseline, peak_before = _rss_mib(), _peak_mib()
    start = time.perf_counter()
    out = emb.transform(lc)
    elapsed = time.perf_counter() - start
    peak = _peak_mib()
    print(json.dumps({
        "n_curves": n,
        "n_obs": n_obs,
        "input_mib": (lc.time.nbytes + lc.mag.nbytes + lc.err.nbytes) / 2**20,
        "output_mib": out.nbytes / 2**20,
        "baseline_rss_mib": baseline,
        "peak_before_transform_mib": peak_before,
        "peak_rss_mib": peak,
        "transform_extra_mib": peak - max(baseline, 0.0),
        "seconds": elapsed,
        "curves_per_s": n / elapsed,
        "finite": bool(np.isfinite(out).all()),
    }))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 16000, 100000])
    parser.add_argument("--n-obs", type=int, default=100,
                        help="observations per light curve (default: 100, one window)")
    parser.add_argument("--weights", default="macho",
                        help="released weights, or 'small' for a small random model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        return child(args.child, args.n_obs, args.weights, args.threads)
    rows = []
    for n in args.counts:
        cmd = [sys.executable, __file__, "--child", str(n), "--n-obs", str(args.n_obs),
               "--weights", args.weights, "--threads", str(args.threads)]
        result = subprocess.run(cmd, capture_output=True, text=True, check=True)
        row = json.loads(result.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"machine": f"{platform.processor() or platform.machine()}, "
                       f"{os.cpu_count()} cores", "argv": sys.argv[1:],
            "load_average": os.getloadavg()}
    tag = f"{args.weights}-{args.n_obs}obs"
    (RESULTS / f"results-{tag}.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = [
        "| curves | input (MiB) | output (MiB) | baseline RSS (MiB) | peak RSS (MiB) "
        "| transform's extra (MiB) | curves/s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n_curves']:,} | {r['input_mib']:.1f} | {r['output_mib']:.1f} "
            f"| {r['baseline_rss_mib']:.0f} | {r['peak_rss_mib']:.0f} "
            f"| {r['transform_extra_mib']:.0f} | {r['curves_per_s']:.0f} |"
        )
    (RESULTS / f"table-{tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
