"""The About tab: the five families, their equations, and the module that implements each."""
import os
import re

# module links point at $GENBENCH_SOURCE_URL/<path> (e.g. the Space's file browser, .../blob/main);
# unset, paths are shown as code: the app serves nothing from disk but its own outputs
SOURCE_URL = os.environ.get("GENBENCH_SOURCE_URL", "").rstrip("/")

_ABOUT = r"""
## The five families

**GAN** — a generator $G$ and a discriminator $D$ play a minimax game
$$\min_G \max_D \; \mathbb{E}_{x \sim p_\text{data}}[\log D(x)] + \mathbb{E}_{z \sim p(z)}[\log(1 - D(G(z)))]$$
In practice $G$ minimises the non-saturating loss $-\mathbb{E}_z[\log D(G(z))]$, which keeps its gradients
when $D$ wins. WGAN-GP replaces the game by a critic with the penalty
$\lambda\,\mathbb{E}_{\hat x}[(\lVert \nabla_{\hat x} D(\hat x) \rVert_2 - 1)^2]$.
Implemented in [`models/gan_losses.py`](SRC/models/gan_losses.py) and
[`models/gan_networks.py`](SRC/models/gan_networks.py) (DCGAN; StyleGAN2-style mapping network,
modulated and demodulated convolutions).

**Pixel-space DDPM** — the forward process adds Gaussian noise in closed form,
$$q(x_t \mid x_0) = \mathcal{N}\big(\sqrt{\bar\alpha_t}\,x_0,\; (1 - \bar\alpha_t)\,I\big),$$
and a U-Net $\epsilon_\theta$ learns to predict that noise with
$$L_\text{simple} = \mathbb{E}_{t, x_0, \epsilon}\big[\lVert \epsilon - \epsilon_\theta(\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon,\; t)\rVert^2\big]$$
(here weighted by Min-SNR). [`models/diffusion.py`](SRC/models/diffusion.py),
[`models/ddpm.py`](SRC/models/ddpm.py).

**Latent diffusion** — the same process on the latents $z = \mathcal{E}(x)$ of a VAE, decoded by
$\mathcal{D}$; text enters the U-Net through cross-attention, queries from the image and keys and values
from the text tokens $\tau(y)$:
$$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\Big(\frac{Q K^\top}{\sqrt d}\Big) V,\quad
Q = W_Q\,\varphi(z_t),\; K = W_K\,\tau(y),\; V = W_V\,\tau(y).$$
[`models/vae.py`](SRC/models/vae.py), [`models/latent.py`](SRC/models/latent.py).

**Diffusion Transformer** — the latent is cut into patches, and every block is conditioned by adaptive
layer norm on the timestep and the pooled text vector $c$, with a gate initialised to zero (AdaLN-Zero):
$$h \leftarrow h + \alpha(c) \odot f\big(\gamma(c) \odot \mathrm{LN}(h) + \beta(c)\big).$$
[`models/dit.py`](SRC/models/dit.py).

**Autoregressive** — a tokenizer turns an image into an 8×8 grid of codes $c_1 \dots c_{64}$ (finite scalar
quantization: each latent channel rounded to one of a few levels, $8 \cdot 5 \cdot 5 \cdot 5 = 1000$ codes), and
a decoder-only transformer, prefixed by the text tokens $	au(y)$, learns
$$p_	heta(c \mid y) = \prod_{i=1}^{64} p_	heta(c_i \mid c_{<i}, 	au(y))$$
by next-code cross-entropy. Sampling draws one code per pass, keeping every layer's keys and values (the KV
cache); guidance mixes the logits, $\ell = \ell(arnothing) + s\,(\ell(y) - \ell(arnothing))$, then
temperature and top-$k$. There are no steps to choose. [`models/ar/`](SRC/models/ar/).

**Classifier-free guidance** — one network, trained with the caption dropped 10 % of the time, gives a
conditional and an unconditional prediction in one batched pass; the guidance scale $s$ mixes them:
$$\tilde\epsilon = \epsilon_\theta(x_t, \varnothing) + s\,\big(\epsilon_\theta(x_t, y) - \epsilon_\theta(x_t, \varnothing)\big).$$
$s = 1$ is the plain conditional model; larger $s$ trades diversity for fidelity.
A GAN has no guidance: its knob is truncation $\psi$, $w \leftarrow \bar w + \psi\,(w - \bar w)$.
[`models/diffusion.py`](SRC/models/diffusion.py) (`guided`).

**The planner** — free text is rewritten into a caption the built-in models know
([`models/planner.py`](SRC/models/planner.py)), as LLM front-ends do for large text-to-image models.

The built-in models are small and trained on CPU on the Shapes world (32×32 images of colored shapes,
with exact ground truth); their manifests record the command, steps, wall time and metrics.
"""

LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]


def about_markdown(source_url: str = SOURCE_URL) -> str:
    """The About text, with module links when a source URL is known."""
    if source_url:
        return _ABOUT.replace("](SRC/", f"]({source_url}/")
    return re.sub(r"\[(`[^`]+`)\]\(SRC/[^)]+\)", r"\1", _ABOUT)
