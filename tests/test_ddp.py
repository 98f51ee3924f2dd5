"""Training on 2 CPU processes (torchrun, gloo) equals training on one process."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sklearn_astromer._ddp import GlobalBatchSampler, rank_seed

HERE = Path(__file__).parent


def test_global_batches_and_rank_seeds():
    batches = list(GlobalBatchSampler(10, 4, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(sum(batches, [])) == list(range(10))
    assert batches == list(GlobalBatchSampler(10, 4, np.random.default_rng(0)))
    assert rank_seed(123, 0) == 123
    assert len({rank_seed(123, r) for r in range(4)}) == 4


@pytest.mark.distributed
@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_two_processes_match_one(tmp_path):
    import ddp_fit

    out = tmp_path / "two.npz"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
         "2", str(HERE / "ddp_fit.py"), str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    two = np.load(out)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = ddp_fit.fit_both()
    finally:
        torch.set_num_threads(threads)
    assert set(one) == set(two.files)
    # Losses: the same global batches, windows and masks, the global batch's loss
    # summed over ranks in float64; only float32 sums run in another order (~1e-7).
    for key in ("emb_loss", "clf_loss"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-6)
    n_steps = 3 * 6 + 2 * 6  # epochs x batches of the two fits
    for key, value in one.items():
        if key.endswith("_loss"):
            continue
        if key.endswith(".attn.k.bias"):
            # The key bias adds the same number to every score of a query, which the
            # softmax ignores: its exact gradient is 0, so its Adam steps (each at
            # most lr = 3e-3) follow rounding noise, and may differ in sign.
            np.testing.assert_array_less(np.abs(two[key] - value), 3e-3 * n_steps)
        else:
            np.testing.assert_allclose(two[key], value, rtol=1e-4, atol=1e-5, err_msg=key)


def test_bfloat16_autocast_option():
    from sklearn_astromer import AstromerEmbedder
    from sklearn_astromer.datasets import make_light_curves

    X, _ = make_light_curves(n_per_class=2, n_obs=(40, 60), random_state=0)
    params = dict(weights=None, n_layers=1, n_heads=2, d_model=16, d_ff=16,
                  window_length=32, max_epochs=2, batch_size=6, random_state=0,
                  device="cpu")
    emb = AstromerEmbedder(**params, autocast="bfloat16").fit(X)
    plain = AstromerEmbedder(**params).fit(X)
    assert all(p.dtype == torch.float32 for p in emb.module_.parameters())
    losses = np.array([e["train_loss"] for e in emb.history_])
    reference = np.array([e["train_loss"] for e in plain.history_])
    assert np.isfinite(losses).all()
    # bfloat16 keeps 8 bits of mantissa: the same training to about 1 %.
    np.testing.assert_allclose(losses, reference, rtol=0.05)
    assert not np.array_equal(losses, reference)
