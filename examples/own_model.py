"""TaylorGLO on your own Keras model and NumPy arrays, from a plain script.

Searches a loss for a small CNN on scikit-learn's 8x8 digits (offline, CPU, a few minutes), trains
with the best loss found, and compares it with cross-entropy in full trainings:

    python examples/own_model.py                      # writes runs/own_model/
    KTG_EXAMPLE_TINY=1 python examples/own_model.py   # seconds-scale budgets (the test suite)

The model function and the arrays live only in this script: the search writes them into the run
directory, so its worker processes (and `keras-taylorglo status/monitor/analyze runs/own_model`)
need nothing else. No `if __name__ == "__main__":` guard is needed.
"""

import os

import keras
import numpy as np
from sklearn.datasets import load_digits

import keras_taylorglo as ktg

TINY = os.environ.get("KTG_EXAMPLE_TINY") == "1"
RUN_DIR = os.environ.get("KTG_EXAMPLE_RUN_DIR", "runs/own_model")


def build_model(input_shape, num_classes, filters=16):
    """An uncompiled CNN whose output is softmax probabilities (every loss here needs them)."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


# Your arrays: images (n, height, width[, channels]) and integer labels 0..num_classes-1.
digits = load_digits()
images, labels = (digits.images / 16.0).astype("float32"), digits.target
order = np.random.default_rng(0).permutation(len(images))
train, val, test = order[:1000], order[1000:1300], order[1300:]

search = ktg.Search(
    model=build_model,
    data=(images[train], labels[train]),
    validation_data=(images[val], labels[val]),  # fitness = accuracy on these
    test_data=(images[test], labels[test]),  # the analysis scores these
    run_dir=RUN_DIR,
    overwrite=True,  # this example starts afresh each time
    model_options={"filters": 8 if TINY else 16},
    evolution={"population": 4 if TINY else 8, "generations": 1 if TINY else 6},
    training={"partial": {"steps": 20 if TINY else 150}, "full": {"steps": 40 if TINY else 1500}},
    execution={"devices": "cpu", "workers": 2},
)
result = search.run()  # blocks, with a progress display; Ctrl-C leaves it resumable
best = result.best
print(f"best fitness {best.fitness:.4f} (generation {best.generation}, candidate {best.candidate})")
print("θ =", [round(v, 4) for v in best.theta])

# The best loss is an ordinary Keras loss: compile your model with it.
model = build_model((8, 8, 1), 10)
optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
model.compile(optimizer=optimizer, loss=result.best_loss(), metrics=["accuracy"])
model.fit(images[train], labels[train], batch_size=32, epochs=1 if TINY else 20, verbose=0)
_, accuracy = model.evaluate(images[test], labels[test], verbose=0)
print(f"a model trained with it: test accuracy {accuracy:.4f}")

# Full trainings of the best loss against cross-entropy, paired by seed, with a Welch t-test.
report = ktg.analyze(RUN_DIR, runs=1 if TINY else 5, progress=not TINY)
taylorglo, baseline = report["taylorglo"], report["baseline"]
print(
    f"TaylorGLO {taylorglo['mean']:.4f} vs cross-entropy {baseline['mean']:.4f} test accuracy "
    f"over {report['runs']} runs (one-tailed Welch p = {report['p_value']})"
)
