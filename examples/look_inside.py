"""Look inside the lab CNN: its filters, the feature maps of one test image, the activation
functions, and per-layer statistics of weights, gradients and activations over training.

Run:  FASTNN_DATA=path/to/mnist python examples/look_inside.py [OUT_DIR] [TRAIN_IMAGES]
(defaults: inside/ and 6000 images, one epoch).  The same figures come from one command:
``fastnn train --model cnn --out DIR``.
"""
import os
import sys

from fastnn import callbacks, datasets, plotting, zoo
from fastnn.data import preprocess_images

out = sys.argv[1] if len(sys.argv) > 1 else "inside"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 6000
(x_train, y_train), (x_test, y_test) = datasets.load_mnist()
x_train, x_test = preprocess_images(x_train[:n]), preprocess_images(x_test)  # (N, 1, 28, 28)

model = zoo.cnn(seed=0)
stats = callbacks.LayerStatistics()                  # weights, gradients, activations per epoch
model.fit(x_train, y_train[:n], epochs=1, batch_size=64, optimizer="adam", seed=0,
          callbacks=[stats], verbose=0)
print("test accuracy: %.4f" % model.evaluate(x_test, y_test)["accuracy"])

os.makedirs(out, exist_ok=True)
plotting.plot_filters(model.layers[0], os.path.join(out, "filters.png"))          # 32 of 3x3
plotting.plot_filters(model.layers[2], os.path.join(out, "filters_conv2.png"))    # averaged
plotting.plot_feature_maps(model, x_test[0], os.path.join(out, "feature_maps.png"))
plotting.plot_activation_functions(os.path.join(out, "activation_functions.png"))
for kind in ("weights", "gradients", "activations"):
    plotting.plot_layer_histograms(stats, kind, path=os.path.join(out, kind + "_hist.png"))
plotting.plot_gradient_norms(stats, path=os.path.join(out, "gradient_norms.png"))
print("figures in", out)
