"""View augmentations keep shape, dtype and the [0, 1] range, and are random."""

from __future__ import annotations

import pytest
import torch

from pilotlab.core.errors import PilotlabError
from pilotlab.ssl.augment import ViewSpec, two_views, view_augmentation


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8)])
def test_views_keep_shape_and_range(shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    x = torch.rand(16, *shape)
    v1, v2 = two_views(view_augmentation(shape), x)
    for v in (v1, v2):
        assert v.shape == x.shape and v.dtype == torch.float32
        assert float(v.min()) >= 0.0 and float(v.max()) <= 1.0
    assert not torch.equal(v1, v2)  # two independent draws
    assert not torch.equal(v1, x)


def test_colour_ops_only_for_three_channels() -> None:
    names = lambda shape: [type(m).__name__ for m in view_augmentation(shape).modules()]  # noqa: E731
    assert "RandomGrayscale" in names((3, 32, 32)) and "RandomGaussianBlur" in names((3, 32, 32))
    assert "RandomGrayscale" not in names((1, 28, 28)) and "RandomGaussianBlur" not in names((1, 28, 28))
    assert "ColorJitter" in names((1, 28, 28))  # brightness/contrast only


def test_same_seed_same_views() -> None:
    x = torch.rand(4, 1, 28, 28)
    aug = view_augmentation((1, 28, 28))
    torch.manual_seed(3)
    a = two_views(aug, x)
    torch.manual_seed(3)
    b = two_views(aug, x)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_bad_spec_rejected() -> None:
    with pytest.raises(PilotlabError, match="crop scale"):
        ViewSpec(crop_scale=(0.0, 1.0))
    with pytest.raises(PilotlabError, match="must be in"):
        ViewSpec(blur_p=1.5)
