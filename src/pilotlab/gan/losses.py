"""GAN objectives as pure functions of discriminator outputs (logits or critic scores).

- Non-saturating GAN loss (Goodfellow et al., 2014, section 3): D minimises binary cross-entropy
  with targets real=1, fake=0; G minimises -log D(G(z)) = softplus(-logit) instead of
  log(1 - D(G(z))), which saturates early in training when D rejects every sample.
- One-sided label smoothing (Salimans et al., 2016, "Improved techniques for training GANs"):
  the real target becomes 1 - s (e.g. 0.9); fake targets stay 0, since smoothing them would
  reward the generator for staying where it is.
- WGAN losses (Arjovsky et al., 2017) and the gradient penalty of WGAN-GP (Gulrajani et al., 2017):
  the critic maximises E[f(real)] - E[f(fake)] with lambda * E[(||grad f(x_hat)||_2 - 1)^2] on
  random interpolates x_hat = eps * real + (1 - eps) * fake, eps ~ U[0, 1] per sample.

- Hinge loss (Lim & Ye, 2017, "Geometric GAN"; used by SNGAN and BigGAN): D minimises
  E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))], G minimises -E[D(G(z))].

- LeCam regularisation (Tseng et al., 2021, "Regularizing Generative Adversarial Networks under
  Limited Data", eq. 3): with alpha_R, alpha_F exponential moving averages (decay 0.99) of D's mean
  output on real and on fake images, D also minimises E[(D(x) - alpha_F)^2] + E[(D(G(z)) - alpha_R)^2],
  which keeps real and fake outputs from drifting apart when D starts memorising a small training set.
  As in the authors' code, only the side that overshoots is penalised: relu(D(x) - alpha_F)^2 and
  relu(alpha_R - D(G(z)))^2.
- R1 penalty (Mescheder et al., 2018, "Which Training Methods for GANs do actually Converge?"):
  (gamma / 2) E_real[||grad_x D(x)||^2], gradients on real images only.

All losses are means over the batch; logits/scores have shape (B,) or (B, 1).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def d_loss_nonsaturating(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                         label_smoothing: float = 0.0) -> torch.Tensor:
    """Discriminator BCE on logits: real target 1 - `label_smoothing` (one-sided), fake target 0."""
    real_target = torch.full_like(real_logits, 1.0 - label_smoothing)
    loss_real = F.binary_cross_entropy_with_logits(real_logits, real_target)
    loss_fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return loss_real + loss_fake


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator loss -log sigmoid(D(G(z))) = softplus(-logit), the non-saturating heuristic."""
    return F.softplus(-fake_logits).mean()


def d_loss_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator hinge loss mean(relu(1 - real)) + mean(relu(1 + fake)): zero once margins reach 1."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def g_loss_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator hinge loss -mean(D(G(z))) (the same as WGAN's generator loss)."""
    return -fake_logits.mean()


def d_loss_wgan(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Critic loss E[f(fake)] - E[f(real)] (the negative Wasserstein-1 estimate)."""
    return fake_scores.mean() - real_scores.mean()


def g_loss_wgan(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator loss -E[f(G(z))]."""
    return -fake_scores.mean()


def interpolate(real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """x_hat = eps * real + (1 - eps) * fake with one eps ~ U[0, 1] per sample (shape (B, 1, ..., 1))."""
    if eps is None:
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    return eps * real + (1.0 - eps) * fake


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     eps: torch.Tensor | None = None) -> torch.Tensor:
    """E[(||grad_x f(x_hat)||_2 - 1)^2] over random interpolates (multiply by lambda = 10 outside).

    Built with ``create_graph=True`` so the penalty itself can be differentiated with respect to
    the critic's parameters. `critic` maps (B, ...) -> (B,) or (B, 1); a conditional critic is
    passed as a closure over its labels. `eps` (B, 1, ..., 1) fixes the interpolation weights.
    """
    x_hat = interpolate(real.detach(), fake.detach(), eps).requires_grad_(True)
    scores = critic(x_hat)
    (grads,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)  # (B, ...) one grad per sample
    norms = grads.flatten(1).norm(2, dim=1)  # (B,)
    return ((norms - 1.0) ** 2).mean()


def lecam_penalty(real_out: torch.Tensor, fake_out: torch.Tensor, anchor_real: float,
                  anchor_fake: float) -> torch.Tensor:
    """mean(relu(D(x) - alpha_F)^2) + mean(relu(alpha_R - D(G(z)))^2) (multiply by lambda outside).

    `anchor_real` / `anchor_fake` are alpha_R / alpha_F, the moving averages of D's mean output on
    real and on fake batches (`lecam_anchors`).
    """
    return F.relu(real_out - anchor_fake).pow(2).mean() + F.relu(anchor_real - fake_out).pow(2).mean()


def lecam_anchors(anchors: tuple[float, float] | None, real_out: torch.Tensor, fake_out: torch.Tensor,
                  decay: float = 0.99) -> tuple[float, float]:
    """The next (alpha_R, alpha_F): an EMA with `decay` of the batch means; the first call just takes them."""
    real_mean, fake_mean = real_out.detach().mean().item(), fake_out.detach().mean().item()
    if anchors is None:
        return real_mean, fake_mean
    return (decay * anchors[0] + (1 - decay) * real_mean, decay * anchors[1] + (1 - decay) * fake_mean)


def r1_penalty(real: torch.Tensor, real_out: torch.Tensor) -> torch.Tensor:
    """E[||grad_x D(x)||_2^2] over the real batch (multiply by gamma / 2 outside).

    `real` must require grad and `real_out` (B,) must be D's output on it; built with ``create_graph=True``
    so the penalty can be differentiated with respect to D's parameters.
    """
    (grads,) = torch.autograd.grad(real_out.sum(), real, create_graph=True)  # (B, ...) one grad per sample
    return grads.flatten(1).pow(2).sum(1).mean()


def collapsed(d_loss: float, threshold: float = 1e-3) -> bool:
    """True when a non-saturating discriminator loss fell to ~0: D separates perfectly, G gets no signal."""
    return d_loss < threshold
