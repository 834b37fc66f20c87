"""DiffAugment transforms against naive per-pixel loops, plus shape, seed and gradient checks."""

from __future__ import annotations

import pytest
import torch

from pilotlab.core.errors import PilotlabError
from pilotlab.gan import diffaugment as da
from pilotlab.gan.dcgan import DCGANConfig


def _images(b: int = 5, c: int = 2, h: int = 9, w: int = 7) -> torch.Tensor:
    return torch.randn(b, c, h, w, generator=torch.Generator().manual_seed(1))


def test_translation_matches_a_naive_shift() -> None:
    x, fill = _images(), -1.0
    out = da.translation(x, torch.Generator().manual_seed(3), fill=fill, ratio=0.25)
    # replay the transform's draws: dy then dx, each in [-s, s]
    gen, (b, _, h, w) = torch.Generator().manual_seed(3), x.shape
    sh, sw = int(0.25 * h + 0.5), int(0.25 * w + 0.5)
    dy, dx = torch.randint(-sh, sh + 1, (b,), generator=gen), torch.randint(-sw, sw + 1, (b,), generator=gen)
    assert dy.abs().max() > 0 or dx.abs().max() > 0  # the draws do move something
    expected = torch.full_like(x, fill)
    for k in range(b):
        for i in range(h):
            for j in range(w):
                si, sj = i - int(dy[k]), j - int(dx[k])
                if 0 <= si < h and 0 <= sj < w:
                    expected[k, :, i, j] = x[k, :, si, sj]
    assert torch.equal(out, expected)


def test_cutout_matches_a_naive_square() -> None:
    x, fill = _images(), 0.5
    out = da.cutout(x, torch.Generator().manual_seed(4), fill=fill, ratio=0.5)
    gen, (b, _, h, w) = torch.Generator().manual_seed(4), x.shape
    size_h, size_w = int(0.5 * h + 0.5), int(0.5 * w + 0.5)
    cy, cx = torch.randint(0, h, (b, 1), generator=gen), torch.randint(0, w, (b, 1), generator=gen)
    expected = x.clone()
    for k in range(b):
        top, left = int(cy[k]) - size_h // 2, int(cx[k]) - size_w // 2
        for i in range(max(0, top), min(h, top + size_h)):
            for j in range(max(0, left), min(w, left + size_w)):
                expected[k, :, i, j] = fill
    assert torch.equal(out, expected)
    assert (out == fill).any()


def test_brightness_and_contrast_by_hand() -> None:
    x = _images(b=3)
    u = torch.rand(3, 1, 1, 1, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(da.brightness(x, torch.Generator().manual_seed(5)), x + u - 0.5)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(da.contrast(x, torch.Generator().manual_seed(5)), (x - mean) * (u + 0.5) + mean)


@pytest.mark.parametrize("name", list(da.TRANSFORMS))
def test_each_transform_keeps_the_shape_is_seeded_and_differentiable(name: str) -> None:
    x = _images().requires_grad_(True)
    policy = da.parse_policy(name)
    a = da.diff_augment(x, policy, torch.Generator().manual_seed(0))
    b = da.diff_augment(x, policy, torch.Generator().manual_seed(0))
    c = da.diff_augment(x, policy, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    (grad,) = torch.autograd.grad((a * a).sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_translation_gradient_routes_each_kept_pixel_once() -> None:
    x = _images().requires_grad_(True)
    out = da.translation(x, torch.Generator().manual_seed(2), ratio=0.25)
    (grad,) = torch.autograd.grad(out.sum(), x)  # d(sum)/dx = 1 where the pixel is still in view, else 0
    assert set(grad.unique().tolist()) <= {0.0, 1.0}
    visible = (out != -1.0).sum()  # randn never hits the fill value exactly
    assert int(grad.sum()) == int(visible)


def test_policy_parsing_and_config_validation() -> None:
    assert da.parse_policy("translation, cutout") == ("translation", "cutout")
    assert da.parse_policy("") == ()
    x = _images()
    assert torch.equal(da.diff_augment(x, ()), x)
    with pytest.raises(ValueError, match="rotation"):
        da.parse_policy("translation,rotation")
    with pytest.raises(PilotlabError, match="diffaugment"):
        DCGANConfig(diffaugment="zoom")
