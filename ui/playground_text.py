"""The Playground page's words: what each layer of the view shows, and the lesson of the recipe comparison."""

INTRO = (
    "A GAN on points in the plane, trained **in your browser**: every frame shows the real points, the generated "
    "ones, what the discriminator believes everywhere, how the generator bends its latent plane, and where each "
    "generated point is being pushed. The ring of 8 Gaussians and the 5x5 grid are the standard mode-collapse "
    "benchmarks of the literature (Unrolled GAN, VEEGAN, PacGAN), with their exact sizes.")

LAYERS = {
    "D's heatmap": "The discriminator's verdict over the whole plane: **green** where D says *real*, **purple** "
                   "where it says *generated*, white where it cannot tell (D = 0.5). Training D sharpens it around "
                   "the real points; a healthy run fades towards white as G catches up.",
    "Real points": "Green dots: samples of the training distribution (the preset, or what you drew).",
    "Generated points": "Purple dots: G(z) for 600 fixed z. Modes covered and high-quality share are counted on "
                        "2,500 of them: a sample is high quality within 3 standard deviations of a mode's centre; "
                        "a mode is covered when at least 0.8% of the samples are high quality near it.",
    "G's manifold": "A grid of z over [-2.5, 2.5]^2 drawn through G as a mesh: how the generator folds and "
                    "stretches its 2-D latent plane onto the data. Mode collapse shows as the mesh piling into a "
                    "few places; thin stretched cells between modes are where low-quality samples come from.",
    "Gradient arrows": "The direction each generated point is pushed by G's loss: minus the gradient of the loss "
                       "with respect to the point, which is uphill on D's heatmap. Length shows relative strength.",
    "Averaged G": "Show the moving average of G's weights (what the scores use) instead of the raw generator. "
                  "Slow motion always shows the raw generator, so you can see each update move it.",
}

SLOW_MOTION = (
    "**Slow motion.** Each press does half a training step: first one discriminator update (the heatmap moves, "
    "the points stay), then one generator update (the points move along their arrows; grey lines show from "
    "where). *Train D* / *Train G* switch either network off: with D frozen, G chases a fixed heatmap and piles "
    "onto its greenest spot; with G frozen, D simply learns to separate the two clouds.")

CURVES = (
    "**Curves.** Top: D's and G's losses; with the logistic losses the equilibrium is D loss ≈ 1.39 and G loss ≈ "
    "0.69. Bottom: mean D(x) on real points and D(G(z)) on generated ones; both near 0.5 means D cannot tell them "
    "apart.")

DRAWN = ("**Draw your own.** Click and drag on the plane to add points (each is blurred a little, so a few strokes "
         "make a distribution), then press Start. The score is the Jensen-Shannon divergence between the real and "
         "generated clouds on a 40x40 grid (0: the same; ln 2 ≈ 0.693: disjoint).")

COMPARISON = (
    "**The lesson.** Left: the textbook recipe (non-saturating loss, Adam 2e-4, batch 128, nothing else). Right: "
    "this playground's default, which adds the R1 penalty (a zero-centred penalty on D's gradient at real points, "
    "Mescheder et al. 2018), a moving average of G's weights, and a larger learning rate (on the ring also a "
    "smaller batch). Same seed, same networks, one Start. Watch the left run drop modes or spend its samples between them, and the right "
    "one lock onto all of them. benchmarks/README.md measures both over seeds.")
