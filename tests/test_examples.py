"""The example scripts run, and the documentation builds without warnings."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_png(path):
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 600


def test_plot_embeddings(tmp_path, released_weights):
    path = load_example("plot_embeddings").main(["--out", str(tmp_path), "--n-per-class", "12"])
    assert path == tmp_path / "embeddings_2d.png"
    check_png(path)


def test_plot_embeddings_without_the_data_file(tmp_path, released_weights):
    path = load_example("plot_embeddings").main(
        ["--out", str(tmp_path), "--n-per-class", "6", "--data", str(tmp_path / "none.parquet")]
    )
    check_png(path)


def test_plot_reconstruction(tmp_path, released_weights, capsys):
    path = load_example("plot_reconstruction").main(["--out", str(tmp_path)])
    assert path == tmp_path / "reconstruction.png"
    check_png(path)
    assert "reconstruction RMSE" in capsys.readouterr().out


def test_output_folder_from_the_environment(tmp_path, released_weights, monkeypatch):
    monkeypatch.setenv("SKLEARN_ASTROMER_EXAMPLES_OUT", str(tmp_path / "figures"))
    path = load_example("plot_reconstruction").main(
        ["--data", str(tmp_path / "none.parquet")]
    )
    assert path == tmp_path / "figures" / "reconstruction.png"


def test_sktime_pipeline(capsys):
    pytest.importorskip("sktime")
    score = load_example("sktime_pipeline").main(["--n-per-class", "6", "--epochs", "1"])
    assert 0.0 <= score <= 1.0
    # The report names a pooling of the grid and the score returned, on the 30% of the
    # 18 light curves held out (6).
    out = capsys.readouterr().out
    assert f"test macro-F1 {score:.3f} on 6 light curves" in out
    assert ("'transformers__astromertransformer__pooling': 'mean'" in out
            or "'transformers__astromertransformer__pooling': 'max'" in out)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["plot_embeddings", "plot_reconstruction", "sktime_pipeline"])
def test_examples_as_scripts_with_defaults(name, tmp_path, released_weights):
    """Each script as a user runs it, with its default (full-size) settings."""
    if name == "sktime_pipeline":
        pytest.importorskip("sktime")
    subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], cwd=tmp_path, check=True)


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-E", "-q", "-b", "html", str(ROOT / "docs"),
         str(tmp_path / "html")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "html" / "examples.html").is_file()
