"""Fixtures and tiny model configurations shared by the test files.

The configurations are plain dicts (``from conftest import TINY``) because some are needed
at collection time, in ``parametrize_with_checks``; the data sets are session fixtures.
Tests must not modify what a session fixture returns.
"""

from pathlib import Path

import pytest

# The shared data sets live beside the repository (``../shared/data``), never inside it.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHARED_WEIGHTS = SHARED_DATA.parent / "weights"

# The smallest model the estimators accept: one block of width 8, windows of 16
# observations (so the synthetic curves below span several windows), one epoch.
TINY = dict(weights=None, n_layers=1, n_heads=2, d_model=8, d_ff=8, window_length=16,
            max_epochs=1, random_state=0)
# Two blocks of width 16 and windows of 32: still under a second to fit, with enough
# capacity for the classifier to learn the synthetic classes.
SMALL = dict(weights=None, n_layers=2, n_heads=2, d_model=16, d_ff=16, window_length=32,
             random_state=0)

CLASSES = ["RRab", "EA", "LPV"]


@pytest.fixture(scope="session")
def shared_dir():
    """Directory of the shared real light-curve files; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data directory {SHARED_DATA} not found")
    return SHARED_DATA


@pytest.fixture(scope="session")
def crts_path(shared_dir):
    """The CRTS training file (5757 light curves, 16 classes); skips when it is absent."""
    path = shared_dir / "crts_train.parquet"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture
def released_weights(monkeypatch):
    """Serve the released weights from the shared folder, without downloading."""
    if not (SHARED_WEIGHTS / "macho_a0.zip").is_file():
        pytest.skip(f"released weights not found in {SHARED_WEIGHTS}")
    monkeypatch.setenv("SKLEARN_ASTROMER_HOME", str(SHARED_WEIGHTS))
    return SHARED_WEIGHTS


@pytest.fixture(scope="session", autouse=True)
def temporary_weights_cache(tmp_path_factory):
    """Write downloads and converted weights into a folder of the test session.

    ``SKLEARN_ASTROMER_HOME`` stays on the shared (read-only) archives; without this the
    conversions would go to the user's cache (or into the shared folder when writable).
    Set in ``os.environ``, so command-line subprocesses inherit it too.
    """
    patch = pytest.MonkeyPatch()
    patch.setenv("SKLEARN_ASTROMER_CACHE", str(tmp_path_factory.mktemp("weights-cache")))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def curves():
    """Twelve short synthetic light curves, 4 of each class, 20-40 observations."""
    from sklearn_astromer.datasets import make_light_curves

    return make_light_curves(n_per_class=4, classes=CLASSES, n_obs=(20, 40), random_state=0)


@pytest.fixture(scope="session")
def synthetic():
    """24 synthetic light curves, 8 of each class, 20-90 observations (up to 3 windows of 32)."""
    from sklearn_astromer.datasets import make_light_curves

    return make_light_curves(n_per_class=8, classes=CLASSES, n_obs=(20, 90), random_state=1)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tiny models on one torch thread (``pytestmark = usefixtures(...)``).

    Splitting matrix products of width 8 across threads costs far more than it saves, and on
    a busy two-core machine it makes such tests several times slower.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_configure(config):
    """Serve the released weights from the shared folder, so nothing downloads."""
    import os

    if SHARED_WEIGHTS.is_dir():
        os.environ.setdefault("SKLEARN_ASTROMER_HOME", str(SHARED_WEIGHTS))
