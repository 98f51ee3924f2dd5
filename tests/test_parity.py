"""Parity with the official Astromer 1 implementation on real CRTS light curves.

The fixtures in ``shared/reference`` were made by the official TensorFlow
package with the released weights (see its README). Only real observations
are compared: padded positions are not comparable by design.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sklearn_astromer._lightcurves import LightCurves
from sklearn_astromer._model import Astromer, AstromerConfig
from sklearn_astromer._preprocessing import make_windows, official_window_starts
from sklearn_astromer.weights import PRETRAINED, read_official

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

pytestmark = pytest.mark.skipif(
    not (SHARED / "reference").is_dir() or not (SHARED / "weights").is_dir(),
    reason="shared/reference and shared/weights not available",
)


@pytest.fixture(scope="module", params=["macho", "atlas"])
def official(request):
    """(model in eval mode, reference arrays) for one released weight set."""
    name = request.param
    config, state, _ = read_official(SHARED / "weights" / PRETRAINED[name].filename)
    assert config == AstromerConfig.preset("astromer1")
    model = Astromer(config)
    model.load_state_dict(state)
    model.eval()
    with np.load(SHARED / "reference" / f"astromer1_{name}_parity.npz") as npz:
        reference = {key: npz[key] for key in npz.files}
    return model, reference


def _cosine(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def _masked_mean(values, mask):
    mask = mask[..., None].astype(np.float64)
    return (values * mask).sum(axis=1) / mask.sum(axis=1)


def _encode(model, times, mags, obs_mask):
    with torch.no_grad():
        out = model(
            torch.as_tensor(times, dtype=torch.float32),
            torch.as_tensor(mags, dtype=torch.float32),
            torch.as_tensor(obs_mask, dtype=torch.bool),
        )
    return out["layers"][-1].numpy(), out["reconstruction"].numpy()


def test_windows_reproduce_official_outputs(official):
    model, ref = official
    # The official mask_in is 1 at padding; ours is True at observations.
    obs_mask = ref["window_mask_in"][..., 0] == 0
    embedding, reconstruction = _encode(
        model, ref["window_times"][..., 0], ref["window_input"][..., 0], obs_mask
    )
    cosine = _cosine(embedding, ref["embedding"])[obs_mask]
    assert cosine.min() >= 0.99999, cosine.min()
    error = np.abs(reconstruction - ref["reconstruction"][..., 0])[obs_mask]
    assert error.max() <= 1e-3, error.max()


def test_light_curves_reproduce_official_outputs(official):
    model, ref = official
    L = model.config.window_length
    offsets = ref["lc_offsets"]
    lc = LightCurves(
        time=ref["lc_mjd"],
        mag=ref["lc_mag"],
        err=ref["lc_mag_err"],
        offsets=offsets,
    )
    starts = [official_window_starts(n, L) for n in lc.lengths]
    objects = np.repeat(np.arange(len(lc)), [len(s) for s in starts])
    np.testing.assert_array_equal(objects, ref["window_object"])
    windows = make_windows(lc, objects, np.concatenate(starts), L)

    ref_mask = ref["window_mask_in"][..., 0] == 0
    np.testing.assert_array_equal(windows.obs_mask, ref_mask)
    # Centred in float64 here, in float32 by the official loader, whose
    # float32 sums of MJD ~ 5e4 shift its window means by up to ~0.1 d.
    np.testing.assert_allclose(windows.times, ref["window_times"][..., 0], atol=0.25)
    np.testing.assert_allclose(windows.mags, ref["window_input"][..., 0], atol=1e-4)

    embedding, _ = _encode(model, windows.times, windows.mags, windows.obs_mask)
    per_observation = _cosine(embedding, ref["embedding"])[ref_mask]
    assert per_observation.min() >= 0.999, per_observation.min()
    per_window = _cosine(
        _masked_mean(embedding, ref_mask), _masked_mean(ref["embedding"], ref_mask)
    )
    assert per_window.min() >= 0.9999, per_window.min()
