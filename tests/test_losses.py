import numpy as np
import torch

from sklearn_astromer._losses import masked_rmse, uncertainty_weights


def test_masked_rmse_by_hand():
    pred = torch.tensor([[1.0, 2.0, 3.0, 0.0], [0.0, 0.0, 5.0, 9.0]])
    target = torch.tensor([[0.0, 0.0, 3.0, 7.0], [1.0, 0.0, 0.0, 0.0]])
    probed = torch.tensor([[True, True, False, False], [True, True, False, False]])
    # Window 1: (1 + 4) / 2 = 2.5; window 2: (1 + 0) / 2 = 0.5; sqrt(mean) = sqrt(1.5).
    assert torch.isclose(masked_rmse(pred, target, probed), torch.tensor(np.sqrt(1.5), dtype=torch.float32))


def test_windows_without_probed_positions_are_left_out():
    pred = torch.tensor([[2.0, 0.0], [100.0, 100.0]])
    target = torch.zeros(2, 2)
    probed = torch.tensor([[True, False], [False, False]])
    assert masked_rmse(pred, target, probed).item() == 2.0
    assert masked_rmse(pred, target, torch.zeros(2, 2, dtype=torch.bool)).item() == 0.0


def test_weighted_rmse_keeps_probed_count_as_denominator():
    pred = torch.tensor([[1.0, 1.0]])
    target = torch.zeros(1, 2)
    probed = torch.ones(1, 2, dtype=torch.bool)
    weights = torch.tensor([[1.0, 0.0]])
    assert np.isclose(masked_rmse(pred, target, probed, weights).item(), np.sqrt(0.5))


def test_uncertainty_weights_min_max_per_window():
    errs = torch.tensor([[0.1, 0.2, 0.4, 0.0], [0.3, 0.3, 0.0, 0.0], [float("nan")] * 4])
    obs_mask = torch.tensor([[True, True, True, False], [True, True, False, False], [True] * 4])
    w = uncertainty_weights(errs, obs_mask)
    inv = np.array([10.0, 5.0, 2.5])
    np.testing.assert_allclose(w[0, :3].numpy(), (inv - 2.5) / 7.5 + 1e-3, rtol=1e-5)
    assert w[0, 3] == 0  # padding
    np.testing.assert_allclose(w[1, :2].numpy(), 1 + 1e-3)  # equal errors: uniform
    np.testing.assert_allclose(w[2].numpy(), 1 + 1e-3)  # unknown errors: uniform


def test_loss_has_gradient():
    pred = torch.zeros(2, 3, requires_grad=True)
    loss = masked_rmse(pred, torch.ones(2, 3), torch.ones(2, 3, dtype=torch.bool))
    loss.backward()
    assert torch.isfinite(pred.grad).all() and (pred.grad != 0).all()
    # loss = sqrt(S), S = (1/2) sum_w (1/3) sum_i (p - t)^2 = 1, so
    # dloss/dp_i = (1/3)(p_i - t_i) / (2 sqrt(S)) = -1/6 at p = 0, t = 1.
    assert loss.item() == 1.0
    np.testing.assert_allclose(pred.grad.numpy(), -1 / 6, rtol=1e-6)
