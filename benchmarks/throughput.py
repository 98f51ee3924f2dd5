"""Inference throughput: this package (torch and onnxruntime), light_curve.embed, and
the official Astromer 1 package.

Embeds the same real CRTS light curves with the same released weights
(``macho``), on the same machine and in one invocation, each side in its own
subprocess:

- with this package (``as_light_curves`` + ``encode``, what
  ``AstromerEmbedder.transform`` runs with the default ``backend="torch"``);
- with this package's onnxruntime path (what ``backend="onnxruntime"`` runs:
  the same windows, the encoder exported once by ``export_onnx`` and run by
  onnxruntime, one single-threaded session run per core at a time);
- with ``light_curve.embed.Astromer1`` (its public class, one call per light
  curve, as its documentation shows) on the same exported file, under an
  onnxruntime session with one intra-op thread per core; its windows are
  ``ceil(n / 200)`` consecutive ones like ours, except that its last window is
  the remainder, padded, where ours ends at the last observation, so its
  embeddings equal ours only for curves of at most 200 observations;
- with the official TensorFlow package (PyPI ``ASTROMER==0.1.8``, its own
  ``SingleBandEncoder.encode``), in a subprocess of a virtual environment this
  script creates under ``benchmarks/.cache/`` (``tensorflow-cpu``,
  ``tf-keras``, ``tensorboard``; ``TF_USE_LEGACY_KERAS=1``). Its
  ``from_pretraining`` downloads from a URL that no longer serves the
  weights; it skips the download when ``weights/<name>/`` exists in the
  working directory, so the official archive is unpacked there.

Light curves go to both sides, and embeddings come back, as ``.npz`` files.
Each side reports windows/s, light curves/s, CPU seconds and its process's
peak resident memory. Agreement is checked on what was timed: per-object
embeddings (mean over the covering windows), per-window mean embeddings and
per-observation embeddings on the official window rule.

The "ceiling" is the time the model's matrix products alone would take at
this machine's measured float32 GEMM rate (a matmul of the shapes of the
q/k/v projection, on every core), and also at the nominal 160 GFLOP/s of two
cores.

Run from the repository root::

    python benchmarks/throughput.py --n 1000

Results go to ``benchmarks/results/throughput/results.json``, a one-line
``summary.md`` and ``table.md``. ``--skip-onnx`` leaves out the two onnxruntime
sides (without the ``onnx`` extra or ``light-curve`` they are skipped with a
message). On a GPU, ``--device cuda --dtype bfloat16`` times bfloat16
autocast and reports its agreement with float32.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OFFICIAL_PACKAGES = {
    "ASTROMER": "0.1.8",
    "tensorflow-cpu": "2.21.0",
    "tf-keras": "2.21.0",
}
# What ASTROMER 0.1.8 imports on the path to SingleBandEncoder. Its declared
# requirements (sphinx and the like) are not needed to run it, and tf-keras
# asks for the GPU "tensorflow" wheel: both go in without their dependencies,
# tensorflow-cpu and these with theirs.
OFFICIAL_DEPENDENCIES = ["tensorboard", "pandas", "scikit-learn", "tqdm", "requests"]

# Astromer 1: 2 blocks, d = 256, 4 heads, feed-forward 128, windows of 200.
L, D, D_FF, N_LAYERS = 200, 256, 128, 2
# Multiply-adds of one full window, counted as 2 FLOPs each: q/k/v and output
# projections, the two feed-forward layers, and q k^T and (softmax) v.
FLOP_PER_WINDOW = N_LAYERS * (
    2 * L * D * 3 * D + 2 * L * D * D + 2 * 2 * L * D * D_FF + 2 * 2 * L * L * D
)
NOMINAL_GFLOPS = 160.0  # float32 FMA peak of two Zen 3 cores, ~2.5 GHz


# --------------------------------------------------------------------------- shared helpers


def _rss_now():
    """Resident memory of this process now, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _rss_peak():
    """Peak resident memory of this process, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _read_inputs(path):
    with np.load(path) as z:
        return {key: z[key] for key in z.files}


def _split(inputs):
    """Per-object (n, 3) float64 arrays: time, magnitude, error."""
    offsets = inputs["offsets"]
    data = np.column_stack([inputs["time"], inputs["mag"], inputs["err"]])
    return [data[offsets[k] : offsets[k + 1]] for k in range(len(offsets) - 1)]


def official_starts(n, length=L):
    """Window starts of the official inference rule: 0, L, 2L, ... clipped to n - L.

    As ``sklearn_astromer._preprocessing.official_window_starts``, restated
    here for the official side, whose environment lacks this package.
    """
    k = np.arange(n // length + 1, dtype=np.int64)
    return np.minimum(k * length, max(n - length, 0))


def _official_windows(lengths):
    """(object, start, n_obs) of every official window, in the official order."""
    starts = [official_starts(int(n)) for n in lengths]
    objects = np.repeat(np.arange(len(lengths)), [len(s) for s in starts])
    starts = np.concatenate(starts)
    return objects, starts, np.minimum(lengths[objects] - starts, L)


def _timed(fn, repeat):
    """Run ``fn`` ``repeat`` times; return the report's timing fields and the last result.

    The fields are the wall and CPU seconds of each run and the load averages just before
    and after them, which tell whether other work shared the machine.
    """
    walls, cpus, out = [], [], None
    load_before = os.getloadavg()
    for _ in range(repeat):
        c0, t0 = _cpu_seconds(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu_seconds() - c0)
    timing = {
        "wall_s": walls,
        "cpu_s": cpus,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    return timing, out


# --------------------------------------------------------------------------- official side


def run_official(args):
    """Worker run by the official package's virtual environment."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    inputs = _read_inputs(args.job)
    X = _split(inputs)
    lengths = np.diff(inputs["offsets"])
    workdir = Path(args.official_weights)

    import tensorflow as tf
    from ASTROMER.models import SingleBandEncoder

    # from_pretraining reads ./weights/<name>/ and downloads only when it is
    # missing; the archive was unpacked there.
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        # Declared without @classmethod: the first argument is unused.
        model = SingleBandEncoder.from_pretraining(None, args.weights)
    finally:
        os.chdir(cwd)
    rss_loaded = _rss_now()

    def embed(curves):
        batches = model.encode(curves, batch_size=args.official_batch_size, concatenate=False)
        return np.concatenate([b.numpy() for b in batches])

    embed(X[: min(len(X), 16)])  # first-call tracing and allocation
    timing, emb = _timed(lambda: embed(X), args.official_repeat)

    objects, starts, n_obs = _official_windows(lengths)
    if len(emb) != len(objects):
        raise RuntimeError(f"official encode gave {len(emb)} windows, expected {len(objects)}")
    mask = np.arange(L) < n_obs[:, None]
    window_mean = (emb * mask[..., None]).sum(axis=1, dtype=np.float64) / n_obs[:, None]
    # The model inputs the official loader made (centred in float32), to
    # tell encoder differences from input preparation differences.
    from ASTROMER.core.data import load_numpy

    times, mags, pad = [], [], []
    for batch in load_numpy(X, batch_size=args.official_batch_size, max_obs=model.maxlen):
        times.append(batch["times"].numpy()[..., 0])
        mags.append(batch["input"].numpy()[..., 0])
        pad.append(batch["mask_in"].numpy()[..., 0])
    if not np.array_equal(np.concatenate(pad) == 0, mask):
        raise RuntimeError("the official windows are not those of the official rule")
    np.savez(
        args.out,
        window_object=objects,
        window_start=starts,
        window_n_obs=n_obs,
        window_mean=window_mean,
        window_times=np.concatenate(times),
        window_mags=np.concatenate(mags),
        obs_embedding=emb[mask],
    )
    report = {
        "package": "ASTROMER 0.1.8 (official, TensorFlow)",
        "tensorflow": tf.__version__,
        "batch_size": args.official_batch_size,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "n_windows": len(objects),
        **timing,
        "rss_after_load_bytes": rss_loaded,
        "peak_rss_bytes": _rss_peak(),
    }
    Path(args.report).write_text(json.dumps(report))


