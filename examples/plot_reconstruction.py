"""A light curve and its reconstruction by Astromer.

Runs the encoder and its reconstruction head (:meth:`Astromer.forward
<sklearn_astromer.Astromer.forward>`) on one window of a Catalina (CRTS) long-period
variable with the released ``macho`` weights, and adds the window mean back to the
predicted magnitudes. Two runs are compared:

- nothing hidden: the model sees every magnitude and reconstructs it;
- 30% of the observations hidden (``hidden=True``: their magnitudes are replaced by the
  window mean before the model sees them), as in masked self-supervised training.

The released Astromer 1 weights reconstruct what they see closely but put hidden
observations near the window mean: in the original pretraining pipeline the hidden
magnitudes stayed in the input and the attention mask did not remove them, so the
weights never had to predict a magnitude they could not see.

Without the CRTS file (``--data``), a synthetic long-period variable from
:func:`~sklearn_astromer.datasets.make_light_curves` is used instead.

Run::

    python examples/plot_reconstruction.py --out figures/

The figure is written to ``reconstruction.png`` in ``--out`` (default: the
``SKLEARN_ASTROMER_EXAMPLES_OUT`` environment variable, else the current folder).
"""

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from sklearn_astromer import AstromerEmbedder  # noqa: E402
from sklearn_astromer.datasets import load_light_curves, make_light_curves  # noqa: E402

CRTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "crts_train.parquet"


def load(path, label, index):
    """Time, magnitude and error columns of one light curve, and its name."""
    if not path.is_file():
        print(f"{path} not found: using a synthetic light curve")
        X, _ = make_light_curves(n_per_class=1, classes=["LPV"], n_obs=400, random_state=index)
        return X[0], "synthetic LPV"
    X, _, ids = load_light_curves(path, classes=[label], min_obs=250, return_ids=True)
    return X[index], f"CRTS {ids[index]} ({label})"


@torch.inference_mode()
def reconstruct(module, time, mag, hidden):
    """Reconstructed magnitudes of one window, in the units of ``mag``.

    The model works on window-centred values: times and magnitudes minus their mean
    over the window (in float64, since MJD ~ 5e4 loses precision in float32).
    """
    mean = mag.mean()
    out = module(
        torch.tensor(time - time.mean(), dtype=torch.float32)[None],  # (1, L)
        torch.tensor(mag - mean, dtype=torch.float32)[None],  # (1, L)
        torch.ones(1, len(time), dtype=torch.bool),  # obs_mask: all real observations
        torch.tensor(hidden)[None],  # (1, L), True = hidden from the model
    )
    return out["reconstruction"][0].double().numpy() + mean  # uncentre


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=CRTS, help="parquet file of light curves")
    parser.add_argument("--label", default="LPV", help="class of the light curve to show")
    parser.add_argument("--index", type=int, default=0, help="which light curve of the class")
    parser.add_argument("--out", type=Path,
                        default=Path(os.environ.get("SKLEARN_ASTROMER_EXAMPLES_OUT", ".")))
    parser.add_argument("--weights", default="macho")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    curve, name = load(args.data, args.label, args.index)
    # max_epochs=0 loads the weights without training; module_ is the torch model.
    embedder = AstromerEmbedder(weights=args.weights, max_epochs=0).fit([curve])
    module = embedder.module_
    length = embedder.config_.window_length
    window = curve[:length]
    time, mag, err = window[:, 0], window[:, 1], window[:, 2]

    nothing = np.zeros(len(window), dtype=bool)
    hidden = nothing.copy()
    rng = np.random.default_rng(args.seed)
    hidden[rng.choice(len(window), int(0.3 * len(window)), replace=False)] = True
    seen = reconstruct(module, time, mag, nothing)
    masked = reconstruct(module, time, mag, hidden)

    def rmse(a, where):
        return np.sqrt(np.mean((a - mag)[where] ** 2))

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8.5), height_ratios=[1, 1.6])
    top.errorbar(curve[:, 0], curve[:, 1], curve[:, 2], fmt=".", ms=3, color="0.6",
                 elinewidth=0.5, label=f"light curve ({len(curve)} observations)")
    top.axvspan(time[0], time[-1], color="tab:blue", alpha=0.1,
                label=f"window: first {len(window)} observations")
    top.set_title(name)
    top.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=9)

    bottom.errorbar(time, mag, err, fmt="o", ms=3.5, color="black", elinewidth=0.6,
                    label="observed")
    bottom.plot(time, seen, "x", ms=5, color="tab:blue",
                label=f"reconstruction, nothing hidden (RMSE {rmse(seen, slice(None)):.3f} mag)")
    bottom.plot(time[hidden], masked[hidden], "s", ms=5, mfc="none", color="tab:red",
                label=f"reconstruction of the {hidden.sum()} hidden observations "
                f"(RMSE {rmse(masked, hidden):.3f} mag)")
    bottom.axhline(mag.mean(), color="0.5", lw=0.8, ls="--",
                   label=f"window mean (std {mag.std():.3f} mag)")
    bottom.set_xlabel("MJD (days)")
    bottom.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=9)
    for ax in (top, bottom):
        ax.set_ylabel("magnitude")
        ax.invert_yaxis()  # brighter is up
    fig.suptitle(f"Astromer reconstruction ({args.weights} weights, window of {length})")
    fig.tight_layout()

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "reconstruction.png"
    fig.savefig(path, dpi=110)
    print(f"{name}: reconstruction RMSE {rmse(seen, slice(None)):.3f} mag with nothing hidden, "
          f"{rmse(masked, hidden):.3f} mag on hidden observations; saved {path}")
    return path


if __name__ == "__main__":
    main()
