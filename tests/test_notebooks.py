"""The notebooks (notebooks/*.py, jupytext percent format) run: each is executed as a script in
a child process on small data (FASTNN_NOTEBOOK_QUICK=1, MPLBACKEND=Agg, figures written to a
temporary FASTNN_NOTEBOOK_OUT), so an API change that breaks one fails here instead of in a
reader's Jupyter.  Seconds each.  Skipped where notebooks/ is not shipped (the wheel's test
directory); the CNN, optimizer and initializer notebooks need the MNIST files
(FASTNN_DATA)."""
import glob
import os

import pytest

from fnn_testutil import mnist_dir, run_child

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.py")))
NEEDS_MNIST = {"first_cnn.py", "optimizers_compared.py", "initializers_compared.py"}
# the figures each notebook must write
FIGURES = {"ladder.py": {"ladder_gemm.png", "roofline.png"},
           "first_cnn.py": {"cnn_history.png", "cnn_filters.png", "cnn_feature_maps.png"},
           "optimizers_compared.py": {"optimizers_loss.png"},
           "initializers_compared.py": {"init_spread.png", "init_loss.png"}}

pytestmark = pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks/ beside tests/")


def test_every_notebook_is_known_and_in_percent_format():
    assert {os.path.basename(p) for p in NOTEBOOKS} == set(FIGURES)
    for path in NOTEBOOKS:
        text = open(path, encoding="utf-8").read()
        assert "format_name: percent" in text.split("# ---")[1], path
        assert text.count("\n# %%") >= 3, path


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_on_small_data(path, tmp_path):
    name = os.path.basename(path)
    if name in NEEDS_MNIST and mnist_dir() is None:
        pytest.skip("MNIST files not found (set FASTNN_DATA)")
    env = {"FASTNN_NOTEBOOK_QUICK": "1", "FASTNN_NOTEBOOK_OUT": str(tmp_path),
           "MPLBACKEND": "Agg"}
    res = run_child("import runpy; runpy.run_path(%r, run_name='__main__')" % path,
                    env_extra=env, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    written = set(os.listdir(tmp_path))
    assert FIGURES[name] <= written, written
    for figure in FIGURES[name]:
        with open(os.path.join(tmp_path, figure), "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
