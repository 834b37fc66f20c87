"""TD targets, n-step returns and GAE against hand-computed values and a naive loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pilotlab.rl.returns import gae, n_step_returns, td_target


def col(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=np.float64)[:, None]  # (T, 1)


def test_td_target_hand_values() -> None:
    r = torch.tensor([1.0, 0.5, -1.0])
    v = torch.tensor([10.0, 2.0, 4.0])
    term = torch.tensor([False, True, False])
    assert torch.allclose(td_target(r, v, term, 0.9), torch.tensor([1.0 + 9.0, 0.5, -1.0 + 3.6]))


def test_n_step_hand_values() -> None:
    rew, nv = col(1, 2, 3, 4), col(10, 20, 30, 40)
    no = np.zeros((4, 1), dtype=bool)
    # 1 + .5*2 + .25*20 ; 2 + .5*3 + .25*30 ; 3 + .5*4 + .25*40 ; 4 + .5*40 (rollout ends)
    assert np.allclose(n_step_returns(rew, nv, no, no, 0.5, 2), col(7, 11, 15, 24))
    term = no.copy()
    term[1] = True  # step 1 reaches a terminal state: no bootstrap, the sum stops there
    assert np.allclose(n_step_returns(rew, nv, term, no, 0.5, 2)[:2], col(2, 2))
    trunc = no.copy()
    trunc[1] = True  # a time limit bootstraps the final observation's value (20)
    assert np.allclose(n_step_returns(rew, nv, no, trunc, 0.5, 2)[:2], col(7, 12))


def test_one_step_equals_td_target() -> None:
    rng = np.random.default_rng(0)
    rew, nv = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    term = rng.random((6, 3)) < 0.3
    out = n_step_returns(rew, nv, term, np.zeros_like(term), 0.9, 1)
    ref = td_target(torch.tensor(rew), torch.tensor(nv), torch.tensor(term), 0.9).numpy()
    assert np.allclose(out, ref)


def t(*xs: float) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float64)[:, None]  # (T, 1)


def b(*xs: bool) -> torch.Tensor:
    return torch.tensor(xs)[:, None]


def test_gae_hand_values() -> None:
    rew, val, last = t(1, 1, 1), t(0.5, 0.4, 0.3), torch.tensor([0.2], dtype=torch.float64)
    f = b(False, False, False)
    adv, ret = gae(rew, val, last, f, f, b(True, True, True), 0.9, 0.8)
    # deltas .86 .87 .88; A2 = .88, A1 = .87 + .72 * .88, A0 = .86 + .72 * A1
    assert torch.allclose(adv, t(1.942592, 1.5036, 0.88))
    assert torch.allclose(ret, adv + val)
    # terminal at step 1, step 2 is the reset step: delta1 = 1 - .4, A0 = .86 + .72 * .6
    adv, _ = gae(rew, val, last, b(False, True, False), f, b(True, True, False), 0.9, 0.8)
    assert torch.allclose(adv, t(1.292, 0.6, 0.0))
    # time limit at step 1: bootstrap V(final obs) = values[2] = .3, then stop
    adv, _ = gae(rew, val, last, f, b(False, True, False), b(True, True, False), 0.9, 0.8)
    assert torch.allclose(adv, t(0.86 + 0.72 * 0.87, 0.87, 0.0))


def naive_gae(rew: np.ndarray, val: np.ndarray, last: np.ndarray, term: np.ndarray, trunc: np.ndarray,
              gamma: float, lam: float) -> np.ndarray:
    """Forward-looking definition: A_t = sum_k (gamma lam)^k delta_{t+k} until the episode ends."""
    t_len, n = rew.shape
    nxt = np.concatenate([val[1:], last[None]])
    delta = rew + gamma * (1 - term) * nxt - val
    out = np.zeros_like(rew)
    for e in range(n):
        for s in range(t_len):
            acc, w, k = 0.0, 1.0, s
            while k < t_len:
                acc += w * delta[k, e]
                if term[k, e] or trunc[k, e]:
                    break
                w *= gamma * lam
                k += 1
            out[s, e] = acc
    return out


@pytest.mark.parametrize("lam", [0.0, 0.8, 1.0])
def test_gae_matches_naive_loop(lam: float) -> None:
    rng = np.random.default_rng(1)
    rew, val, last = rng.normal(size=(12, 4)), rng.normal(size=(12, 4)), rng.normal(size=4)
    term = rng.random((12, 4)) < 0.15
    trunc = (rng.random((12, 4)) < 0.1) & ~term
    term[-1] = trunc[-1] = False  # the rollout's last step does not end; after each end comes a reset step
    ends = term | trunc
    valid = np.ones_like(ends)
    valid[1:] = ~ends[:-1]
    term, trunc = term & valid, trunc & valid
    adv, _ = gae(*(torch.tensor(x) for x in (rew, val, last, term, trunc, valid)), 0.95, lam)
    ref = naive_gae(rew, val, last, term, trunc, 0.95, lam) * valid
    assert np.allclose(adv.numpy(), ref)
