"""A script that searches on a model and arrays defined in its own ``__main__`` (test_api).

Nothing here is importable by the workers: the model function and the arrays exist only in this
process, and there is no ``if __name__ == "__main__":`` guard. Run as
``python tests/api_script.py RUN_DIR [generations [FITNESS]]``; prints the result as one JSON
line. A ``FITNESS`` such as ``fitness_fns:sphere`` (on ``PYTHONPATH``) replaces the trainings by
that function: for a test of the script's signals, not of its model.
"""

import json
import sys

import keras
import numpy as np
from sklearn.datasets import load_digits

import keras_taylorglo as ktg

digits = load_digits()
x = (digits.images / 16.0).astype("float32")
y = digits.target
x_train, y_train = x[:1000], y[:1000]
x_val, y_val = x[1000:1300], y[1000:1300]
x_test, y_test = x[1300:], y[1300:]
WIDTH = 8  # a global the model function reads: it travels with the function


def build(input_shape, num_classes, **options):
    inputs = keras.Input(input_shape)
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(WIDTH, activation="relu")(h)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(h))


search = ktg.Search(
    model=build,
    data=(x_train, y_train),
    validation_data=(x_val, y_val),
    test_data=(x_test, y_test),
    run_dir=sys.argv[1],
    evolution={"population": 4, "generations": int(sys.argv[2]) if len(sys.argv) > 2 else 2},
    training={"partial": {"steps": 20}, "full": {"steps": 40}},
    evaluation={"abort": {"threshold": 0.0}, **({"fitness": sys.argv[3]} if sys.argv[3:] else {})},
    execution={"workers": 2, "devices": "cpu"},
)
result = search.run()
loss = result.best_loss()
print(
    json.dumps(
        {
            "theta": list(result.best.theta),
            "fitness": result.best.fitness,
            "state": result.state,
            "loss": type(loss).__name__,
            "loss_theta": np.asarray(loss.theta).tolist(),
        }
    )
)
