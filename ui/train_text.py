"""The Train page's words: series labels and colours, and a paragraph beside each chart on what healthy looks like.

Kept apart from ui/train_page.py so the page's code reads as code; nothing here computes anything. The Explore
page's caption about its copy of the trained weights is here too (it names training steps).
"""

import re

SERIES_LABELS = {"d_loss": "D loss", "g_loss": "G loss", "d_real": "mean D(x), real", "d_fake": "mean D(G(z)), fake",
                 "gradient_penalty": "gradient penalty", "d_grad_norm": "D gradient norm",
                 "g_grad_norm": "G gradient norm", "loss": "total (negative ELBO)", "recon_loss": "reconstruction",
                 "kl_loss": "KL", "fid": "FID", "classes_covered": "classes covered",
                 "kl_to_uniform": "KL to uniform", "precision": "precision", "recall": "recall"}
CRITIC_LABELS = {"d_real": "critic score, real", "d_fake": "critic score, fake"}
SERIES_COLOURS = {"D loss": "#c0392b", "G loss": "#2874a6", "mean D(x), real": "#27ae60",
                  "mean D(G(z)), fake": "#8e44ad", "critic score, real": "#27ae60", "critic score, fake": "#8e44ad",
                  "gradient penalty": "#d35400", "D gradient norm": "#c0392b", "G gradient norm": "#2874a6",
                  "total (negative ELBO)": "#2c3e50", "reconstruction": "#2874a6", "KL": "#d35400",
                  "FID": "#2c3e50", "classes covered": "#27ae60", "KL to uniform": "#d35400",
                  "precision": "#8e44ad", "recall": "#16a085"}
# One paragraph beside each chart: what healthy and unhealthy look like.
LOSS_TEXT = {
    "non_saturating": "**Losses.** At the equilibrium D cannot tell real from fake: D loss sits near 2 ln 2 ≈ 1.39 "
                      "and G loss near ln 2 ≈ 0.69 (dashed). Healthy training wobbles around these values. D loss "
                      "falling towards 0 while G loss climbs means D is winning and G gets little to learn from; NaN "
                      "or a sudden explosion means divergence (lower the learning rates).",
    "wgan_gp": "**Losses.** The critic's loss is minus its estimate of the Wasserstein distance between real and "
               "generated digits (plus the penalty), so it starts strongly negative and should creep towards 0 as G "
               "improves. G loss has no target. A critic loss that keeps falling, or swings wildly, means the "
               "critic or G is out of step (check the penalty below).",
    "other": "**Losses.** With the {loss} loss the values have no fixed equilibrium; watch for steady curves rather "
             "than a target. D loss heading to 0 while G loss climbs means D is winning; an explosion means "
             "divergence (lower the learning rates).",
}
LOSS_TEXT["minimax"] = LOSS_TEXT["non_saturating"]
SCORES_TEXT_PROBABILITY = (
    "**What D believes.** Mean D(x) on real digits and mean D(G(z)) on generated ones. At equilibrium both hover "
    "around 0.5 (dashed). D(x) → 1 with D(G(z)) → 0 means D is winning; both near 1 means G fools D easily, often "
    "because D has stopped learning.")
SCORES_TEXT_CRITIC = (
    "**What the critic says.** Mean raw scores on real and generated digits; they are not probabilities, so there "
    "is no 0.5 line. A steady, modest gap is healthy; a gap that widens without end means the critic separates "
    "them easily and G is not catching up.")
PENALTY_TEXT = (
    "**Gradient penalty.** How far the critic's gradient norm strays from 1 between real and generated digits. "
    "Healthy: it drops quickly and stays small. A penalty that grows means the critic is breaking its Lipschitz "
    "constraint; raise the penalty weight or lower the learning rates.")
GRAD_NORM_TEXT = (
    "**Gradient norms.** The size of each network's update signal. Both usually fall a lot in the first few "
    "thousand steps (G's from about 1 to under 0.1 in runs that draw good digits) and then settle: the level "
    "matters less than its steadiness. Watch for G's norm dropping to near 0 for good while the samples stop "
    "improving (D gives it nothing to learn from: vanishing gradients), and for sudden spikes in either one, "
    "which come before divergence.")
RECON_TEXT = (
    "**Reconstruction loss.** How badly the decoder rebuilds each digit from its code (cross-entropy over the "
    "pixels). Healthy: a steep drop, then a slow decline. A plateau early on means the learning rate is too low; "
    "a jump up means it is too high.")
ELBO_TEXT = (
    "**The ELBO terms.** The total is the negative evidence lower bound: reconstruction plus the weighted KL term "
    "(next chart). Healthy: both fall fast, then flatten. A total that rises again, or NaN, means the learning rate "
    "is too high.")
KL_TEXT = (
    "**KL term.** How far the encoder's codes stray from the N(0, I) prior (weight {weight:g}). Healthy: it rises "
    "early as codes start to carry information, then levels off. Near 0 for long means posterior collapse: the "
    "decoder ignores z (lower the KL weight); a KL that keeps growing gives sharp reconstructions but poor samples.")
