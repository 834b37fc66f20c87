"""The batched classic-control envs against Gymnasium's own: transitions, autoreset, seeding, spaces."""

from __future__ import annotations

import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from pilotlab.cli import main
from pilotlab.core.errors import PilotlabError
from pilotlab.core.run import RunDir
from pilotlab.rl import dqn, ppo
from pilotlab.rl.batched_envs import BATCHED_ENVS, check_batched, make_batched_env

# Boxes of start states wide enough that random actions from them terminate often (the reset states
# alone almost never end a MountainCar or Acrobot episode within a test's steps).
WIDE = {
    "CartPole-v1": ([-2.4, -2.0, -0.21, -2.0], [2.4, 2.0, 0.21, 2.0]),
    "Acrobot-v1": ([-math.pi, -math.pi, -4 * math.pi, -9 * math.pi], [math.pi, math.pi, 4 * math.pi, 9 * math.pi]),
    "MountainCar-v0": ([-1.2, -0.07], [0.6, 0.07]),
    "MountainCarContinuous-v0": ([-1.2, -0.07], [0.6, 0.07]),
    "Pendulum-v1": ([-2 * math.pi, -8.0], [2 * math.pi, 8.0]),
}
RESET = {  # Gymnasium's reset boxes
    "CartPole-v1": ([-0.05] * 4, [0.05] * 4),
    "Acrobot-v1": ([-0.1] * 4, [0.1] * 4),
    "MountainCar-v0": ([-0.6, 0.0], [-0.4, 0.0]),
    "MountainCarContinuous-v0": ([-0.6, 0.0], [-0.4, 0.0]),
    "Pendulum-v1": ([-math.pi, -1.0], [math.pi, 1.0]),
}
CASES = [(env_id, {}) for env_id in BATCHED_ENVS] + [
    ("CartPole-v1", {"sutton_barto_reward": True}),
    ("MountainCar-v0", {"goal_velocity": 0.01}),
    ("MountainCarContinuous-v0", {"goal_velocity": 0.02}),
    ("Pendulum-v1", {"g": 9.81}),
]


def gym_vec(env_id: str, n: int, kwargs: dict) -> SyncVectorEnv:
    return SyncVectorEnv([lambda: gym.make(env_id, **kwargs) for _ in range(n)],
                         autoreset_mode=AutoresetMode.NEXT_STEP)


def get_state(env: gym.Env) -> np.ndarray:
    return np.array(env.unwrapped.state, dtype=np.float64)


def set_state(env: gym.Env, env_id: str, state: np.ndarray) -> None:
    dtype = np.float32 if env_id == "MountainCarContinuous-v0" else np.float64  # what each env stores
    env.unwrapped.state = np.array(state, dtype=dtype)


def random_actions(space: gym.Space, rng: np.random.Generator) -> np.ndarray:
    if isinstance(space, gym.spaces.MultiDiscrete):
        return rng.integers(0, space.nvec)
    return rng.uniform(1.5 * space.low, 1.5 * space.high).astype(np.float32)  # beyond the bounds: tests clipping


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=lambda x: x if isinstance(x, str) else str(x or ""))
def test_transitions_match_gymnasium(env_id: str, kwargs: dict) -> None:
    """Every step starts both envs from the same states (often jumping to random wide ones) and must give
    the same observations, rewards, terminations and truncations; rows restarting under next-step
    autoreset must look the same in both (reward 0, no flags, a state from the reset distribution)."""
    n, limit = 6, 25
    kwargs = {**kwargs, "max_episode_steps": limit}
    ref, ours = gym_vec(env_id, n, kwargs), make_batched_env(env_id, n, kwargs)
    ref_obs, _ = ref.reset(seed=1)
    obs, _ = ours.reset(seed=2)
    ours.state[:] = [get_state(e) for e in ref.envs]
    np.testing.assert_allclose(ours.observe(ours.state), ref_obs, rtol=1e-6, atol=1e-6)
    rng = np.random.default_rng(0)
    low, high = (np.array(b) for b in WIDE[env_id])
    reset_low, reset_high = (np.array(b) for b in RESET[env_id])
    counts = {"terminated": 0, "truncated": 0, "restarts": 0}
    for _ in range(300):
        restart = ours.ended.copy()
        for i in np.flatnonzero(~restart & (rng.random(n) < 0.3)):  # jump to a random state, in both
            set_state(ref.envs[i], env_id, rng.uniform(low, high))
            ours.state[i] = get_state(ref.envs[i])
        actions = random_actions(ref.action_space, rng)
        ref_obs, ref_rew, ref_term, ref_trunc, _ = ref.step(actions)
        obs, rew, term, trunc, _ = ours.step(actions)
        assert obs.dtype == np.float32 and obs.shape == ref_obs.shape
        np.testing.assert_array_equal(term, ref_term)
        np.testing.assert_array_equal(trunc, ref_trunc)
        np.testing.assert_allclose(rew, ref_rew, rtol=1e-9, atol=1e-12)
        live = ~restart
        np.testing.assert_allclose(obs[live], ref_obs[live], rtol=1e-6, atol=1e-9)  # float32 ulps
        # restarting rows: both envs reset them (different random streams, same distribution)
        assert not (term[restart] | trunc[restart]).any() and (rew[restart] == 0).all()
        assert ((ours.state[restart] >= reset_low) & (ours.state[restart] <= reset_high)).all()
        counts["terminated"] += int(term.sum())
        counts["truncated"] += int(trunc.sum())
        counts["restarts"] += int(restart.sum())
        ours.state[:] = [get_state(e) for e in ref.envs]  # the next step starts from the same states again
    assert counts["truncated"] > 0 and counts["restarts"] > 0
    if env_id != "Pendulum-v1":  # Pendulum never terminates
        assert counts["terminated"] > 0


