"""The model family: conditional GAN, DCGAN, autoencoder, VAE; each trains, saves, loads and samples."""

from __future__ import annotations

import numpy as np
import pytest

from gan_core import checkpoints
from gan_core.config import GANConfig
from gan_core.data import Dataset, DatasetError
from gan_core.lab import create_run
from gan_core.models import VAE, Autoencoder, build_model, gaussian_reconstruction_loss, kl_divergence

TINY = dict(hidden_units=8, latent_dim=4, batch_size=8, steps_per_call=3)
FAMILY = {
    "cgan": GANConfig(model="cgan", **TINY),
    "dcgan": GANConfig(architecture="conv", **TINY),
    "ae": GANConfig(model="ae", **TINY),
    "vae": GANConfig(model="vae", **TINY),
    "wgan_gp": GANConfig(loss="wgan_gp", d_steps=2, **TINY),
}


@pytest.fixture
def labelled(tiny_images):
    return Dataset("tiny", tiny_images, np.arange(len(tiny_images)) % 10)


@pytest.mark.parametrize("name", list(FAMILY))
def test_trains_saves_loads_and_samples(name, labelled, tmp_path):
    config = FAMILY[name]
    run = create_run(config, labelled, chunk_steps=6)
    before = [np.array(w.numpy()) for w in run.model.trainable_weights[:2]]
    snapshot = run.trainer.run(6)
    assert any(not np.allclose(b, a.numpy()) for b, a in zip(before, run.model.trainable_weights[:2]))
    for metric, values in snapshot.history.items():
        assert np.all(np.isfinite(values)), (name, metric)
    z = np.random.default_rng(0).standard_normal((5, config.latent_dim)).astype(np.float32)
    images = run.model.generate(z)
    assert images.shape == (5, 28, 28) and images.min() >= 0 and images.max() <= 1

    folder = checkpoints.save_weights_folder(tmp_path / name, run.model, config, {"step": 6})
    loaded, loaded_config, _ = checkpoints.load_model(folder)
    assert loaded_config == config and type(loaded) is type(run.model)
    np.testing.assert_allclose(loaded.generate(z), images, atol=1e-6)


def test_charts_metrics_follow_the_model():
    names = {key: [m.name for m in build_model(config).metrics] for key, config in FAMILY.items()}
    assert names["vae"] == ["loss", "recon_loss", "kl_loss"]
    assert names["ae"] == ["recon_loss"]
    assert "gradient_penalty" in names["wgan_gp"]
    assert names["cgan"][:4] == ["d_loss", "g_loss", "d_real", "d_fake"]


def test_vae_kl_matches_closed_form():
    mean = np.array([[0.5, -1.0], [0.0, 2.0]], np.float32)
    log_variance = np.array([[0.0, np.log(4.0)], [np.log(0.25), 0.0]], np.float32)
    # KL(N(m, s^2) || N(0, 1)) = 0.5 * (s^2 + m^2 - 1 - ln s^2), per dimension
    per_row = 0.5 * (np.exp(log_variance) + mean ** 2 - 1.0 - log_variance).sum(axis=1)
    assert float(kl_divergence(mean, log_variance)) == pytest.approx(per_row.mean(), rel=1e-5)
    assert float(kl_divergence(np.zeros((3, 2), np.float32), np.zeros((3, 2), np.float32))) == pytest.approx(0.0)


def _first_update(config, images):
    """loss, recon, KL of one fresh update (the trackers hold exactly that step)."""
    model = build_model(config)
    model.reset_metrics()
    logs = {name: float(value) for name, value in model.train_step(images).items()}
    return model, logs


def test_kl_warmup_ramps_the_kl_weight_linearly_over_its_steps(labelled):
    images = labelled.images[:8]
    _, plain = _first_update(FAMILY["vae"], images)
    assert plain["loss"] == pytest.approx(plain["recon_loss"] + plain["kl_loss"], rel=1e-5)
    model, first = _first_update(FAMILY["vae"].replace(kl_weight=2.0, kl_warmup_steps=4), images)
    # Update 1 of 4: a quarter of the weight 2.0.
    assert first["loss"] == pytest.approx(first["recon_loss"] + 0.5 * first["kl_loss"], rel=1e-5)
    for _ in range(2):
        model.train_step(images)
    assert float(model.kl_weight()) == pytest.approx(2.0)  # update 4 of 4
    model.train_step(images)
    model.reset_metrics()
    logs = {name: float(value) for name, value in model.train_step(images).items()}
    assert float(model.kl_weight()) == pytest.approx(2.0)  # and it stays there
    assert logs["loss"] == pytest.approx(logs["recon_loss"] + 2.0 * logs["kl_loss"], rel=1e-5)


