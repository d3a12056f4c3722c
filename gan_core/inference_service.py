"""The shared inference worker's side of the engine: models the page cannot run in NumPy, and evaluations.

One process serves every session. It holds convolutional models (the DCGAN), private copies of a session's
trained convolutional model, the digit classifier, and the untrained networks the Model page describes.
Dense models never come here: the page runs them itself (gan_core.numpy_models). Models are kept in a small
least-recently-used cache by key; a key names immutable weights (a shipped folder and its file times, or a
session's run and step), so a cached model is never stale.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from gan_core.config import GANConfig

MAX_MODELS = 8


class InferenceService:
    def __init__(self, max_models: int = MAX_MODELS):
        self.models: OrderedDict[str, object] = OrderedDict()
        self.max_models = int(max_models)
        self._judges: dict[str, object] = {}
        self._datasets: dict[str, np.ndarray] = {}

    def _keep(self, key: str, model) -> None:
        self.models[key] = model
        self.models.move_to_end(key)
        while len(self.models) > self.max_models:
            self.models.popitem(last=False)

    def _model(self, key: str):
        model = self.models.get(key)
        if model is None:
            raise KeyError(f"no model {key!r} in the inference worker (it may have been evicted); load it again")
        self.models.move_to_end(key)
        return model

    def rpc_warm(self) -> bool:
        """Import TensorFlow and the model code now, so the first real request does not wait for them."""
        import gan_core.models  # noqa: F401

        return True

    def rpc_has(self, key: str) -> bool:
        return key in self.models

    def rpc_load_folder(self, key: str, folder: str) -> dict:
        from gan_core import checkpoints

        model, config, state = checkpoints.load_model(folder, need_discriminator=True)
        self._keep(key, model)
        return {"config": config.to_dict(), "state": state}

    def rpc_load_arrays(self, key: str, config: dict, weights: dict[str, list[np.ndarray]]) -> None:
        from gan_core.models import build_model

        model = build_model(GANConfig.from_dict(config))
        networks = model.weight_networks()
        for stem, arrays in weights.items():
            if stem in networks:
                networks[stem].set_weights([np.asarray(a) for a in arrays])
        self._keep(key, model)

    def rpc_generate(self, key: str, z: np.ndarray, labels=None) -> np.ndarray:
        return self._model(key).generate(z, labels)

    def rpc_generate_soft(self, key: str, z: np.ndarray, label_vectors: np.ndarray) -> np.ndarray:
        return self._model(key).generate_soft(z, label_vectors)

    def rpc_probability(self, key: str, images: np.ndarray, labels=None) -> np.ndarray:
        return self._model(key).probability(images, labels)

    def rpc_encode(self, key: str, images: np.ndarray) -> np.ndarray:
        return self._model(key).encode(images)

    def rpc_reconstruct(self, key: str, images: np.ndarray) -> np.ndarray:
        return self._model(key).reconstruct(images)

    def rpc_directions(self, key: str, count: int, components: int):
        from gan_core import latent

        model = self._model(key)
        return latent.principal_directions(model.generate, model.latent_dim, count=count, components=components)

    def rpc_describe(self, config: dict) -> dict[str, list[dict]]:
        """Layer rows of every network of the model a config describes (weights do not change them)."""
        from gan_core.models import build_model
        from gan_core.networks import describe

        model = build_model(GANConfig.from_dict(config))
        return {stem: describe(network) for stem, network in model.weight_networks().items()}

    def rpc_project(self, key: str, judge_dir: str, images: np.ndarray, state: dict | None = None,
                    steps: int | None = None, weights=None, config: dict | None = None) -> dict:
        """One chunk of projecting digits to latents (gan_core.projection.project_chunk); dense weights travel along."""
        from gan_core import projection

        if weights is not None and key not in self.models:
            self.rpc_load_arrays(key, config, weights)
        return projection.project_chunk(self._model(key), images, self._judge(judge_dir), state, steps)

    def _judge(self, folder: str):
        if folder not in self._judges:
            from gan_core.classifier import DigitJudge

            self._judges[folder] = DigitJudge.load(folder)
        return self._judges[folder]

    def _real(self, dataset: str) -> np.ndarray:
        if dataset not in self._datasets:
            from gan_core.data import load_dataset

            self._datasets[dataset] = load_dataset(dataset).images
        return self._datasets[dataset]

    def rpc_evaluate(self, key: str, judge_dir: str, reference_dataset: str, n: int, weights=None,
                     config: dict | None = None) -> dict:
        """The evaluate command's report for a cached model, or for dense weights sent along."""
        from gan_core import evaluation

        if weights is not None:
            self.rpc_load_arrays(key, config, weights)
        model = self._model(key)
        return evaluation.evaluate_generator(model.generate, model.latent_dim, self._judge(judge_dir),
                                             self._real(reference_dataset), n=int(n))

    def close(self) -> None:
        self.models.clear()
