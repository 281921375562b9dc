"""fastnn.plotting: the figures that look inside a network (filters, feature maps, activation
functions), the layer-statistics figures, plot_history's validation and test curves, the log
axes; each checked for what it draws, not only that a PNG appears.  matplotlib is imported
only when a figure is drawn."""
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import callbacks, kernels, layers, zoo
from fnn_testutil import PACKAGE_PARENT

plotting = pytest.importorskip("fastnn.plotting")
pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


def image_axes(fig):
    return [ax for ax in fig.get_axes() if ax.get_images()]


def test_import_fastnn_does_not_import_matplotlib():
    code = ("import sys, fastnn, fastnn.plotting, fastnn.callbacks; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PACKAGE_PARENT).stdout
    assert out.strip() == "False"


# --------------------------------------------------------------------------- filters
def test_plot_filters_first_layer_shows_each_kernel(tmp_path):
    conv = layers.Conv2D(1, 6, (3, 2), seed=0)
    fig = plotting.plot_filters(conv, path=tmp_path / "f.png", cols=4)
    assert is_png(tmp_path / "f.png")
    shown = image_axes(fig)
    assert len(shown) == 6
    w = conv.kernel.value
    for k, ax in enumerate(shown):
        np.testing.assert_array_equal(ax.get_images()[0].get_array(), w[k, 0])
        assert ax.get_title() == "filter %d" % k
    lim = np.abs(w).max()
    assert shown[0].get_images()[0].get_clim() == pytest.approx((-lim, lim))  # one scale
    assert "input channel 0 of 1" in fig._suptitle.get_text()


def test_plot_filters_deeper_layer_mean_or_one_channel():
    conv = layers.Conv2D(5, 20, 3, seed=1)
    fig = plotting.plot_filters(conv, max_filters=8)
    shown = image_axes(fig)
    assert len(shown) == 8
    np.testing.assert_allclose(shown[3].get_images()[0].get_array(),
                               conv.kernel.value[3].mean(axis=0), rtol=1e-6)
    assert "mean over the 5 input channels" in fig._suptitle.get_text()
    assert "first 8 of 20" in fig._suptitle.get_text()
    fig = plotting.plot_filters(conv.kernel.value, channel=2)
    np.testing.assert_array_equal(image_axes(fig)[7].get_images()[0].get_array(),
                                  conv.kernel.value[7, 2])
    with pytest.raises(ValueError, match="channel"):
        plotting.plot_filters(conv, channel=5)
    with pytest.raises(ValueError, match="Conv2D"):
        plotting.plot_filters(layers.Dense(3, 2))


# --------------------------------------------------------------------------- feature maps
def test_plot_feature_maps_one_block_per_image_layer(tmp_path):
    model = zoo.cnn(channels=(4, 6), dense=8, seed=0)
    x = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    fig = plotting.plot_feature_maps(model, x, path=tmp_path / "m.png", max_maps=5, cols=5)
    assert is_png(tmp_path / "m.png")
    titles = [ax.get_title(loc="left") for ax in fig.get_axes() if ax.get_title(loc="left")]
    assert len(titles) == 5                   # input, conv, pool, conv, pool
    assert titles[0].startswith("input 1x28x28")
    assert "Conv2D, relu" in titles[1] and "4x28x28" in titles[1] and "4 channels" in titles[1]
    assert "MaxPool2D" in titles[2] and "4x14x14" in titles[2]
    assert "first 5 of 6 channels" in titles[3]
    # the maps are the layer outputs in inference mode
    conv_out = model.layers[0].forward(x[None, None], training=False)[0]
    maps = [ax for ax in image_axes(fig) if ax.get_images()[0].get_array().shape == (28, 28)]
    np.testing.assert_array_equal(maps[1].get_images()[0].get_array(), conv_out[0])
    with pytest.raises(ValueError, match="no layer"):
        plotting.plot_feature_maps(zoo.mlp(hidden=(4,), input_dim=9), np.zeros((1, 3, 3),
                                                                             np.float32))
    with pytest.raises(TypeError, match="floats"):
        plotting.plot_feature_maps(model, np.zeros((28, 28), np.uint8))


# --------------------------------------------------------------------------- activations
def test_plot_activation_functions_draws_the_kernels_values(tmp_path):
    fig = plotting.plot_activation_functions(path=tmp_path / "a.png")
    assert is_png(tmp_path / "a.png")
    axes = fig.get_axes()
    assert [ax.get_title().split(":")[0] for ax in axes] == ["relu", "sigmoid", "tanh", "elu"]
    for ax in axes:
        f, df = [line for line in ax.get_lines() if line.get_label() in ("f(x)", "f'(x)")]
        x = f.get_xdata()
        name = ax.get_title().split(":")[0]
        y = getattr(kernels, name + "_forward")(x)
        np.testing.assert_array_equal(f.get_ydata(), y)
        # the derivative against a centred difference (away from relu's and elu's kink)
        h = 1e-6
        num = (getattr(kernels, name + "_forward")(x + h)
               - getattr(kernels, name + "_forward")(x - h)) / (2 * h)
        away = np.abs(x) > 1e-3
        np.testing.assert_allclose(df.get_ydata()[away], num[away], atol=1e-6)
    sig_df = axes[1].get_lines()[3].get_ydata()
    assert sig_df.max() == pytest.approx(0.25)            # sigmoid's slope is at most 1/4


# --------------------------------------------------------------------------- history
def test_plot_history_validation_test_curves_and_caption():
    hist = {"loss": [1.0, 0.6, 0.4], "val_loss": [0.9, 0.7, 0.5], "accuracy": [0.6, 0.8, 0.9],
            "val_accuracy": [0.55, 0.75, 0.85]}
    fig = plotting.plot_history(hist, test={"loss": [0.95, 0.72, 0.52],
                                            "accuracy": [0.5, 0.7, 0.8]})
    for ax in fig.get_axes():
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "train", "validation", "test"]
        styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
        assert len(set(styles.values())) == 3
    caption = " ".join(t.get_text() for t in fig.texts)
    assert "mean over each epoch's mini-batches" in caption and "dropout on" in caption
    assert "validation and test: after the epoch, dropout off" in caption
    # a single test result after training: one marker after the last epoch
    fig = plotting.plot_history(hist, test={"loss": 0.45, "accuracy": 0.88})
    marker = [line for line in fig.get_axes()[1].get_lines()
              if line.get_label() == "test (after training)"]
    assert marker and list(marker[0].get_xdata()) == [3] and list(marker[0].get_ydata()) == [0.88]
    fig = plotting.plot_history({"loss": [1.0, 0.5]})
    assert "validation" not in " ".join(t.get_text() for t in fig.texts)
    with pytest.raises(TypeError, match="test must be a dict"):
        plotting.plot_history(hist, test=[0.5])