def test_a_resumed_vae_continues_its_kl_warmup_where_it_stopped(labelled):
    # A resumed run's optimizer starts again at 0; the ramp must not (a restarted ramp would drop the KL weight).
    run = create_run(FAMILY["vae"].replace(kl_warmup_steps=4), labelled, start_step=2)
    assert float(run.model.kl_weight()) == pytest.approx(0.75)  # update 3 of 4
    run.trainer.start_at(8)
    assert float(run.model.kl_weight()) == pytest.approx(1.0)


def test_gaussian_likelihood_is_the_nll_at_the_best_shared_variance():
    rng = np.random.default_rng(0)
    images, recon = rng.random((3, 28, 28), np.float32), rng.random((3, 28, 28), np.float32)
    variance = np.mean((images - recon) ** 2)
    nll = 0.5 * ((images - recon) ** 2 / variance + np.log(2 * np.pi * variance)).sum(axis=(1, 2)).mean()
    assert float(gaussian_reconstruction_loss(images, recon)) == pytest.approx(nll, rel=1e-4)
    # The config picks the loss: the same first update under each likelihood.
    _, gaussian = _first_update(FAMILY["vae"].replace(likelihood="gaussian"), images)
    _, bernoulli = _first_update(FAMILY["vae"], images)
    assert np.isfinite(gaussian["loss"]) and gaussian["recon_loss"] < 0.5 * bernoulli["recon_loss"]


def test_vae_encoding_is_the_mean_and_ae_reconstructs(labelled):
    images = labelled.images[:3]
    vae = build_model(FAMILY["vae"])
    assert isinstance(vae, VAE)
    code = vae.encode(images)
    assert code.shape == (3, 4)
    # The encoder emits [mean, log-variance]; the encoding is the mean half, never a sample around it.
    mean = np.asarray(vae.encoder(images, training=False))[:, :4]
    np.testing.assert_allclose(code, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(code, vae.encode(images))  # deterministic
    ae = build_model(FAMILY["ae"])
    assert isinstance(ae, Autoencoder) and not isinstance(ae, VAE)
    recon = ae.reconstruct(images)
    assert recon.shape == (3, 28, 28)
    # The reconstruction is the decoder applied to the encoder's code (an AE returning zeros fails here).
    expected = np.asarray(ae.decoder(ae.encoder(images, training=False), training=False)).reshape(3, 28, 28)
    np.testing.assert_allclose(recon, expected, rtol=1e-5, atol=1e-6)
    assert recon.std() > 1e-4 and not np.allclose(recon[0], recon[1])  # depends on its input


def test_cgan_respects_its_label():
    model = build_model(GANConfig(model="cgan", hidden_units=32, latent_dim=4))
    z = np.repeat(np.random.default_rng(0).standard_normal((1, 4)).astype(np.float32), 10, axis=0)
    images = model.generate(z, labels=np.arange(10))
    differences = [np.abs(images[0] - images[k]).max() for k in range(1, 10)]
    assert min(differences) > 1e-4  # same z, different label -> different image
    np.testing.assert_allclose(model.generate(z[:2], labels=[3, 3])[0], model.generate(z[:2], labels=[3, 3])[1])


def test_cgan_needs_labels(tiny_images):
    with pytest.raises(DatasetError, match="needs labelled digits"):
        create_run(FAMILY["cgan"], Dataset("unlabelled", tiny_images))


def test_conv_architecture_only_for_gan():
    with pytest.raises(ValueError, match="conv"):
        GANConfig(model="vae", architecture="conv")
    with pytest.raises(ValueError, match="model must be one of"):
        GANConfig(model="flow")


def test_cli_sample_cgan_label_and_family(tmp_path, capsys):
    from gan_core.__main__ import main

    tiny = ["--hidden-units", "8", "--latent-dim", "4", "--batch-size", "8", "--steps-per-call", "3"]
    assert main(["train", "--model", "cgan", "--out", str(tmp_path / "c"), "--steps", "6", *tiny]) == 0
    assert main(["sample", "--weights", str(tmp_path / "c"), "--n", "12", "--out", str(tmp_path / "c.npy"),
                 "--label", "7"]) == 0
    assert np.load(tmp_path / "c.npy").shape == (12, 28, 28)
    assert main(["train", "--model", "vae", "--out", str(tmp_path / "v"), "--steps", "6", *tiny]) == 0
    assert main(["sample", "--weights", str(tmp_path / "v"), "--n", "4", "--out", str(tmp_path / "v.npy")]) == 0
    capsys.readouterr()
    assert main(["sample", "--weights", str(tmp_path / "v"), "--n", "4", "--out", str(tmp_path / "x.npy"),
                 "--label", "3"]) == 2
    assert "conditional GAN only" in capsys.readouterr().err
