"""Training the digit classifier (the judge), for the CLI's train-classifier command."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from gan_core.checkpoints import atomic_write_folder
from gan_core.classifier import augment, build_classifier
from gan_core.data import DatasetError, load_dataset


def train_classifier(dataset: str, holdout: str, out: Path, epochs: int = 12, seed: int = 0,
                     command: str = "") -> dict:
    train = load_dataset(dataset)
    test = load_dataset(holdout)
    for name, data in ((dataset, train), (holdout, test)):
        if data.labels is None:
            raise DatasetError(f"{name}: has no labels; the classifier needs labelled digits.")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    model = build_classifier(seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=epochs * (len(train) // 128 + 1))
    model.optimizer.learning_rate = schedule
    for _ in range(epochs):
        order = rng.permutation(len(train))
        model.fit(augment(train.images[order], rng), train.labels[order], batch_size=128, epochs=1, verbose=0)
    _, accuracy = model.evaluate(test.images, test.labels, batch_size=1000, verbose=0)
    # A fresh, uncompiled copy: Keras would otherwise store the optimizer's state beside the weights.
    inference_model = build_classifier(seed)
    inference_model.set_weights(model.get_weights())
    report = {"train_dataset": dataset, "train_images": len(train), "holdout_dataset": holdout,
              "holdout_images": len(test), "holdout_accuracy": round(float(accuracy), 4), "epochs": epochs,
              "seed": seed, "wall_time_s": round(time.perf_counter() - started, 1), "command": command}
    write_classifier_folder(Path(out), inference_model, report)
    return report


def write_classifier_folder(out: Path, model, report: dict) -> Path:
    """Weights and their report replace the old pair together: an interrupted run leaves the old judge whole."""

    def fill(temp: Path) -> None:
        if out.is_dir():  # anything else kept there stays
            for item in out.iterdir():
                if item.is_file() and item.name not in ("classifier.weights.h5", "report.json"):
                    shutil.copy2(item, temp / item.name)
        model.save_weights(temp / "classifier.weights.h5")
        (temp / "report.json").write_text(json.dumps(report, indent=2) + "\n")

    return atomic_write_folder(out, fill)