def official_python(cache):
    """Python of the official package's environment, created when missing."""
    venv = cache / "venv-official"
    python = venv / "bin" / "python"
    check = "import os; os.environ['TF_USE_LEGACY_KERAS']='1'; import tf_keras, ASTROMER.models"
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    if python.exists() and _quiet([str(python), "-c", check], env) == 0:
        return python
    print(f"[throughput] creating {venv} (official ASTROMER with TensorFlow, a few minutes)")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    pinned = [f"{name}=={version}" for name, version in OFFICIAL_PACKAGES.items()]
    no_deps = [p for p in pinned if p.startswith(("ASTROMER", "tf-keras"))]
    log = cache / "venv-official-install.log"
    with open(log, "w") as handle:
        for command in (
            pip + [p for p in pinned if p not in no_deps] + OFFICIAL_DEPENDENCIES,
            pip + ["--no-deps"] + no_deps,
        ):
            result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, check=False)
            if result.returncode:
                raise RuntimeError(f"installing the official package failed; see {log}")
    if _quiet([str(python), "-c", check], env) != 0:
        raise RuntimeError(f"the official package does not import in {venv}")
    return python


def _quiet(command, env):
    return subprocess.run(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    ).returncode


def official_weights_folder(cache, name):
    """A folder holding ``weights/<name>/`` unpacked from the released archive."""
    from sklearn_astromer.weights import PRETRAINED, fetch_pretrained

    folder = cache / "official-weights"
    target = folder / "weights" / name
    if not (target / "conf.json").is_file():
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(fetch_pretrained(name)) as archive:
            archive.extractall(target.parent)
        if not (target / "conf.json").is_file():
            raise RuntimeError(
                f"{PRETRAINED[name].filename} holds no {name}/conf.json for the official loader"
            )
    return folder


