"""The transformer and the objectives: no position sees the future, a uniform model scores ln(V), masking."""

from __future__ import annotations

import math

import pytest
import torch

from pilotlab.text import gpt
from pilotlab.text.masked import MaskedConfig, mask_characters
from pilotlab.text.masked import objective as masked_objective
from pilotlab.text.model import CharTransformer, ModelSpec, generate, lr_at
from pilotlab.text.train import IGNORE, evaluate_loss

V, T = 11, 16


def _model(causal: bool, seed: int = 0) -> CharTransformer:
    torch.manual_seed(seed)
    return CharTransformer(ModelSpec(vocab=V, context=T, layers=2, heads=2, width=16, causal=causal))


def _input_gradients(model: CharTransformer, tokens: torch.Tensor, t: int) -> torch.Tensor:
    """|d loss_t / d input embedding at each position| (T,), where loss_t is the loss at position t."""
    captured: list[torch.Tensor] = []

    def keep(_module: torch.nn.Module, _inputs: object, out: torch.Tensor) -> torch.Tensor:
        out.retain_grad()
        captured.append(out)
        return out

    handle = model.embed.register_forward_hook(keep)
    logits = model(tokens)  # (1, T, V)
    handle.remove()
    torch.nn.functional.cross_entropy(logits[0, t:t + 1], tokens[0, t:t + 1]).backward()
    grad = captured[0].grad
    assert grad is not None
    return grad[0].abs().sum(dim=1)  # (T,)


@pytest.mark.parametrize("t", [0, 5, T - 1])
def test_causal_model_loss_at_t_has_no_gradient_from_later_inputs(t: int) -> None:
    tokens = torch.randint(0, V, (1, T), generator=torch.Generator().manual_seed(t))
    g = _input_gradients(_model(causal=True), tokens, t)
    assert torch.all(g[t + 1:] == 0), g
    assert torch.all(g[: t + 1] > 0), g


def test_bidirectional_model_sees_both_sides() -> None:
    """The same probe on the masked objective's model finds gradient from later positions (the test can fail)."""
    tokens = torch.randint(0, V, (1, T), generator=torch.Generator().manual_seed(3))
    g = _input_gradients(_model(causal=False), tokens, 5)
    assert torch.all(g > 0), g


def test_uniform_model_loss_is_ln_vocab() -> None:
    model = _model(causal=True)
    with torch.no_grad():  # tied output: a zero embedding gives zero logits, i.e. the uniform distribution
        model.embed.weight.zero_()
    data = torch.randint(0, V, (200,), generator=torch.Generator().manual_seed(0))
    loss = evaluate_loss(model, gpt.OBJECTIVE, data, V, T, 4, torch.device("cpu"))
    assert loss == pytest.approx(math.log(V), abs=1e-5)
    fresh = evaluate_loss(_model(causal=True), gpt.OBJECTIVE, data, V, T, 4, torch.device("cpu"))
    assert fresh == pytest.approx(math.log(V), abs=0.05)  # small initial weights: close to uniform


def test_masking_follows_the_bert_recipe() -> None:
    windows = torch.randint(0, V, (400, 64), generator=torch.Generator().manual_seed(0))
    inputs, targets = mask_characters(windows, torch.Generator().manual_seed(1), 0.15, V)
    chosen = targets != IGNORE
    assert 0.13 < chosen.float().mean() < 0.17
    assert torch.equal(targets[chosen], windows[chosen])
    assert torch.equal(inputs[~chosen], windows[~chosen])
    masked = (inputs == V) & chosen
    assert 0.75 < masked.sum() / chosen.sum() < 0.85
    assert (inputs == V).sum() == masked.sum()  # the mask token appears only at chosen positions
    obj = masked_objective(MaskedConfig())
    assert not obj.causal and obj.mask_token and obj.extra == 0


def test_gpt_objective_shifts_by_one() -> None:
    w = torch.arange(10).view(2, 5)
    inputs, targets = gpt.next_character(w, torch.Generator(), 10)
    assert torch.equal(inputs, w[:, :-1]) and torch.equal(targets, w[:, 1:])


def test_schedule_warms_up_then_decays_to_the_floor() -> None:
    assert lr_at(0, 100, 10, 1.0) == pytest.approx(0.1)
    assert lr_at(9, 100, 10, 1.0) == pytest.approx(1.0)
    assert lr_at(10, 100, 10, 1.0) == pytest.approx(1.0)
    assert lr_at(100, 100, 10, 1.0, floor=0.1) == pytest.approx(0.1)
    assert lr_at(55, 100, 10, 1.0, floor=0.0) == pytest.approx(0.5)


def test_weights_are_tied_and_a_long_window_is_refused() -> None:
    model = _model(causal=True)
    others = [tuple(p.shape) for n, p in model.named_parameters() if n != "embed.weight"]
    assert (V, 16) not in others  # no separate output matrix: the logits use the embedding
    with pytest.raises(ValueError, match="longer than the model's context"):
        model(torch.zeros(1, T + 1, dtype=torch.long))


def test_generate_extends_the_prompt_within_the_context() -> None:
    model = _model(causal=True)
    prompt = torch.tensor([1, 2, 3])
    out = generate(model, prompt, 2 * T, 1.0, 3, torch.Generator().manual_seed(0))
    assert out.shape == (3 + 2 * T,) and torch.equal(out[:3], prompt) and int(out.max()) < V
    greedy = generate(model, prompt, 5, 0.0, None, torch.Generator())
    assert torch.equal(greedy, generate(model, prompt, 5, 0.0, None, torch.Generator()))
