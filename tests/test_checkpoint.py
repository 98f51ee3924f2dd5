"""Checkpoints every epoch; an interrupted fit resumed from its checkpoint ends as an
uninterrupted one."""

import numpy as np
import pytest

from sklearn_astromer import AstromerEmbedder
from sklearn_astromer import _training
from sklearn_astromer._checkpoint import CheckpointMismatchError
from sklearn_astromer._training import TrainingInterrupted
from sklearn_astromer.datasets import make_light_curves

PARAMS = dict(weights=None, n_layers=1, n_heads=2, d_model=16, d_ff=16, window_length=32,
              dropout=0.1, max_epochs=5, batch_size=8, lr=3e-3, validation_fraction=0.25,
              patience=10, pooling="weighted", head_epochs=3, random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_light_curves(n_per_class=5, n_obs=(40, 80), random_state=0)


def interrupt_at_epoch(monkeypatch, stop=None):
    """Ctrl-C at the start of training epoch ``stop`` (1-based, over all stages);
    returns the count of training epochs run."""
    original = _training.TrainingNet.run_single_epoch
    seen = {"train": 0}

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if training:
            seen["train"] += 1
            if seen["train"] == stop:
                raise KeyboardInterrupt
        return original(self, iterator, training, prefix, step_fn, **fit_params)

    monkeypatch.setattr(_training.TrainingNet, "run_single_epoch", run_single_epoch)
    return seen


def weights(emb):
    return {k: v.detach().numpy().copy() for k, v in emb.module_.state_dict().items()}


def test_resumed_fit_equals_uninterrupted(data, tmp_path, monkeypatch):
    X, y = data
    full = AstromerEmbedder(**PARAMS, checkpoint_dir=tmp_path / "full").fit(X, y)
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == [
        "head.pt", "self-supervised.pt"]

    emb = AstromerEmbedder(**PARAMS, checkpoint_dir=tmp_path / "run")
    with monkeypatch.context() as m:
        interrupt_at_epoch(m, 3)
        with pytest.raises(TrainingInterrupted, match="resume") as info:
            emb.fit(X, y)
    assert len(info.value.history) == 2
    assert info.value.checkpoint == tmp_path / "run" / "self-supervised.pt"
    assert not hasattr(emb, "module_")

    with monkeypatch.context() as m:
        seen = interrupt_at_epoch(m)
        emb.fit(X, y)
    assert seen["train"] == 3 + 3  # epochs 3 to 5, then the head's 3
    assert [e["epoch"] for e in emb.history_] == [1, 2, 3, 4, 5]
    for a, b in zip(emb.history_, full.history_):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6)
        assert a["valid_loss"] == pytest.approx(b["valid_loss"], rel=1e-6)
    expected = weights(full)
    for name, value in weights(emb).items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-6, atol=1e-7, err_msg=name)
    np.testing.assert_allclose(emb.transform(X), full.transform(X), rtol=1e-5, atol=1e-6)

    # Both stages complete: a third fit trains nothing and gives the same model.
    with monkeypatch.context() as m:
        interrupt_at_epoch(m, 1)  # would interrupt any training
        again = AstromerEmbedder(**PARAMS, checkpoint_dir=tmp_path / "run").fit(X, y)
    np.testing.assert_allclose(again.transform(X), full.transform(X), rtol=1e-5, atol=1e-6)


def test_checkpoint_of_another_training_is_refused(data, tmp_path):
    X, y = data
    AstromerEmbedder(**{**PARAMS, "max_epochs": 1, "pooling": "mean"},
                     checkpoint_dir=tmp_path).fit(X)
    with pytest.raises(CheckpointMismatchError, match="another training"):
        AstromerEmbedder(**{**PARAMS, "max_epochs": 1, "pooling": "mean", "lr": 1e-3},
                         checkpoint_dir=tmp_path).fit(X)
    with pytest.raises(CheckpointMismatchError, match="another training"):
        AstromerEmbedder(**{**PARAMS, "max_epochs": 1, "pooling": "mean"},
                         checkpoint_dir=tmp_path).fit(X[1:])


def test_interruption_without_checkpoints_says_how_to_resume(data, monkeypatch):
    X, y = data
    interrupt_at_epoch(monkeypatch, 2)
    with pytest.raises(TrainingInterrupted, match="set checkpoint_dir"):
        AstromerEmbedder(**{**PARAMS, "pooling": "mean"}).fit(X)


def test_finetune_command_writes_checkpoints(data, tmp_path):
    from sklearn_astromer.cli import main
    from sklearn_astromer.datasets import write_light_curves

    X, y = data
    write_light_curves(tmp_path / "lc.parquet", X, y)
    args = ["finetune", str(tmp_path / "lc.parquet"), "-o", str(tmp_path / "model"),
            "--weights", "none", "--n-layers", "1", "--d-model", "16", "--d-ff", "16",
            "--epochs", "2", "--quiet", "--checkpoint-dir", str(tmp_path / "ckpt")]
    assert main(args) == 0
    assert (tmp_path / "ckpt" / "self-supervised.pt").is_file()
    assert main(args) == 0  # complete: loads the checkpoint's weights, trains nothing
