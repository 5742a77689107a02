"""Run by test_losses.py in a fresh process: TaylorGLOLoss under MirroredStrategy vs one device.

The CPU must be split into two logical devices before TensorFlow initialises, which is why this
runs as its own process. Prints one JSON object on the last line of stdout.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_taylorglo.losses import TaylorGLOLoss  # noqa: E402
from keras_taylorglo.presets import PAPER_MNIST  # noqa: E402

rng = np.random.default_rng(0)
x = rng.normal(size=(8, 6)).astype("float32")
y = rng.integers(0, 4, 8)
w0 = [rng.normal(size=(6, 4)).astype("float32") * 0.5, np.zeros(4, "float32")]
theta2 = rng.normal(0, 2, 8)


def run(strategy, loss_inside_scope):
    """One SGD step, then set_theta and a second step; returns losses and weights."""
    loss = None if loss_inside_scope else TaylorGLOLoss(PAPER_MNIST)
    with strategy.scope():
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="softmax")])
        model.set_weights(w0)
        if loss is None:
            loss = TaylorGLOLoss(PAPER_MNIST)
        model.compile(optimizer=keras.optimizers.SGD(1e-2), loss=loss)
    first = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    weights1 = [w.tolist() for w in model.get_weights()]
    loss.set_theta(theta2)
    second = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return {
        "replicas": strategy.num_replicas_in_sync,
        "loss": [first.history["loss"][0], second.history["loss"][0]],
        "weights0": [w.tolist() for w in w0],
        "weights1": weights1,
        "weights2": [w.tolist() for w in model.get_weights()],
    }


devices = [d.name for d in tf.config.list_logical_devices("CPU")]
result = {
    "single": run(tf.distribute.get_strategy(), True),
    "mirrored_inside": run(tf.distribute.MirroredStrategy(devices), True),
    "mirrored_outside": run(tf.distribute.MirroredStrategy(devices), False),
}
print(json.dumps(result))
