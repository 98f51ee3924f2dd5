"""Embeddings of labelled light curves in two dimensions.

Embeds light curves of five classes of periodic variable stars from the Catalina survey
(CRTS: eclipsing binaries EA and EW, RR Lyrae RRab and RRc, RS Canum Venaticorum stars)
with the released ``macho`` weights, as they are (no fine-tuning), then projects the
256-dimensional embeddings to two dimensions with PCA and with t-SNE, coloured by class.

Without the CRTS file (``--data``), synthetic light curves from
:func:`~sklearn_astromer.datasets.make_light_curves` are used instead.

Run::

    python examples/plot_embeddings.py --out figures/

The figure is written to ``embeddings_2d.png`` in ``--out`` (default: the
``SKLEARN_ASTROMER_EXAMPLES_OUT`` environment variable, else the current folder).
"""

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_astromer import AstromerEmbedder  # noqa: E402
from sklearn_astromer.datasets import load_light_curves, make_light_curves  # noqa: E402

CRTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "crts_train.parquet"
CLASSES = ["EA", "EW", "RRab", "RRc", "RS_CVn"]


def load(path, n_per_class, seed):
    """``n_per_class`` light curves of each of CLASSES, or synthetic ones without the file."""
    if not path.is_file():
        print(f"{path} not found: using synthetic light curves")
        return make_light_curves(n_per_class=n_per_class, random_state=seed)
    X, y = load_light_curves(path, classes=CLASSES)
    rng = np.random.default_rng(seed)
    keep = np.concatenate([
        rng.choice(np.flatnonzero(y == label), n_per_class, replace=False) for label in CLASSES
    ])
    return [X[i] for i in keep], y[keep]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=CRTS, help="parquet file of light curves")
    parser.add_argument("--out", type=Path,
                        default=Path(os.environ.get("SKLEARN_ASTROMER_EXAMPLES_OUT", ".")))
    parser.add_argument("--n-per-class", type=int, default=100)
    parser.add_argument("--weights", default="macho")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X, y = load(args.data, args.n_per_class, args.seed)
    # max_epochs=0: use the released weights as they are.
    embedder = AstromerEmbedder(weights=args.weights, max_epochs=0, random_state=args.seed)
    embeddings = embedder.fit_transform(X)
    print(f"{len(X)} light curves -> embeddings of shape {embeddings.shape}")

    # Embedding dimensions have very different scales; standardise before projecting.
    pca = make_pipeline(StandardScaler(), PCA(n_components=2, random_state=args.seed))
    projections = {
        "PCA": pca.fit_transform(embeddings),
        "t-SNE": TSNE(perplexity=30, random_state=args.seed).fit_transform(
            StandardScaler().fit_transform(embeddings)
        ),
    }
    explained = pca[-1].explained_variance_ratio_

    fig, axes = plt.subplots(1, 2, figsize=(12.5, 5))
    colours = plt.get_cmap("tab10")
    for ax, (name, points) in zip(axes, projections.items()):
        for k, label in enumerate(np.unique(y)):
            chosen = y == label
            ax.scatter(points[chosen, 0], points[chosen, 1], s=12, alpha=0.75,
                       color=colours(k), label=f"{label} ({chosen.sum()})")
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_xlabel(f"component 1 ({explained[0]:.0%} of variance)")
    axes[0].set_ylabel(f"component 2 ({explained[1]:.0%} of variance)")
    axes[1].legend(title="class", loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=9)
    source = args.data.stem if args.data.is_file() else "synthetic"
    fig.suptitle(f"Astromer embeddings ({args.weights} weights, mean pooling, "
                 f"{embeddings.shape[1]} dimensions) of {source} light curves")
    fig.tight_layout()

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "embeddings_2d.png"
    fig.savefig(path, dpi=110)
    print(f"saved {path}")
    return path


if __name__ == "__main__":
    main()
