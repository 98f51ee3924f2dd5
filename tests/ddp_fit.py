"""Fit an embedder and a classifier; run under torchrun by tests/test_ddp.py, or imported.

``python -m torch.distributed.run --standalone --nproc_per_node 2 tests/ddp_fit.py OUT``
trains on two processes; rank 0 writes OUT (npz: loss histories and final weights).
"""

import sys

import numpy as np
import torch

from sklearn_astromer import AstromerClassifier, AstromerEmbedder
from sklearn_astromer._ddp import is_main_process
from sklearn_astromer.datasets import make_light_curves

SMALL = dict(weights=None, n_layers=1, n_heads=2, d_model=16, d_ff=16, window_length=32,
             dropout=0.0, random_state=0, device="cpu")


def fit_both():
    """Histories and weights of a self-supervised fit and an end-to-end classifier fit.

    41 light curves, global batch 8: the last batch of each epoch has 1 light curve,
    so rank 1 has none and runs a stand-in with no weight.
    """
    X, y = make_light_curves(n_per_class=8, n_obs=(40, 80), random_state=0)
    X, y = X[:41], y[:41]
    emb = AstromerEmbedder(**SMALL, max_epochs=3, batch_size=8, lr=3e-3).fit(X)
    clf = AstromerClassifier(**SMALL, max_epochs=0, batch_size=8, head_epochs=2,
                             hidden_layer_sizes=(8,), train_encoder=True,
                             head_lr=3e-3).fit(X, y)
    out = {
        "emb_loss": np.array([e["train_loss"] for e in emb.history_]),
        "clf_loss": np.array([e["train_loss"] for e in clf.head_history_]),
    }
    for prefix, module in (("emb", emb.module_), ("clf", clf.head_), ("clf_enc", clf.module_)):
        for name, value in module.state_dict().items():
            out[f"{prefix}:{name}"] = value.detach().cpu().numpy()
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    result = fit_both()
    if is_main_process():
        np.savez(sys.argv[1], **result)
