"""Does standardising the per-layer means before weighting them help?

The ``"weighted"`` pooling and the classifier's head combine the per-layer
means of the encoder (input embedding and every block) with softmax
weights. The layers differ in scale by orders of magnitude; this benchmark
compares combining them raw with combining them standardised (each
dimension centred and scaled with training-set statistics), on the
few-shot draws of ``fewshot.py``, with the released ``macho`` weights:

- ``embedder-rf``: layer weights learned by a linear classifier
  (``head_epochs=100``), the weighted embedding fed to a random forest (the
  embedder's ``pooling="weighted"`` followed by a forest);
- ``classifier-head``: the classifier's MLP head (1024-512-256) trained on
  the per-layer means (``AstromerClassifier`` with ``max_epochs=0``).

Usage::

    python benchmarks/layer_weighting.py --seeds 0,1,2

Writes ``results/layer_weighting/results.csv`` and ``summary.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _protocol import PROTOCOLS, draw_split, load_light_curves  # noqa: E402

from sklearn_astromer import AstromerEmbedder  # noqa: E402
from sklearn_astromer._heads import LayerWeightedHead  # noqa: E402
from sklearn_astromer._training import TrainingConfig, train_head  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HEAD = TrainingConfig(max_epochs=100, batch_size=64, lr=1e-3, validation_fraction=0.0,
                      patience=5, device="cpu", verbose=0)


def layer_means(curves, cache):
    """Per-layer means (N, 3, 256) of the released macho encoder, cached on disk."""
    if cache.is_file():
        return np.load(cache)
    embedder = AstromerEmbedder("macho", max_epochs=0, pooling="layers", device="cpu")
    means = embedder.fit(curves[:1]).transform(curves).reshape(len(curves), 3, -1)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, means)
    return means


def fit_head(features, labels, hidden, standardise, seed):
    """A layer-weighted head trained on (N, M, D) features, standardised or raw."""
    torch.manual_seed(seed)
    head = LayerWeightedHead(features.shape[1], features.shape[2], labels.max() + 1, hidden)
    if standardise:
        head.standardize_with(features)
    train_head(head, features, labels, HEAD, rng=np.random.default_rng(seed))
    return head


def evaluate(means, labels, train, test, seed):
    """Macro-F1 of both uses, raw and standardised, on one draw."""
    classes, codes = np.unique(labels[train], return_inverse=True)
    rows = []
    for variant in ("raw", "standardised"):
        standardise = variant == "standardised"
        linear = fit_head(means[train], codes, (), standardise, seed)
        weights = linear.layer_weights().detach().numpy()
        center, scale = linear.center.numpy(), linear.scale.numpy()

        def pooled(F):
            return np.einsum("nmd,m->nd", (F - center) / scale, weights)

        forest = RandomForestClassifier(300, n_jobs=1, random_state=seed)
        forest.fit(pooled(means[train]), labels[train])
        rf_f1 = f1_score(labels[test], forest.predict(pooled(means[test])), average="macro")

        mlp = fit_head(means[train], codes, (1024, 512, 256), standardise, seed)
        with torch.no_grad():
            predicted = classes[mlp(torch.from_numpy(means[test])).argmax(1).numpy()]
        mlp_f1 = f1_score(labels[test], predicted, average="macro")
        rows += [
            {"use": "embedder-rf", "variant": variant, "macro_f1": rf_f1,
             "layer_weights": np.round(weights, 3).tolist()},
            {"use": "classifier-head", "variant": variant, "macro_f1": mlp_f1},
        ]
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=REPO.parent / "shared" / "data" / "crts_train.parquet")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--spc", default="20,100")
    parser.add_argument("--protocols", default="CRTS-5,CRTS-9")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "layer_weighting")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    spcs = [int(s) for s in args.spc.split(",")]

    data = load_light_curves(args.data)
    start = time.perf_counter()
    means = layer_means(data.curves, REPO / "benchmarks" / ".cache" / "layer_means_macho.npy")
    print(f"per-layer means {means.shape} in {time.perf_counter() - start:.0f} s", flush=True)
    labels = np.asarray(data.labels)

    rows = []
    for protocol in args.protocols.split(","):
        classes = PROTOCOLS[protocol]["classes"]
        for spc in spcs:
            for seed in seeds:
                draw = draw_split(data, classes, spc, seed)
                for row in evaluate(means, labels, draw.train, draw.test, seed):
                    rows.append({"protocol": protocol, "spc": spc, "seed": seed, **row})
                    print(rows[-1], flush=True)

    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "results.csv", index=False)
    stats = (100 * table.set_index(["use", "protocol", "spc", "variant"])["macro_f1"]).groupby(
        level=[0, 1, 2, 3]).agg(["mean", "std"])
    lines = ["| use | protocol | spc | raw | standardised |", "|---|---|---|---|---|"]
    for (use, protocol, spc), group in stats.groupby(level=[0, 1, 2]):
        cells = [f"{group.loc[(use, protocol, spc, v), 'mean']:.1f} ± "
                 f"{group.loc[(use, protocol, spc, v), 'std']:.1f}"
                 for v in ("raw", "standardised")]
        lines.append(f"| {use} | {protocol} | {spc} | " + " | ".join(cells) + " |")
    (args.out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
