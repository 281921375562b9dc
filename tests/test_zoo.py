"""fastnn.zoo: the lab MLP and CNN architectures, seeding, and argument checks."""
import numpy as np
import pytest

from fastnn import layers as L
from fastnn import optim, zoo
from fastnn.models import Sequential


def describe(model):
    out = []
    for layer in model.layers:
        cfg = layer.get_config()
        cfg.pop("name")
        for k in ("seed", "counter", "kernel_initializer", "bias_initializer",
                  "kernel_regularizer", "bias_regularizer", "dtype"):
            cfg.pop(k, None)
        out.append((type(layer).__name__, cfg))
    return out


def test_lab_mlp_architecture():
    model = zoo.mlp()
    assert isinstance(model, Sequential)
    assert describe(model) == [
        ("Dense", {"in_features": 784, "out_features": 256, "activation": "relu"}),
        ("Dropout", {"rate": 0.2}),
        ("Dense", {"in_features": 256, "out_features": 128, "activation": "relu"}),
        ("Dropout", {"rate": 0.2}),
        ("Dense", {"in_features": 128, "out_features": 10, "activation": None}),
    ]
    assert model.count_params() == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert model.input_shape == (784,)
    assert all(p.value.dtype == np.float32 for p in model.parameters())
    assert model.forward(np.zeros((3, 784), np.float32)).shape == (3, 10)


def test_lab_cnn_architecture():
    model = zoo.cnn()
    assert describe(model) == [
        ("Conv2D", {"in_channels": 1, "out_channels": 32, "kernel_size": [3, 3],
                    "stride": [1, 1], "padding": [1, 1], "activation": "relu"}),
        ("MaxPool2D", {"pool_size": [2, 2], "stride": None}),
        ("Conv2D", {"in_channels": 32, "out_channels": 64, "kernel_size": [3, 3],
                    "stride": [1, 1], "padding": [1, 1], "activation": "relu"}),
        ("MaxPool2D", {"pool_size": [2, 2], "stride": None}),
        ("Flatten", {}),
        ("Dense", {"in_features": 3136, "out_features": 128, "activation": "relu"}),
        ("Dropout", {"rate": 0.5}),
        ("Dense", {"in_features": 128, "out_features": 10, "activation": None}),
    ]
    assert model.output_shapes() == [(32, 28, 28), (32, 14, 14), (64, 14, 14), (64, 7, 7),
                                      (3136,), (128,), (128,), (10,)]
    assert model.count_params() == (32 * 9 + 32) + (64 * 32 * 9 + 64) + (3136 * 128 + 128) + \
        (128 * 10 + 10)
    x = np.random.default_rng(0).random((2, 1, 28, 28)).astype(np.float32)
    assert model.forward(x).shape == (2, 10)


def test_activation_is_fused_into_dense_and_conv():
    for model in (zoo.mlp(activation="tanh"), zoo.cnn(activation="elu")):
        assert not any(isinstance(l, (L.ReLU, L.Tanh, L.ELU, L.Sigmoid)) for l in model.layers)
        hidden = [l for l in model.layers if isinstance(l, (L.Dense, L.Conv2D))][:-1]
        assert hidden and all(l.activation in ("tanh", "elu") for l in hidden)


@pytest.mark.parametrize("build", [zoo.mlp, zoo.cnn])
def test_same_seed_same_weights_different_seed_different(build):
    a, b, c = build(seed=7), build(seed=7), build(seed=8)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.value, q.value)
    kernels_a = [p.value for p in a.parameters() if p.name.endswith("kernel")]
    kernels_c = [p.value for p in c.parameters() if p.name.endswith("kernel")]
    assert all(not np.array_equal(u, v) for u, v in zip(kernels_a, kernels_c))
    # each layer draws from its own stream: no two kernels of one model start alike
    flat = [k.ravel()[:8] for k in kernels_a]
    assert len({tuple(f) for f in flat}) == len(flat)
    # an optimizer built afterwards does not touch the weights
    before = [p.value.copy() for p in a.parameters()]
    optim.get("nadam", a.parameters())
    assert all(np.array_equal(u, p.value) for u, p in zip(before, a.parameters()))


def test_dropout_rate_does_not_change_the_weights():
    with_dropout, without = zoo.mlp(dropout=0.3, seed=1), zoo.mlp(dropout=0.0, seed=1)
    assert not any(isinstance(l, L.Dropout) for l in without.layers)
    for p, q in zip(with_dropout.parameters(), without.parameters()):
        np.testing.assert_array_equal(p.value, q.value)


def test_seeds_are_recorded_and_dropout_masks_reproduce():
    a, b = zoo.mlp(seed=3), zoo.mlp(seed=3)
    seeds = [l.get_config().get("seed") for l in a.layers]
    assert all(isinstance(s, int) for s in seeds) and len(set(seeds)) == len(seeds)
    x = np.ones((4, 784), np.float32)
    np.testing.assert_array_equal(a.forward(x, training=True), b.forward(x, training=True))


def test_options_and_dtype():
    m = zoo.mlp(hidden=(32,), activation="sigmoid", dropout=0.1, input_dim=20, num_classes=4,
                kernel_initializer="he_normal", dtype=np.float64, seed=None)
    assert [type(l).__name__ for l in m.layers] == ["Dense", "Dropout", "Dense"]
    assert m.forward(np.zeros((2, 20))).shape == (2, 4)
    assert all(p.value.dtype == np.float64 for p in m.parameters())
    assert zoo.mlp(hidden=(), input_dim=5, num_classes=2).count_params() == 5 * 2 + 2
    c = zoo.cnn(channels=(8,), dense=16, input_shape=(3, 10, 10), num_classes=5, dropout=0.0)
    assert c.output_shapes()[-1] == (5,) and c.layers[3].in_features == 8 * 5 * 5


@pytest.mark.parametrize("call, exc, match", [
    (lambda: zoo.mlp(hidden=(0,)), ValueError, "hidden"),
    (lambda: zoo.mlp(hidden="256"), ValueError, "hidden"),
    (lambda: zoo.mlp(activation="softmax"), ValueError, "activation"),
    (lambda: zoo.mlp(dropout=1.0), ValueError, "dropout"),
    (lambda: zoo.mlp(num_classes=1), ValueError, "num_classes"),
    (lambda: zoo.mlp(input_dim=0), ValueError, "input_dim"),
    (lambda: zoo.mlp(seed=-1), ValueError, "seed"),
    (lambda: zoo.mlp(seed=1.5), TypeError, "seed"),
    (lambda: zoo.mlp(kernel_initializer="bogus"), ValueError, "kernel_initializer"),
    (lambda: zoo.cnn(channels=()), ValueError, "channels"),
    (lambda: zoo.cnn(dense=0), ValueError, "dense"),
    (lambda: zoo.cnn(input_shape=(28, 28)), ValueError, "input_shape"),
    (lambda: zoo.cnn(input_shape=(1, 3, 3)), ValueError, "input_shape"),
])
def test_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