@pytest.mark.parametrize("env_id", list(BATCHED_ENVS))
def test_reset_distribution_matches_gymnasium(env_id: str) -> None:
    """Reset states come from the same box as Gymnasium's (bounds and rough spread of 2,000 draws)."""
    ours = make_batched_env(env_id, 2000)
    ours.reset(seed=0)
    ref = gym.make(env_id)
    theirs = np.stack([(ref.reset(seed=s), get_state(ref))[1] for s in range(300)])
    lo, hi = theirs.min(0), theirs.max(0)
    slack = 0.05 * (hi - lo) + 1e-12
    assert (ours.state.min(0) >= lo - slack).all() and (ours.state.max(0) <= hi + slack).all()
    assert ((ours.state.max(0) - ours.state.min(0)) >= 0.9 * (hi - lo)).all()


def test_autoreset_matches_sync_vector_env_next_step() -> None:
    """With a 3-step limit every row ends on step 3 and restarts on step 4 (reward 0, no flags), the
    pattern SyncVectorEnv produces in NEXT_STEP mode, with a row that terminates early in between."""
    kwargs = {"max_episode_steps": 3}
    ref, ours = gym_vec("CartPole-v1", 3, kwargs), make_batched_env("CartPole-v1", 3, kwargs)
    ref.reset(seed=0)
    ours.reset(seed=0)
    near_edge = np.array([2.39, 1.0, 0.0, 0.0])  # row 2 leaves the track on its first step
    set_state(ref.envs[2], "CartPole-v1", near_edge)
    ours.state[:] = [get_state(e) for e in ref.envs]
    actions = np.array([0, 1, 1])
    for t in range(8):
        restart = ours.ended.copy()
        ref_out, out = ref.step(actions), ours.step(actions)
        for name, a, b in zip(("reward", "terminated", "truncated"), ref_out[1:4], out[1:4]):
            np.testing.assert_array_equal(b, a, err_msg=f"{name} at step {t + 1}")
        assert (np.abs(out[0][restart]) < 0.05).all()  # a fresh reset observation
        ours.state[:] = [get_state(e) for e in ref.envs]
    assert ours.elapsed.tolist() == [e.get_wrapper_attr("_elapsed_steps") for e in ref.envs]


def test_partial_reset_and_repr() -> None:
    env = make_batched_env("Pendulum-v1", 4)
    env.reset(seed=0)
    before = env.state.copy()
    env.step(np.zeros((4, 1), dtype=np.float32))
    stepped = env.state.copy()
    env.reset(options={"reset_mask": np.array([True, False, False, True])})
    assert (env.state[1:3] == stepped[1:3]).all() and (env.state[[0, 3]] != before[[0, 3]]).all()
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert "Pendulum-v1" in repr(env) and isinstance(env, gym.vector.VectorEnv)