SAMPLES_TEXT = {
    "gan": "**Samples.** The grid always uses the same 64 noise vectors, so changes you see are G learning. Healthy: "
           "blobs become strokes, then varied, legible digits. Unhealthy: many cells turn into the same digit (mode "
           "collapse), or the grid flickers between styles from one refresh to the next.",
    "cgan": "**Samples.** The same 64 noise vectors, each asked for a digit: 0, 1, ..., 9, 0, 1, ... reading left to "
            "right, row by row. Healthy: each cell shows the digit it was asked for. Unhealthy: the label is ignored, or many cells "
            "turn into the same digit (mode collapse).",
    "ae": "**Samples.** The decoder applied to random z from N(0, I). Nothing shapes a plain autoencoder's codes "
          "like that Gaussian, so expect poor or smeared digits even when reconstructions are good: that is the "
          "lesson of this model, not a bug.",
    "vae": "**Samples.** The decoder applied to random z from N(0, I), which the KL term makes the codes resemble. "
           "Healthy: legible but blurry digits (blur is the VAE's known weakness). Grey mush late in training "
           "means the KL term dominates.",
}
DISCRIMINATOR_VIEW_TEXT = (
    "**Discriminator view.** D's output on 256 real digits (green) and 256 generated ones (purple), as in GAN Lab. "
    "Early on the two piles sit apart: real near 1, fake near 0. Healthy training pulls them together around 0.5. "
    "Piles pinned at 1 and 0 for long means D is winning; purple piled at 1 means G fools a D that stopped learning.")
DISCRIMINATOR_VIEW_TEXT_CRITIC = (
    "**Critic view.** The critic's raw score on 256 real digits (green) and 256 generated ones (purple), as in GAN "
    "Lab. Healthy training brings the two piles closer and keeps them overlapping; piles that drift apart without "
    "end mean the critic separates them easily and G is not catching up.")
QUALITY_TEXT = (
    "Every {every:,} steps{at_most} a separate thread draws {n:,} digits and scores them with a digit classifier. "
    "**FID** on its features should fall towards the real-vs-real floor (dashed: two sets of real digits "
    "differ by this much too). **Classes covered** should reach 10 and **KL to uniform** approach 0: a drop in "
    "classes or a rising KL is mode collapse. **Precision** (samples look real) and **recall** (samples cover the "
    "variety of real digits) should both rise; high precision with low recall is again mode collapse.")
# QUALITY_TEXT's {at_most}: a scoring costs about a CPU-second, so the engine scores at most this often.
QUALITY_AT_MOST = (" (at most once every {seconds:g} s: when training is faster, some multiples are skipped, so "
                   "scoring takes only a small share of the machine)")
MODEL_TITLES = {"ae": "an autoencoder", "vae": "a VAE"}
LOSS_LABELS = {"non_saturating": "non-saturating", "minimax": "minimax", "least_squares": "least squares (LSGAN)",
               "hinge": "hinge", "wgan_gp": "WGAN-GP"}
AUTOENCODER_LATENTS = {2: "2 (latent map)", 16: "16 (quality)"}
INTRO_ADVERSARIAL = ("A generator G turns random noise z into images; a discriminator D learns to tell them from real "
                     "digits, and G learns to fool D. Pick a recipe in the sidebar, press **Start**, and watch them "
                     "compete.")
INTRO_AUTOENCODER = ("An encoder squeezes each digit into a short latent code and a decoder rebuilds the digit from "
                     "it; no adversary. Pick a recipe in the sidebar, press **Start**, and watch the reconstruction "
                     "improve.")
STATUS_TEXT = {
    "idle": ("Ready", "Press Start to train, or Step to run one chunk of {chunk} steps."),
    "starting": ("Starting", "The training process is getting ready; the first curve points follow at once."),
    "running": ("Running", "Training in its own process; the views below refresh by themselves."),
    "paused": ("Paused", "Resume to continue, or Step to run one chunk of {chunk} steps."),
    "stopped": ("Stopped", "The training process was ended (the browser disconnected, or the server asked it to). "
                "Your curves are kept: Resume continues from the last snapshot."),
    "worker_gone": ("Training process ended", "Resume restarts it from the last snapshot."),
    "finished": ("Finished", ""),
    "diverged": ("Diverged", ""),
    "error": ("Error", "Press Reset to start again; if it happens again, lower the learning rates."),
}


def copy_caption(key: str, training_step: int) -> str:
    """Which step the private copy holds, and whether training has gone further since (the copy is taken from the
    worker itself, so it may be newer than the step the page last heard of: never "a copy ahead of training")."""
    tail = key.rsplit(":", 1)[-1]
    copy_step = int(tail) if tail.isdigit() else None
    if copy_step is None:
        return "Using a private copy of the trained weights. Press **Refresh from training** for newer weights."
    if training_step > copy_step:
        return (f"Using a private copy of the weights at step {copy_step:,}; training has since reached step "
                f"{training_step:,}. Press **Refresh from training** for newer weights.")
    return f"Using a private copy of the weights at step {copy_step:,}, the newest there is."


# Keras names unnamed layers after their class (`dense_2`, `re_lu_4`, `batch_normalization_1`): shown as words.
LAYER_WORDS = {"dense": "fully connected", "re_lu": "ReLU", "leaky_re_lu": "leaky ReLU", "conv2d": "convolution",
               "conv2d_transpose": "transposed convolution", "batch_normalization": "batch normalisation",
               "reshape": "reshape", "flatten": "flatten", "dropout": "dropout", "concatenate": "join inputs",
               "activation": "activation", "layer_normalization": "layer normalisation", "embedding": "embedding"}


def layer_words(name: str) -> str:
    """A readable description of a layer from its Keras name: `dense_2` -> "fully connected"."""
    stem = re.sub(r"_\d+$", "", name)
    return LAYER_WORDS.get(stem, stem.replace("_", " "))


def elapsed_text(seconds: float) -> str:
    """Short enough for a metric on a 1024 px projector: "42 s", "2m 03s", "1h 02m"."""
    seconds = max(0, int(round(seconds)))
    if seconds < 100:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
