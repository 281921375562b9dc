"""fastnn.metrics against hand-computed values, and fastnn.plotting output files."""
import numpy as np
import pytest

from fastnn.metrics import accuracy, confusion_matrix

Y_TRUE = np.array([0, 1, 2, 2, 1, 0, 2])
Y_PRED = np.array([0, 2, 2, 1, 1, 0, 2])
# By hand: correct at positions 0, 2, 4, 5, 6 -> 5/7.
# true 0 -> pred 0, 0            : row 0 = [2, 0, 0]
# true 1 -> pred 2, 1            : row 1 = [0, 1, 1]
# true 2 -> pred 2, 1, 2         : row 2 = [0, 1, 2]
CM = np.array([[2, 0, 0], [0, 1, 1], [0, 1, 2]])


def test_accuracy_class_ids():
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(5 / 7)
    assert accuracy(Y_TRUE, Y_TRUE) == 1.0
    assert accuracy(np.array([1], np.uint8), np.array([0], np.int32)) == 0.0


def test_accuracy_scores_and_one_hot():
    scores = np.array([[0.9, 0.05, 0.05], [0.1, 0.3, 0.6], [-1.0, 2.0, 3.0], [0.2, 0.5, 0.3]])
    y = np.array([0, 2, 1, 1])  # argmax = 0, 2, 2, 1 -> 3 of 4 right
    assert accuracy(y, scores) == 0.75
    onehot = np.eye(3, dtype=np.float32)[y]
    assert accuracy(onehot, scores) == 0.75


def test_accuracy_validation():
    with pytest.raises(ValueError, match="y_true: 3, y_pred: 2"):
        accuracy([0, 1, 2], [0, 1])
    with pytest.raises(TypeError, match="integer class ids"):
        accuracy(np.array([0, 1]), np.array([0.2, 0.9]))
    with pytest.raises(ValueError, match="NaN"):
        accuracy(np.array([0, 1]), np.array([[0.1, np.nan], [0.3, 0.2]]))
    with pytest.raises(ValueError, match="empty"):
        accuracy(np.array([], np.int64), np.array([], np.int64))
    with pytest.raises(ValueError, match=">= 0"):
        accuracy(np.array([-1, 1]), np.array([0, 1]))
    with pytest.raises(ValueError, match="shape"):
        accuracy(np.zeros((2, 2, 2)), np.array([0, 1]))


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(Y_TRUE, Y_PRED)
    np.testing.assert_array_equal(cm, CM)
    assert cm.dtype == np.int64 and cm.sum() == len(Y_TRUE)
    assert np.trace(cm) / cm.sum() == pytest.approx(accuracy(Y_TRUE, Y_PRED))
    big = confusion_matrix(Y_TRUE, Y_PRED, num_classes=5)
    assert big.shape == (5, 5)
    np.testing.assert_array_equal(big[:3, :3], CM)
    assert big[3:].sum() == 0 and big[:, 3:].sum() == 0


def test_confusion_matrix_from_scores_uses_score_width():
    scores = np.zeros((2, 4))
    scores[0, 1] = scores[1, 1] = 1.0
    cm = confusion_matrix(np.array([1, 0]), scores)
    assert cm.shape == (4, 4)
    assert cm[1, 1] == 1 and cm[0, 1] == 1 and cm.sum() == 2


def test_confusion_matrix_validation():
    with pytest.raises(ValueError, match="< num_classes=2, got 2"):
        confusion_matrix(Y_TRUE, Y_PRED, num_classes=2)
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        confusion_matrix(Y_TRUE, Y_PRED, num_classes=0)
    with pytest.raises(TypeError, match="num_classes"):
        confusion_matrix(Y_TRUE, Y_PRED, num_classes=3.0)


# --- plotting (Agg, no display) -------------------------------------------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def plotting():
    pytest.importorskip("matplotlib")  # a declared runtime dependency; skip, not fail, if absent
    from fastnn import plotting
    return plotting


def _is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


def test_plot_sample_grid(plotting, tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(40, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=40)
    preds = labels.copy()
    preds[:3] = (preds[:3] + 1) % 10
    fig = plotting.plot_sample_grid(images, labels, preds, path=tmp_path / "sub" / "grid.png",
                                    seed=1)
    assert _is_png(tmp_path / "sub" / "grid.png")
    axes = fig.get_axes()
    assert len(axes) == 25
    titles = [ax.get_title() for ax in axes]
    assert all("label" in t and "pred" in t for t in titles)
    red = [ax for ax in axes if ax.title.get_color() == "red"]
    wrong_shown = [t for t in titles if t.split("\n")[0][6:] != t.split("\n")[1][5:]]
    assert len(red) == len(wrong_shown)  # exactly the mistakes are highlighted
    # Fewer images than slots, flattened input, scores as predictions, no path.
    scores = np.eye(10)[labels[:7]]
    fig2 = plotting.plot_sample_grid(images[:7].reshape(7, 784), labels[:7], scores, n=3)
    assert sum(ax.get_visible() and ax.axison for ax in fig2.get_axes()) == 7
    with pytest.raises(ValueError, match="one entry per image"):
        plotting.plot_sample_grid(images, labels[:5])


def test_plot_history(plotting, tmp_path):
    hist = {"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.7, 0.5],
            "accuracy": [0.6, 0.8, 0.9], "val_accuracy": [0.55, 0.75, 0.85]}
    fig = plotting.plot_history(hist, tmp_path / "h.png")
    assert _is_png(tmp_path / "h.png")
    axes = fig.get_axes()
    assert [ax.get_ylabel() for ax in axes] == ["loss", "accuracy"]
    assert all(ax.get_xlabel() == "epoch" for ax in axes)
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["train", "validation"]

    class History:  # anything with a .history dict, like fastnn's History
        history = {"loss": [0.5, 0.3]}
    assert len(plotting.plot_history(History()).get_axes()) == 1
    with pytest.raises(ValueError, match="none of"):
        plotting.plot_history({"lr": [0.1]})


def test_plot_confusion_matrix(plotting, tmp_path):
    fig = plotting.plot_confusion_matrix(CM, tmp_path / "cm.png")
    assert _is_png(tmp_path / "cm.png")
    texts = [t.get_text() for t in fig.get_axes()[0].texts]
    assert texts == [str(v) for v in CM.ravel()]
    plotting.plot_confusion_matrix(CM, tmp_path / "cmn.png", class_names=["a", "b", "c"],
                                   normalize=True)
    assert _is_png(tmp_path / "cmn.png")
    with pytest.raises(ValueError, match="square"):
        plotting.plot_confusion_matrix(np.zeros((2, 3)))


def test_plotting_leaves_pyplot_alone(plotting):
    plt = pytest.importorskip("matplotlib.pyplot")
    before = plt.get_fignums()
    for _ in range(3):
        plotting.plot_confusion_matrix(CM)
    assert plt.get_fignums() == before  # nothing registered with pyplot, nothing to leak