@pytest.mark.parametrize("env_id", list(BATCHED_ENVS))
def test_seeding_is_reproducible(env_id: str) -> None:
    """The same seed gives the same trajectory (autoresets included), another seed another one."""
    def rollout(seed: int) -> np.ndarray:
        env = make_batched_env(env_id, 5, {"max_episode_steps": 7})
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(123)
        out = [obs]
        for _ in range(30):
            out.append(env.step(random_actions(env.action_space, rng))[0])
        return np.stack(out)

    a, b, c = rollout(3), rollout(3), rollout(4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("env_id", list(BATCHED_ENVS))
def test_spaces_and_limits_match_gymnasium(env_id: str) -> None:
    env, ref = make_batched_env(env_id, 3), gym.make(env_id)
    assert env.single_observation_space == ref.observation_space
    assert env.single_action_space == ref.action_space
    assert env.max_episode_steps == ref.spec.max_episode_steps
    assert env.observation_space.shape == (3, *ref.observation_space.shape)


def test_bad_input_is_one_line_error() -> None:
    with pytest.raises(PilotlabError, match="no batched env for 'LunarLander-v3'"):
        check_batched("LunarLander-v3")
    with pytest.raises(PilotlabError, match="does not take render_mode"):
        make_batched_env("CartPole-v1", 2, {"render_mode": "human"})
    with pytest.raises(PilotlabError, match="max_episode_steps must be an integer >= 1"):
        make_batched_env("CartPole-v1", 2, {"max_episode_steps": 0})


# -- through the trainers ------------------------------------------------------------------------------------

TINY = {
    "ppo": ["--env", "CartPole-v1", "--total-steps", "512", "--num-envs", "4", "--n-steps", "32",
            "--batch-size", "64", "--n-epochs", "2", "--hidden", "16"],
    "dqn": ["--env", "CartPole-v1", "--total-steps", "300", "--learning-starts", "100", "--train-freq", "50",
            "--gradient-steps", "4", "--hidden", "16"],
    "td3": ["--env", "Pendulum-v1", "--total-steps", "300", "--learning-starts", "100", "--train-freq", "100",
            "--gradient-steps", "10", "--batch-size", "32", "--hidden", "16"],
}


def train_batched(algo: str, run_dir: Path, *extra: str) -> RunDir:
    code = main(["rl", "train", "--algo", algo, *TINY[algo], "--vector-env", "batched", "--eval-episodes", "2",
                 "--log-every", "64", "--checkpoint-every", "1000", "--run-dir", str(run_dir), *extra])
    assert code == 0
    return RunDir.open(run_dir)


def metric_rows(run: RunDir) -> list[dict]:
    drop = ("time", "train/steps_per_s", "train/wall_s", "eval/wall_s")
    return [{k: v for k, v in r.items() if k not in drop} for r in run.metrics()]


@pytest.mark.parametrize("algo", list(TINY))
def test_batched_runs_are_deterministic(algo: str, tmp_path: Path) -> None:
    """Same seed -> the same metrics (episode returns included); another seed -> others."""
    a, b = train_batched(algo, tmp_path / "a"), train_batched(algo, tmp_path / "b")
    assert metric_rows(a) == metric_rows(b)
    assert any("train/episode_return" in r for r in metric_rows(a))
    c = train_batched(algo, tmp_path / "c", "--seed", "1")
    assert metric_rows(a) != metric_rows(c)


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_fast_path_equals_the_generic_loop(algo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The trainers' batched-env branch gives the run their generic loop gives on the same env (seen through
    a plain VectorWrapper, which hides the BatchedEnv)."""
    fast = train_batched(algo, tmp_path / "fast")
    module = {"ppo": ppo, "dqn": dqn}[algo]
    make = module.make_vec_env
    monkeypatch.setattr(module, "make_vec_env", lambda *a, **k: gym.vector.VectorWrapper(make(*a, **k)))
    generic = train_batched(algo, tmp_path / "generic")
    assert metric_rows(fast) == metric_rows(generic)


@pytest.mark.parametrize(("argv", "message"), [
    (["--algo", "ppo", "--env", "LunarLander-v3"], "no batched env for 'LunarLander-v3'"),
    (["--algo", "ppo", "--env-kwargs", '{"render_mode": "human"}'], "does not take render_mode"),
    (["--algo", "dqn", "--env", "CartPole-v1", "--env-wrapper", "fast-highway"], "cannot wrap them"),
])
def test_batched_bad_input_is_one_line_exit_2(argv: list[str], message: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rl", "train", *argv, "--vector-env", "batched", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_ppo_solves_batched_cartpole(tmp_path: Path) -> None:
    """PPO with its defaults on the batched CartPole reaches a mean evaluation return >= 475 in 100k steps."""
    cfg = ppo.PPOConfig(env="CartPole-v1", vector_env="batched", seed=0, run_dir=str(tmp_path / "run"),
                        checkpoint_every=100_000)
    assert ppo.train(cfg).summary()["eval/return_mean"] >= 475
