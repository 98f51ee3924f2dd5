"""Pretrain the period-aware Astromer on unlabelled light curves and save it.

Every light curve of the given parquet files (labels unused) is folded at its best period
over two cycles (:func:`sklearn_astromer.periods.fold_light_curves`, times in days), and a
small Astromer with the log-period time encoding is trained on the folded curves by one of
three objectives:

- ``masked``: masked reconstruction, the objective of the released Astromer weights;
- ``contrastive``: SimCLR's NT-Xent between two augmented views of each curve
  (:mod:`sklearn_astromer._contrastive`);
- ``both``: contrastive plus masked reconstruction of the same views.

The result is a model folder (``config.json`` + ``model.safetensors``, with a SHA-256
check) that :class:`~sklearn_astromer.AstromerEmbedder` loads by path, a model card
(``MODEL_CARD.md``) and the loss curve (``loss.png``). The weights shipped with the package
(``weights="crts-asas-period"``) were made by the command in ``benchmarks/README.md``.

Periods are cached per light curve under ``--cache`` (the few-shot harness's feature cache),
so a second run and the harness's ``features-rf`` share them.

Run from the repository root (two threads, as the shipped weights were trained; another
thread count sums in another order and may end a few rounding errors apart)::

    OMP_NUM_THREADS=2 python benchmarks/pretrain_period.py --out sklearn_astromer/data/weights/crts-asas-period
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _caching import CachedTransform  # noqa: E402

import sklearn_astromer  # noqa: E402
from sklearn_astromer import AstromerConfig, datasets  # noqa: E402
from sklearn_astromer._contrastive import train_contrastive  # noqa: E402
from sklearn_astromer._io import save_model  # noqa: E402
from sklearn_astromer._lightcurves import LightCurves  # noqa: E402
from sklearn_astromer._model import Astromer  # noqa: E402
from sklearn_astromer._training import Seeds, TrainingConfig, train_self_supervised  # noqa: E402
from sklearn_astromer.features import LightCurveFeatures  # noqa: E402
from sklearn_astromer.periods import find_periods, fold_light_curves  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_FILES = [DATA / "crts_train.parquet", DATA / "asas_richards2012.parquet"]
CACHE = Path(__file__).resolve().parent / ".cache"
N_CYCLES = 2
MASKING = {"probed": 0.5, "same": 0.2, "random": 0.2}


def load_unlabelled(paths):
    """All light curves of the files, labels dropped, concatenated; with their file names."""
    parts, sources = [], []
    for path in paths:
        lc = datasets.load_light_curves(path, as_light_curves=True, min_obs=8)
        if isinstance(lc, tuple):
            lc = lc[0]
        parts.append(lc)
        sources.append(f"{Path(path).name} ({len(lc)} curves)")
    lengths = np.concatenate([p.lengths for p in parts])
    merged = LightCurves(
        time=np.concatenate([p.time for p in parts]),
        mag=np.concatenate([p.mag for p in parts]),
        err=np.concatenate([p.err for p in parts]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]),
    )
    return merged, sources


def model_config(args):
    """The architecture: a small Astromer 2 with the log-period encoding, folded inputs."""
    return AstromerConfig.preset(
        "astromer2",
        n_layers=args.n_layers, d_model=args.d_model, d_ff=2 * args.d_model, n_heads=4,
        dropout=0.1, window_length=args.window_length, time_encoding="log-period",
        fold_cycles=N_CYCLES,
    )


def train(module, folded, spans, args, seeds):
    """Train ``module`` in place with the chosen objective; return the history."""
    config = TrainingConfig(
        max_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        validation_fraction=0.1, patience=args.patience, device=args.device, verbose=1,
    )
    rng = seeds.generator("self-supervised")
    with seeds.torch("self-supervised"):
        if args.objective == "masked":
            return train_self_supervised(
                module, folded, config, masking=MASKING, weighted_loss=False, rng=rng
            )
        return train_contrastive(
            module, folded, spans, config, masking=MASKING, rng=rng,
            temperature=args.temperature,
            reconstruction_weight=1.0 if args.objective == "both" else 0.0,
        )


def plot_loss(history, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(epochs, [h["train_loss"] for h in history], label="training")
    if "valid_loss" in history[0]:
        ax.plot(epochs, [h["valid_loss"] for h in history], label="validation (10 % of curves)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def model_card(args, config, sources, n_curves, n_params, history, seconds):
    best = min(history, key=lambda h: h.get("valid_loss", h["train_loss"]))
    lines = [
        f"# {Path(args.out).name}: a period-aware Astromer",
        "",
        "A small Astromer trained without labels on light curves folded at their best",
        "period over two cycles, with a time encoding that reaches sub-day periods.",
        "Use it as `AstromerEmbedder(weights=...)`; the estimators fold the curves",
        "themselves (this needs the `light-curve` package: `pip install \"sklearn-astromer[features]\"`).",
        "",
        "| | |",
        "|---|---|",
        f"| data | {'; '.join(sources)}: {n_curves} light curves, labels not used |",
        f"| inputs | folded over {N_CYCLES} cycles at the features' `fourier_period`, at most "
        f"{config.window_length} observations spread evenly in phase |",
        f"| architecture | {config.n_layers} blocks, width {config.d_model}, {config.n_heads} heads, "
        f"feed-forward {config.d_ff}, residuals, [MASK] token, log-period time encoding "
        f"({config.min_period}-{config.max_period:g} d); {n_params:,} parameters |",
        f"| objective | {args.objective} (temperature {args.temperature}; masking 50/20/20 %) |",
        f"| training | {len(history)} epochs of at most {args.epochs}, batch {args.batch_size}, "
        f"Adam lr {args.lr}, early stopping on 10 % of the curves (patience {args.patience}), "
        f"best epoch {best['epoch']}, seed {args.seed} |",
        f"| time | {seconds / 60:.1f} min on {args.hardware} |",
        f"| software | sklearn-astromer {sklearn_astromer.__version__}, torch {torch.__version__}, "
        f"Python {platform.python_version()} |",
        "",
        "![loss](loss.png)",
        "",
        "Reproduce (from the repository root, with `../shared/data/` beside it):",
        "",
        "```",
        "python benchmarks/pretrain_period.py " + " ".join(args.argv),
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", default=[str(p) for p in DEFAULT_FILES])
    parser.add_argument("--out", required=True, help="model folder to write")
    parser.add_argument("--objective", choices=["masked", "contrastive", "both"],
                        default="both")
    parser.add_argument("--n-layers", type=int, default=2)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--window-length", type=int, default=100,
                        help="observations per window; folded curves are thinned to it")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--hardware", default="a 2-core CPU virtual machine, no GPU",
                        help="named in the model card")
    parser.add_argument("--cache", default=str(CACHE))
    parser.add_argument("--periods-only", action="store_true",
                        help="compute and cache the periods, then stop")
    args = parser.parse_args(argv)
    args.argv = [a for a in (argv if argv is not None else sys.argv[1:])]

    start = time.perf_counter()
    lc, sources = load_unlabelled(args.data)
    features = CachedTransform(LightCurveFeatures(n_jobs=-1), cache_dir=args.cache)
    periods = find_periods(lc, features=features)
    print(f"{len(lc)} light curves, periods in {time.perf_counter() - start:.0f} s "
          f"({np.isnan(periods).sum()} without one)", flush=True)
    if args.periods_only:
        return
    folded = fold_light_curves(lc, periods, N_CYCLES, max_observations=args.window_length)
    spans = N_CYCLES * periods

    seeds = Seeds.from_random_state(args.seed)
    config = model_config(args)
    with seeds.torch("initialisation"):
        module = Astromer(config)
    n_params = module.n_parameters()
    t0 = time.perf_counter()
    history = train(module, folded, spans, args, seeds)
    seconds = time.perf_counter() - t0
    history = [{k: v for k, v in h.items() if k in ("epoch", "train_loss", "valid_loss", "dur")}
               for h in history]

    out = Path(args.out)
    card = {
        "objective": args.objective, "data": sources, "n_curves": len(lc),
        "epochs_run": len(history), "train_seconds": round(seconds, 1),
        "hardware": args.hardware, "seed": args.seed, "history": history,
        "command": "python benchmarks/pretrain_period.py " + " ".join(args.argv),
    }
    save_model(out, config, {k: v.cpu() for k, v in module.state_dict().items()},
               extra={"pretraining": card})
    plot_loss(history, out / "loss.png")
    (out / "MODEL_CARD.md").write_text(
        model_card(args, config, sources, len(lc), n_params, history, seconds)
    )
    print(json.dumps({k: card[k] for k in ("epochs_run", "train_seconds")}), flush=True)


if __name__ == "__main__":
    main()