# --------------------------------------------------------------------------- log axes
@pytest.mark.parametrize("lo, hi, at_least", [(0.3, 2.0, 5), (0.02, 2.5, 5), (0.5, 3000, 4)])
def test_log_axis_labels_enough_ticks(lo, hi, at_least):
    fig = plotting.new_figure((4, 3))
    ax = fig.subplots()
    ax.plot([0, 1], [lo, hi])
    plotting.log_axis(ax)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels(which="both") if t.get_text()
              and lo <= t.get_position()[1] <= hi]
    assert len(labels) >= at_least, labels
    assert all("10^" not in t and "times" not in t for t in labels)   # plain numbers


# --------------------------------------------------------------------------- layer statistics
@pytest.fixture(scope="module")
def stats():
    rng = np.random.default_rng(0)
    x = rng.random((120, 12)).astype(np.float32)
    y = rng.integers(0, 3, 120)
    model = zoo.mlp(hidden=(10, 8), input_dim=12, num_classes=3, seed=0)
    st = callbacks.LayerStatistics(bins=12)
    model.fit(x, y, epochs=3, batch_size=40, optimizer="sgd", callbacks=[st], seed=0,
              verbose=0)
    return st


@pytest.mark.parametrize("kind", ["weights", "gradients", "activations"])
def test_plot_layer_histograms_one_ridge_per_epoch(stats, kind, tmp_path):
    fig = plotting.plot_layer_histograms(stats, kind, path=tmp_path / "h.png")
    assert is_png(tmp_path / "h.png")
    panels = [ax for ax in fig.get_axes() if ax.axison]
    assert len(panels) == 3                      # three kernels / three recorded layers
    expected = 4 if kind != "gradients" else 3   # before + 3 epochs; gradients: 3 epochs
    for ax in panels:
        assert len(ax.collections) == expected
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels[-1] == "epoch 3" and (kind == "gradients") == (labels[0] == "epoch 1")
    # from the JSON form too, with biases
    d = fastnn.callbacks.LayerStatistics.from_dict(stats.to_dict())
    if kind != "activations":
        fig = plotting.plot_layer_histograms(d, kind, parameters="all")
        assert len([ax for ax in fig.get_axes() if ax.axison]) == 6


def test_plot_layer_moments_and_gradient_norms(stats, tmp_path):
    fig = plotting.plot_layer_moments(stats, "weights", path=tmp_path / "m.png")
    assert [ax.get_title() for ax in fig.get_axes()] == [
        "mean", "standard deviation", "L2 norm", "fraction of exact zeros"]
    std_lines = fig.get_axes()[1].get_lines()
    kernel_names = [n for n in stats.weights if n.endswith("/kernel")]
    assert len(kernel_names) == 3
    assert [line.get_label() for line in std_lines] == kernel_names
    assert [list(line.get_ydata()) for line in std_lines] == [
        [r["std"] for r in stats.weights[name]] for name in kernel_names]
    fig = plotting.plot_gradient_norms({"a": stats, "b": stats}, path=tmp_path / "g.png")
    assert is_png(tmp_path / "g.png")
    left = fig.get_axes()[0]
    kernels_ = [n for n in stats.grad_norm_mean if n.endswith("/kernel")]
    for j, line in enumerate(left.get_lines()):
        assert list(line.get_ydata()) == [stats.grad_norm_mean[n][j] for n in kernels_]
    assert fig.get_axes()[0].get_ylim() == fig.get_axes()[2].get_ylim()   # one scale
    with pytest.raises(ValueError, match="kind"):
        plotting.plot_layer_histograms(stats, "biases")
