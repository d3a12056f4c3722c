"""A small convolutional digit classifier: the judge of which digits a generator draws."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

FEATURES_LAYER = "features"


def build_classifier(seed: int = 0) -> keras.Sequential:
    init = keras.initializers.HeNormal
    return keras.Sequential([
        keras.Input(shape=(28, 28), name="image"),
        layers.Reshape((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu", padding="same", kernel_initializer=init(seed)),
        layers.Conv2D(32, 3, activation="relu", padding="same", kernel_initializer=init(seed + 1)),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu", padding="same", kernel_initializer=init(seed + 2)),
        layers.Conv2D(64, 3, activation="relu", padding="same", kernel_initializer=init(seed + 3)),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dropout(0.4, seed=seed),
        layers.Dense(128, activation="relu", name=FEATURES_LAYER, kernel_initializer=init(seed + 4)),
        layers.Dropout(0.4, seed=seed + 1),
        layers.Dense(10, name="logits"),
    ], name="digit_classifier")


def augment(images: np.ndarray, rng: np.random.Generator, max_shift: int = 2) -> np.ndarray:
    """Random shifts of up to max_shift pixels: cheap augmentation that lifts held-out accuracy."""
    out = np.zeros_like(images)
    for i, image in enumerate(images):
        dy, dx = rng.integers(-max_shift, max_shift + 1, size=2)
        out[i] = np.roll(np.roll(image, dy, axis=0), dx, axis=1)
    return out


class DigitJudge:
    """A trained classifier with fast traced calls for labels, probabilities and features."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.fingerprint: str | None = None  # the weights file's SHA-256 when loaded from one: keys cached statistics
        self.feature_model = keras.Model(model.inputs, model.get_layer(FEATURES_LAYER).output)
        both = keras.Model(model.inputs, [model.get_layer(FEATURES_LAYER).output, model.get_layer("logits").output])
        self._logits = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        self._features = tf.function(lambda x: self.feature_model(x, training=False), reduce_retracing=True)
        self._both = tf.function(lambda x: tf.concat(both(x, training=False), axis=1), reduce_retracing=True)

    def _batched(self, fn, images: np.ndarray, batch: int = 1000) -> np.ndarray:
        images = np.asarray(images, np.float32).reshape(-1, 28, 28)
        return np.concatenate([fn(tf.constant(images[i:i + batch])).numpy()
                               for i in range(0, len(images), batch)]) if len(images) else np.zeros((0,))

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        return tf.nn.softmax(self._batched(self._logits, images)).numpy()

    def predict_labels(self, images: np.ndarray) -> np.ndarray:
        return self._batched(self._logits, images).argmax(axis=1)

    def features(self, images: np.ndarray) -> np.ndarray:
        return self._batched(self._features, images)

    def features_and_probabilities(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both in one pass of the network: what every quality metric needs."""
        joined = self._batched(self._both, images)
        width = joined.shape[1] - 10
        return joined[:, :width], tf.nn.softmax(joined[:, width:]).numpy()

    @classmethod
    def load(cls, folder: str | Path) -> "DigitJudge":
        folder = Path(folder)
        weights = folder / "classifier.weights.h5"
        if not weights.is_file():
            raise FileNotFoundError(f"{weights}: no classifier weights here; train one with "
                                    f"'python -m gan_core train-classifier'.")
        model = build_classifier()
        model.load_weights(weights)
        judge = cls(model)
        judge.fingerprint = hashlib.sha256(weights.read_bytes()).hexdigest()
        return judge


def read_report(folder: str | Path) -> dict:
    return json.loads((Path(folder) / "report.json").read_text())
