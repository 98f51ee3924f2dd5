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


def pytest_configure(config):
    """Serve the released weights from the shared folder, so nothing downloads."""
    import os

    if SHARED_WEIGHTS.is_dir():
        os.environ.setdefault("SKLEARN_ASTROMER_HOME", str(SHARED_WEIGHTS))