# --------------------------------------------------------------------------- our side


def gemm_gflops(torch, rows, threads, seconds=1.5):
    """float32 GEMM rate of the q/k/v projection's shape, on ``threads`` cores.

    Each core multiplies its own (rows x 256) by (256 x 768), single-threaded,
    as the encoder's chunks do; the best of several rounds is kept.
    """
    from concurrent.futures import ThreadPoolExecutor

    flop = 2 * rows * D * 3 * D

    def spin(deadline):
        torch.set_num_threads(1)
        a = torch.randn(rows, D)
        w = torch.randn(3 * D, D)
        out = torch.empty(rows, 3 * D)
        torch.mm(a, w.t(), out=out)
        best = 0.0
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            for _ in range(5):
                torch.mm(a, w.t(), out=out)
            best = max(best, 5 * flop / (time.perf_counter() - t0))
        return best

    before = torch.get_num_threads()
    try:
        with ThreadPoolExecutor(threads) as pool:
            deadline = time.perf_counter() + seconds
            rates = list(pool.map(spin, [deadline] * threads))
    finally:
        torch.set_num_threads(before)
    return sum(rates) / 1e9, [r / 1e9 for r in rates]


def run_ours(args):
    """Worker run by this Python: time this package's inference."""
    import torch

    from sklearn_astromer import _inference
    from sklearn_astromer._lightcurves import as_light_curves
    from sklearn_astromer._model import Astromer
    from sklearn_astromer.weights import resolve_weights

    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = None if args.dtype == "float32" else getattr(torch, args.dtype)
    inputs = _read_inputs(args.job)
    X = _split(inputs)

    config, state, _ = resolve_weights(args.weights)
    module = Astromer(config)
    module.load_state_dict(state)
    module.to(args.device).eval()
    if args.backend == "onnxruntime":
        from sklearn_astromer._onnx import OnnxEncoder

        onnx_encoder = OnnxEncoder.from_file(args.onnx)
    rss_loaded = _rss_now()

    def embed(curves, dtype=dtype):
        lc = as_light_curves(curves)
        # What transform computes for the default pooling="mean".
        if args.backend == "onnxruntime":
            return onnx_encoder.encode(
                lc, ["mean"], batch_size=min(args.batch_size, _inference.CPU_CHUNK)
            )["mean"]
        out = _inference.encode(
            module, lc, ["mean"], batch_size=args.batch_size, device=args.device, dtype=dtype
        )["mean"]
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        return out

    threads = torch.get_num_threads()
    rows = _inference.CPU_CHUNK * L
    gemm = (
        gemm_gflops(torch, rows, threads)
        if args.device == "cpu" and args.backend == "torch"
        else (None, None)
    )
    embed(X[: min(len(X), 64)])  # warm-up: allocator, kernels, lazy initialisation
    timing, emb = _timed(lambda: embed(X), args.repeat)

    lengths = np.diff(inputs["offsets"])
    n_windows = int(np.maximum(1, -(-lengths // L)).sum())
    arrays = {"object_mean": emb}
    report = {
        "package": f"sklearn-astromer ({'PyTorch' if args.backend == 'torch' else 'onnxruntime'})",
        "backend": args.backend,
        "torch": torch.__version__,
        "device": args.device,
        "dtype": args.dtype,
        "batch_size": args.batch_size,
        "cpu_chunk": _inference.CPU_CHUNK,
        "threads": threads,
        "n_windows": n_windows,
        **timing,
        "rss_after_load_bytes": rss_loaded,
        "peak_rss_bytes": _rss_peak(),
        "gemm_gflops": gemm[0],
        "gemm_gflops_per_thread": gemm[1],
        "gemm_shape": [rows, D, 3 * D],
    }
    if args.backend == "onnxruntime":
        import onnxruntime

        report["onnxruntime"] = onnxruntime.__version__
    if dtype is not None:
        # Agreement of the timed low-precision run with float32 on the same device.
        reference = embed(X, dtype=None)
        arrays["object_mean_float32"] = reference
        report["low_precision_vs_float32_cosine"] = _cosine_stats(
            emb, reference
        )
    np.savez(args.out, **arrays)
    Path(args.report).write_text(json.dumps(report))


def run_light_curve(args):
    """Worker: ``light_curve.embed.Astromer1`` on the exported file, one call per curve."""
    import warnings

    import light_curve
    import onnxruntime as ort
    from light_curve.embed import Astromer1

    inputs = _read_inputs(args.job)
    X = _split(inputs)
    options = ort.SessionOptions()
    # One intra-op thread per core: a call embeds one curve's few windows.
    options.intra_op_num_threads = args.threads or os.cpu_count()
    session = ort.InferenceSession(args.onnx, options, providers=["CPUExecutionProvider"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it marks itself experimental
        model = Astromer1(session, output="mean")
    rss_loaded = _rss_now()

    def embed(curves):
        return np.stack([model(x[:, 0], x[:, 1]).reshape(-1) for x in curves])

    embed(X[: min(len(X), 64)])
    timing, emb = _timed(lambda: embed(X), args.repeat)
    lengths = np.diff(inputs["offsets"])
    report = {
        "package": f"light_curve.embed {light_curve.__version__} (onnxruntime)",
        "onnxruntime": ort.__version__,
        "intra_op_threads": options.intra_op_num_threads,
        "n_windows": int(np.maximum(1, -(-lengths // L)).sum()),
        **timing,
        "rss_after_load_bytes": rss_loaded,
        "peak_rss_bytes": _rss_peak(),
    }
    np.savez(args.out, object_mean=emb)
    Path(args.report).write_text(json.dumps(report))


def onnx_sides(args, me, common, cache):
    """Export the encoder and time this package's onnxruntime path and light_curve.embed.

    Returns
    -------
    sides : dict
        ``"ours_onnxruntime"`` and ``"light_curve_embed"``: (report, per-object
        embeddings), or a ``"skipped"`` reason.
    """
    from importlib.util import find_spec

    from sklearn_astromer._model import Astromer
    from sklearn_astromer._onnx import export_onnx
    from sklearn_astromer.weights import resolve_weights

    missing = [name for name in ("onnx", "onnxscript", "onnxruntime") if find_spec(name) is None]
    if missing:
        return {"skipped": f"onnx extra not installed (no {', '.join(missing)})"}
    config, state, _ = resolve_weights(args.weights)
    module = Astromer(config)
    module.load_state_dict(state)
    t0 = time.perf_counter()
    path = export_onnx(module.eval(), cache / f"{args.weights}.onnx", weights=args.weights)
    sides = {"export_s": time.perf_counter() - t0, "onnx_file": str(path)}
    threads = ["--threads", str(args.threads)] if args.threads else []
    runs = [("ours_onnxruntime", "ours", ["--backend", "onnxruntime",
                                          "--batch-size", str(args.batch_size)])]
    if find_spec("light_curve") is not None and find_spec("light_curve.embed") is not None:
        runs.append(("light_curve_embed", "light_curve", []))
    else:
        sides["light_curve_embed"] = {"skipped": "light_curve.embed not installed"}
    for name, worker, extra in runs:
        print(f"[throughput] {name.replace('_', ' ')}")
        subprocess.run(
            me + common + ["--worker", worker, "--onnx", str(path),
                           "--out", str(cache / f"{name}.npz"),
                           "--report", str(cache / f"{name}.json"),
                           "--repeat", str(args.repeat)] + extra + threads,
            check=True,
        )
        report = json.loads((cache / f"{name}.json").read_text())
        with np.load(cache / f"{name}.npz") as z:
            sides[name] = (report, z["object_mean"])
    return sides


# --------------------------------------------------------------------------- comparison


def _cosine(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def _stats(cosines):
    return {"min": float(cosines.min()), "mean": float(cosines.mean()), "n": int(cosines.size)}


def _cosine_stats(a, b):
    return _stats(_cosine(a, b))


def agreement(args, inputs, official):
    """Cosine agreement of our embeddings with the official ones.

    - per object: the timed outputs, ours against the official windows'
      means averaged per object (the official rule repeats the last window
      when ``n`` is a multiple of 200; repeats are dropped, leaving the
      covering windows ours uses);
    - per window and per observation: our encoder run on the official
      windows (cut and centred in float64 by this package), against the
      official outputs at real observations;
    - per observation on the official inputs: our encoder fed the very
      windows the official loader made (centred in float32), which isolates
      the encoder from the input centring.
    """
    import torch

    from sklearn_astromer._lightcurves import LightCurves
    from sklearn_astromer._model import Astromer
    from sklearn_astromer._preprocessing import make_windows
    from sklearn_astromer.weights import resolve_weights

    lc = LightCurves(
        time=inputs["time"], mag=inputs["mag"], err=inputs["err"], offsets=inputs["offsets"]
    )
    config, state, _ = resolve_weights(args.weights)
    module = Astromer(config)
    module.load_state_dict(state)
    module.to(args.device).eval()
    dtype = None if args.dtype == "float32" else getattr(torch, args.dtype)

    objects = official["window_object"]
    starts = official["window_start"]
    n_obs = official["window_n_obs"]

    def last_layer(times, mags, obs_mask):
        with torch.autocast(
            device_type=torch.device(args.device).type, dtype=dtype, enabled=dtype is not None
        ):
            z = module.layers(
                torch.from_numpy(times).to(args.device),
                torch.from_numpy(mags).to(args.device),
                torch.from_numpy(obs_mask).to(args.device),
            )[-1]
        return z.float().cpu().numpy()

    per_window, per_obs, per_obs_same_inputs = [], [], []
    cursor = 0
    with torch.inference_mode():
        for i in range(0, len(objects), 64):
            sl = slice(i, i + 64)
            w = make_windows(lc, objects[sl], starts[sl], L)
            theirs = official["obs_embedding"][cursor : cursor + int(n_obs[sl].sum())]
            cursor += len(theirs)
            z = last_layer(w.times, w.mags, w.obs_mask)
            per_obs.append(_cosine(z[w.obs_mask], theirs))
            mean = (z * w.obs_mask[..., None]).sum(axis=1, dtype=np.float64) / n_obs[sl, None]
            per_window.append(_cosine(mean, official["window_mean"][sl]))
            z = last_layer(official["window_times"][sl], official["window_mags"][sl], w.obs_mask)
            per_obs_same_inputs.append(_cosine(z[w.obs_mask], theirs))

    # Official per-object means over distinct windows.
    keep = np.ones(len(objects), dtype=bool)
    keep[1:] = (objects[1:] != objects[:-1]) | (starts[1:] != starts[:-1])
    sums = np.zeros((len(lc), D))
    np.add.at(sums, objects[keep], official["window_mean"][keep])
    theirs = sums / np.bincount(objects[keep], minlength=len(lc))[:, None]
    return {
        "per_object_mean_embedding": _cosine_stats(args.ours_object_mean, theirs),
        "per_window_mean_embedding": _stats(np.concatenate(per_window)),
        "per_observation_embedding": _stats(np.concatenate(per_obs)),
        "per_observation_embedding_official_inputs": _stats(np.concatenate(per_obs_same_inputs)),
    }


# --------------------------------------------------------------------------- driver


def _cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def _git_commit():
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _side_summary(report, n_objects):
    best = min(report["wall_s"])
    i = report["wall_s"].index(best)
    return {
        "windows_per_s": report["n_windows"] / best,
        "light_curves_per_s": n_objects / best,
        "windows_per_cpu_s": report["n_windows"] / report["cpu_s"][i],
        "best_wall_s": best,
        "median_wall_s": float(np.median(report["wall_s"])),
        "peak_rss_mib": report["peak_rss_bytes"] / 2**20,
        "rss_after_load_mib": report["rss_after_load_bytes"] / 2**20,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="light curves to embed (first N)")
    parser.add_argument("--data", default=str(SHARED / "data" / "crts_train.parquet"))
    parser.add_argument("--weights", default="macho")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--batch-size", type=int, default=256, help="encode's batch_size")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of ours (best kept)")
    parser.add_argument("--official-batch-size", type=int, default=256)
    parser.add_argument("--official-repeat", type=int, default=3, help="timed runs of the official package (best kept)")
    parser.add_argument("--skip-official", action="store_true")
    parser.add_argument("--skip-onnx", action="store_true",
                        help="leave out the onnxruntime and light_curve.embed sides")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "throughput"))
    parser.add_argument("--cache", default=str(REPO / "benchmarks" / ".cache" / "throughput"))
    # Internal: the two timed sides run as subprocesses of this script.
    parser.add_argument("--worker", choices=["ours", "official", "light_curve"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="torch", choices=["torch", "onnxruntime"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--onnx", help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--report", help=argparse.SUPPRESS)
    parser.add_argument("--official-weights", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker == "official":
        return run_official(args)
    if SHARED.joinpath("weights").is_dir():
        # The released archives are there: no download.
        os.environ.setdefault("SKLEARN_ASTROMER_HOME", str(SHARED / "weights"))
    if args.worker == "ours":
        return run_ours(args)
    if args.worker == "light_curve":
        return run_light_curve(args)

    from sklearn_astromer.datasets import load_light_curves

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X, _ = load_light_curves(args.data)
    X = X[: args.n]
    lengths = np.array([len(x) for x in X])
    job = cache / "inputs.npz"
    np.savez(
        job,
        time=np.concatenate([x[:, 0] for x in X]),
        mag=np.concatenate([x[:, 1] for x in X]),
        err=np.concatenate([x[:, 2] for x in X]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]),
    )
    me = [sys.executable, str(Path(__file__).resolve())]
    common = ["--job", str(job), "--weights", args.weights]

    print(f"[throughput] {len(X)} light curves, this package on {args.device} ({args.dtype})")
    subprocess.run(
        me + common + ["--worker", "ours", "--out", str(cache / "ours.npz"),
                       "--report", str(cache / "ours.json"), "--device", args.device,
                       "--dtype", args.dtype, "--batch-size", str(args.batch_size),
                       "--repeat", str(args.repeat)]
        + (["--threads", str(args.threads)] if args.threads else []),
        check=True,
    )
    ours = json.loads((cache / "ours.json").read_text())
    with np.load(cache / "ours.npz") as z:
        args.ours_object_mean = z["object_mean"]
    onnx = {"skipped": "--skip-onnx"} if args.skip_onnx else onnx_sides(
        args, me, common, cache
    )

    official = None
    if not args.skip_official:
        python = official_python(cache)
        weights_dir = official_weights_folder(cache, args.weights)
        print("[throughput] the official package (TensorFlow, CPU)")
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
        result = subprocess.run(
            [str(python), str(Path(__file__).resolve())] + common
            + ["--worker", "official", "--out", str(cache / "official.npz"),
               "--report", str(cache / "official.json"),
               "--official-weights", str(weights_dir),
               "--official-batch-size", str(args.official_batch_size),
               "--official-repeat", str(args.official_repeat)],
            env=env, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
            raise RuntimeError("the official package's run failed")
        official = json.loads((cache / "official.json").read_text())
        with np.load(cache / "official.npz") as z:
            official_arrays = {key: z[key] for key in z.files}

    summary = _side_summary(ours, len(X))
    results = {
        "n_light_curves": len(X),
        "n_observations": int(lengths.sum()),
        "data": os.path.relpath(args.data, REPO),
        "weights": args.weights,
        "hardware": {
            "cpu": _cpu_model(),
            "logical_cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "commit": _git_commit(),
        "flop_per_window": FLOP_PER_WINDOW,
        "ours": {**summary, "raw": ours},
    }
    if args.device == "cpu":
        measured = ours["gemm_gflops"]
        results["ceiling"] = {
            "gemm_gflops_measured": measured,
            "windows_per_s_at_measured_gemm": measured * 1e9 / FLOP_PER_WINDOW,
            "nominal_gflops": NOMINAL_GFLOPS,
            "windows_per_s_at_nominal": NOMINAL_GFLOPS * 1e9 / FLOP_PER_WINDOW,
            "ours_percent_of_measured": 100 * summary["windows_per_s"] * FLOP_PER_WINDOW
            / (measured * 1e9),
            "ours_percent_of_nominal": 100 * summary["windows_per_s"] * FLOP_PER_WINDOW
            / (NOMINAL_GFLOPS * 1e9),
        }
    if "skipped" in onnx:
        results["onnx_skipped"] = onnx["skipped"]
    else:
        results["onnx_export_s"] = onnx["export_s"]
        short = lengths <= L
        for name in ("ours_onnxruntime", "light_curve_embed"):
            if isinstance(onnx.get(name), dict):
                results[f"{name}_skipped"] = onnx[name]["skipped"]
                continue
            report, emb = onnx[name]
            cos = _cosine(emb, args.ours_object_mean)
            results[name] = {
                **_side_summary(report, len(X)),
                "cosine_to_torch_all": _stats(cos),
                f"cosine_to_torch_at_most_{L}_obs": _stats(cos[short]),
                "raw": report,
            }
    if official is not None:
        theirs = _side_summary(official, len(X))
        results["official"] = {**theirs, "raw": official}
        results["speedup_windows_per_s"] = summary["windows_per_s"] / theirs["windows_per_s"]
        results["speedup_light_curves_per_s"] = (
            summary["light_curves_per_s"] / theirs["light_curves_per_s"]
        )
        # Per CPU second: less sensitive to other load on a shared machine.
        results["speedup_windows_per_cpu_s"] = (
            summary["windows_per_cpu_s"] / theirs["windows_per_cpu_s"]
        )
        results["agreement"] = agreement(args, _read_inputs(job), official_arrays)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    line = summary_line(results, args)
    (out / "summary.md").write_text(line + "\n")
    (out / "table.md").write_text(table(results))
    print(line)
    return 0


def table(results):
    """Markdown table of both sides, for the benchmarks README."""
    rows = [
        "| | windows/s | light curves/s | windows per CPU second | peak RSS (MiB) "
        "| cosine to the torch path (min; curves of <= 200 obs) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    sides = [("sklearn-astromer, torch (default)", results["ours"])]
    if "ours_onnxruntime" in results:
        sides.append(("sklearn-astromer, `backend=\"onnxruntime\"`", results["ours_onnxruntime"]))
    if "light_curve_embed" in results:
        sides.append(("`light_curve.embed.Astromer1`, exported file", results["light_curve_embed"]))
    if "official" in results:
        sides.append(("official ASTROMER 0.1.8 (TensorFlow)", results["official"]))
    for name, side in sides:
        if "cosine_to_torch_all" in side:
            agree = (f"{side['cosine_to_torch_all']['min']:.7f}; "
                     f"{side[f'cosine_to_torch_at_most_{L}_obs']['min']:.7f}")
        elif side is results["ours"]:
            agree = "1"
        else:
            agree = f"{results['agreement']['per_object_mean_embedding']['min']:.6f}; -"
        rows.append(
            f"| {name} | {side['windows_per_s']:.0f} | {side['light_curves_per_s']:.1f} | "
            f"{side['windows_per_cpu_s']:.0f} | {side['peak_rss_mib']:.0f} | {agree} |"
        )
    return "\n".join(rows) + "\n"


def summary_line(results, args):
    ours = results["ours"]
    parts = [
        (
            f"{results['n_light_curves']} CRTS light curves, `{args.weights}` weights, "
            f"{results['hardware']['cpu']} ({results['hardware']['logical_cpus']} cores), "
            f"{args.device} {args.dtype}: sklearn-astromer {ours['windows_per_s']:.0f} windows/s "
            f"({ours['light_curves_per_s']:.0f} light curves/s, peak RSS "
            f"{ours['peak_rss_mib']:.0f} MiB)"
        )
    ]
    if "official" in results:
        theirs = results["official"]
        agree = results["agreement"]
        parts.append(
            f"official ASTROMER 0.1.8 {theirs['windows_per_s']:.0f} windows/s "
            f"({theirs['light_curves_per_s']:.1f} light curves/s, peak RSS "
            f"{theirs['peak_rss_mib']:.0f} MiB): **{results['speedup_windows_per_s']:.1f}x** "
            f"({results['speedup_windows_per_cpu_s']:.1f}x per CPU second)"
        )
        parts.append(
            f"cosine with the official embeddings: per object min "
            f"{agree['per_object_mean_embedding']['min']:.6f}, per window min "
            f"{agree['per_window_mean_embedding']['min']:.6f}, per observation min "
            f"{agree['per_observation_embedding']['min']:.5f} "
            f"(mean {agree['per_observation_embedding']['mean']:.6f}; min "
            f"{agree['per_observation_embedding_official_inputs']['min']:.6f} on the official "
            "loader's float32-centred inputs)"
        )
    if "ceiling" in results:
        c = results["ceiling"]
        parts.append(
            f"{c['ours_percent_of_measured']:.0f}% of the matrix-product ceiling at this "
            f"machine's measured {c['gemm_gflops_measured']:.0f} GFLOP/s "
            f"({c['windows_per_s_at_measured_gemm']:.0f} windows/s), "
            f"{c['ours_percent_of_nominal']:.0f}% of the nominal 160 GFLOP/s "
            f"({c['windows_per_s_at_nominal']:.0f} windows/s)"
        )
    for name, label in (("ours_onnxruntime", "sklearn-astromer backend='onnxruntime'"),
                        ("light_curve_embed", "light_curve.embed on the exported file")):
        if name in results:
            side = results[name]
            parts.append(
                f"{label} {side['windows_per_s']:.0f} windows/s "
                f"({side['windows_per_cpu_s']:.0f} per CPU second; cosine to the torch path "
                f"min {side[f'cosine_to_torch_at_most_{L}_obs']['min']:.7f} on curves of at "
                f"most {L} observations)"
            )
    if "low_precision_vs_float32_cosine" in ours["raw"]:
        c = ours["raw"]["low_precision_vs_float32_cosine"]
        parts.append(f"{args.dtype} vs float32 per-object cosine min {c['min']:.6f}")
    if args.device == "cpu":
        parts.append("GPU (bfloat16 vs float32) not measured: no GPU on this machine")
    return "; ".join(parts) + "."


if __name__ == "__main__":
    sys.exit(main())
