from pathlib import Path

import pytest

# The shared data sets live beside the repository (``../shared/data``), never inside it.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_dir():
    """Directory of the shared real light-curve files; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data directory {SHARED_DATA} not found")
    return SHARED_DATA


SHARED_WEIGHTS = SHARED_DATA.parent / "weights"


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
