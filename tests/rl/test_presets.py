"""Tuned presets: the zoo data loads and cites its sources, every entry validates against its algorithm's
config, zoo names map onto pilotlab fields (what cannot be expressed is listed), the order is dataclass
defaults < preset < config file < flags, and bad choices are one-line errors that write nothing."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from pilotlab.cli import build_parser, config_of, main
from pilotlab.core import registry
from pilotlab.core.config import build_config, command_line
from pilotlab.rl import ALGO, presets
from pilotlab.rl.dqn import DQNConfig

CLASSIC = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1")


def parse(*argv: str) -> object:
    """The config `pilotlab *argv` would run with (parsed as main does, nothing run)."""
    args = list(argv)
    return config_of(build_parser(args[0], args).parse_args(args), args)


def test_data_covers_the_zoo_tables_and_cites_each_entry() -> None:
    table = presets.presets()
    pairs = {(p.algo, p.env) for p in table}
    # every classic-control entry the zoo publishes for the algorithms pilotlab has
    assert {("dqn", e) for e in ("CartPole-v1", "Acrobot-v1", "MountainCar-v0")} <= pairs
    assert {("ppo", e) for e in CLASSIC} <= pairs
    assert {(a, e) for a in ("td3", "ddpg", "sac") for e in ("MountainCarContinuous-v0", "Pendulum-v1")} <= pairs
    assert {("ppo", "LunarLander-v3"), ("dqn", "LunarLander-v3"), ("td3", "BipedalWalker-v3")} <= pairs
    assert {("td3", "HalfCheetah-v4"), ("ppo", "Reacher-v2"), ("sac", "Humanoid-v4")} <= pairs
    assert len(pairs) == len(table)  # one entry per pair
    for p in table:
        assert re.fullmatch(rf"https://github.com/DLR-RM/rl-baselines3-zoo/blob/[0-9a-f]{{40}}/hyperparams/{p.algo}"
                            r"\.yml", p.source), p.source
        assert p.family in ("classic", "box2d", "mujoco", "robotics")
        assert "n_timesteps" in p.zoo and p.fields["total_steps"] == int(p.zoo["n_timesteps"])
    assert presets.find("td3", "HalfCheetah-v5").env == "HalfCheetah-v4"  # gymnasium 1.x ids reach the v4 settings
    assert presets.find("dqn", "Pendulum-v1") is None


@pytest.mark.parametrize("preset", presets.presets(), ids=lambda p: p.name)
def test_every_entry_validates_against_its_algo_config(preset: presets.Preset) -> None:
    if preset.algo not in registry.entries(ALGO):
        pytest.skip(f"no {preset.algo} algorithm registered yet")
    cls = registry.config_class(ALGO, preset.algo)
    names = {f.name for f in dataclasses.fields(cls)}
    assert set(preset.fields) <= names, set(preset.fields) - names
    values = {**preset.fields, "env": preset.envs[-1], "preset": "zoo"}
    if "algo" in names:
        values["algo"] = preset.algo
    cfg = build_config(cls, values)
    for key, value in preset.fields.items():
        assert getattr(cfg, key) == pytest.approx(value) if isinstance(value, float) else getattr(cfg, key) == value


def test_zoo_names_map_onto_fields_and_the_rest_is_listed() -> None:
    fields, dropped = presets.translate("ppo", {"learning_rate": 3e-4, "clip_range": 0.2, "n_envs": 1},
                                        {"n_timesteps": 1e5, "n_envs": 8, "learning_rate": "lin_0.001",
                                         "clip_range": "lin_0.2", "normalize": True, "use_sde": True,
                                         "policy_kwargs": {"net_arch": {"pi": [256, 256], "vf": [256, 256]},
                                                           "activation_fn": "nn.ReLU", "log_std_init": -2,
                                                           "ortho_init": False}})
    assert fields == {"num_envs": 8, "lr": 0.001, "clip_range": 0.2, "anneal_lr": True, "total_steps": 100_000,
                      "normalize_obs": True, "normalize_reward": True, "hidden": (256, 256), "activation": "relu",
                      "log_std_init": -2.0, "sde": True, "ortho_init": False}
    assert dropped == []
    # a schedule on one of the two only, a learning-rate schedule in an algorithm without one, episodes as the
    # training unit, SB3's gradient_steps -1 with several envs, unequal policy/value networks, unknown keys
    fields, dropped = presets.translate("ppo", {"learning_rate": 3e-4, "clip_range": 0.2},
                                        {"clip_range": "lin_0.4",
                                         "policy_kwargs": {"net_arch": {"pi": [8], "vf": [4]}}})
    assert fields["anneal_lr"] is False and fields["hidden"] == (8,)
    assert dropped[0].startswith("clip_range=lin_0.4") and dropped[1].startswith("net_arch=")
    fields, dropped = presets.translate("td3", {"learning_rate": 1e-3, "train_freq": 1, "gradient_steps": 1},
                                        {"learning_rate": "lin_7e-4", "n_envs": 4, "gradient_steps": -1,
                                         "noise_type": "ornstein-uhlenbeck", "noise_std": 0.5, "frame_stack": 4})
    assert fields["lr"] == 7e-4 and fields["train_freq"] == 4 and fields["gradient_steps"] == 4
    assert fields["exploration_noise"] == 0.5
    assert [d.split("=")[0] for d in dropped] == ["learning_rate", "noise_type", "frame_stack"]
    fields, dropped = presets.translate("ddpg", {"learning_rate": 1e-3, "train_freq": 1, "gradient_steps": 1},
                                        {"train_freq": [1, "episode"], "gradient_steps": -1})
    assert "train_freq" not in fields and "gradient_steps" not in fields and dropped[0].startswith("train_freq=")
    fields, dropped = presets.translate("dqn", {"learning_rate": 1e-4, "tau": 1.0}, {"tau": 0.5})
    assert "tau" not in fields and dropped[0].startswith("tau=0.5")


def test_the_published_classic_control_entries_read_as_published() -> None:
    dqn = presets.find("dqn", "MountainCar-v0")
    assert dqn.fields["lr"] == 4e-3 and dqn.fields["target_update_interval"] == 600
    assert dqn.fields["hidden"] == (256, 256) and dqn.fields["num_envs"] == 1 and not dqn.dropped
    assert dqn.published["mean_reward"] == pytest.approx(-100.849)
    acrobot = presets.find("dqn", "Acrobot-v1")
    assert acrobot.fields["train_freq"] == 4 and acrobot.fields["gradient_steps"] == 4  # SB3's -1
    ppo = presets.find("ppo", "MountainCar-v0")  # zoo leaves lr, batch and clip unset: SB3's defaults
    assert ppo.fields["lr"] == 3e-4 and ppo.fields["batch_size"] == 64 and ppo.fields["anneal_lr"] is False
    assert ppo.fields["normalize_obs"] is True and ppo.fields["normalize_reward"] is True and not ppo.dropped
    pendulum = presets.find("ppo", "Pendulum-v1")
    assert pendulum.fields["num_envs"] == 4 and not pendulum.dropped
    assert pendulum.fields["sde"] is True and pendulum.fields["sde_sample_freq"] == 4
    mcc = presets.find("ppo", "MountainCarContinuous-v0")
    assert mcc.fields["sde"] is True and mcc.fields["log_std_init"] == -3.29 and "sde_sample_freq" not in mcc.fields
    assert mcc.fields["ortho_init"] is False and not mcc.dropped
    assert any(d.startswith("use_sde") for d in presets.find("sac", "MountainCarContinuous-v0").dropped)


def test_presets_pin_sb3s_algorithm_where_pilotlabs_defaults_differ() -> None:
    """The zoo's returns are SB3's: vanilla DQN (no double Q, no dueling heads), the final model evaluated (no
    best checkpoint), PPO's VecNormalize as observation and reward normalization; a flag still wins."""
    raw = DQNConfig()
    assert raw.double_q and raw.dueling and raw.eval_every > 0  # pilotlab's own defaults differ from SB3's
    for p in presets.presets():
        if p.algo == "dqn":
            assert (p.fields["double_q"], p.fields["dueling"], p.fields["eval_every"]) == (False, False, 0), p.name
        if p.algo == "ppo":
            assert p.fields["eval_every"] == 0, p.name
            assert p.fields.get("normalize_reward", False) == (p.zoo.get("normalize") is True), p.name
    cfg = parse("rl", "train", "--algo", "dqn", "--env", "MountainCar-v0")
    assert (cfg.double_q, cfg.dueling, cfg.eval_every) == (False, False, 0)
    cfg = parse("rl", "train", "--algo", "dqn", "--env", "MountainCar-v0", "--double-q", "--eval-every", "5000")
    assert (cfg.double_q, cfg.dueling, cfg.eval_every) == (True, False, 5000)
    cfg = parse("rl", "train", "--algo", "ppo", "--env", "Acrobot-v1")
    assert cfg.normalize_obs and cfg.normalize_reward
    assert not parse("rl", "train", "--algo", "ppo", "--env", "Acrobot-v1", "--no-normalize-reward").normalize_reward
    assert not parse("rl", "train", "--algo", "ppo", "--env", "Acrobot-v1", "--preset", "none").normalize_reward


def test_order_is_defaults_then_preset_then_file_then_flags(tmp_path: Path) -> None:
    raw = DQNConfig()
    cfg = parse("rl", "train", "--algo", "dqn", "--env", "MountainCar-v0")
    zoo = presets.find("dqn", "MountainCar-v0").fields
    assert cfg.preset == "zoo" and cfg.lr == zoo["lr"] and cfg.hidden == (256, 256) and cfg.num_envs == 1
    assert cfg.log_every == raw.log_every  # a field the preset leaves alone keeps its default
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('lr = 0.5\ngamma = 0.9\nenv = "MountainCar-v0"\n')
    cfg = parse("rl", "train", "--algo", "dqn", "--config", str(cfg_file), "--gamma", "0.7", "--hidden", "32")
    assert (cfg.preset, cfg.lr, cfg.gamma, cfg.hidden) == ("zoo", 0.5, 0.7, (32,))
    assert cfg.target_update_interval == zoo["target_update_interval"]
    # a flag equal to the dataclass default still overrides the preset: what was given counts, not its value
    assert parse("rl", "train", "--algo", "dqn", "--env", "MountainCar-v0", "--lr", str(raw.lr)).lr == raw.lr
    none = parse("rl", "train", "--algo", "dqn", "--env", "MountainCar-v0", "--preset", "none")
    assert none == DQNConfig(env="MountainCar-v0")
    # no preset for the pair: the defaults, recorded as preset none
    assert parse("rl", "train", "--algo", "dqn", "--env", "FrozenLake-v1") == DQNConfig(env="FrozenLake-v1")
    # the variant picks the entry: td3 and ddpg share a config class but not their presets
    assert parse("rl", "train", "--algo", "ddpg").preset == "zoo"
    assert parse("rl", "train", "--algo", "ppo", "--env", "Pendulum-v1").num_envs == 4
    assert parse("rl", "train", "--algo", "q-learning", "--env", "FrozenLake-v1").algo == "q-learning"


def test_command_line_replays_the_preset_choice() -> None:
    for cfg in (DQNConfig(), parse("rl", "train", "--algo", "ppo", "--total-steps", "512")):
        line = command_line("rl train", cfg)
        assert f"--preset {cfg.preset}" in line
        assert parse(*line.split()[1:]) == cfg


def test_run_records_its_preset_and_resume_keeps_it(tmp_path: Path) -> None:
    run = tmp_path / "r"
    tiny = ["--total-steps", "150", "--learning-starts", "50", "--hidden", "8", "--eval-episodes", "1",
            "--checkpoint-every", "100", "--eval-every", "0", "--log-every", "50"]
    assert main(["rl", "train", "--algo", "dqn", *tiny, "--run-dir", str(run)]) == 0
    saved = json.loads((run / "config.json").read_text())["config"]
    assert saved["preset"] == "zoo" and saved["hidden"] == [8] and saved["train_freq"] == 256
    assert main(["rl", "train", "--resume", "--run-dir", str(run), "--total-steps", "200"]) == 0
    again = json.loads((run / "config.json").read_text())["config"]
    assert {k: v for k, v in again.items() if k != "total_steps"} == {k: v for k, v in saved.items()
                                                                      if k != "total_steps"}


@pytest.mark.parametrize(("argv", "message"), [
    (["--algo", "ddpg", "--env", "CartPole-v1", "--preset", "zoo"], "no zoo preset for ddpg on CartPole-v1 (there is "
                                                                    "one for dqn, ppo)"),
    (["--algo", "dqn", "--env", "FrozenLake-v1", "--preset", "zoo"], "no zoo preset for dqn on FrozenLake-v1"),
    (["--algo", "dqn", "--preset", "tuned"], "invalid choice: 'tuned'"),
])
def test_bad_preset_is_one_line_and_writes_nothing(argv: list[str], message: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["rl", "train", *argv, "--run-dir", str(tmp_path / "r")])
    except SystemExit as e:  # argparse's own choice check exits from inside main
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert not (tmp_path / "r").exists()


def test_preset_field_the_config_lacks_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real = presets.find("dqn", "CartPole-v1")
    bad = dataclasses.replace(real, fields={**real.fields, "no_such_field": 1})
    monkeypatch.setattr(presets, "find", lambda algo, env: bad if algo == "dqn" else None)
    assert main(["rl", "train", "--algo", "dqn", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: zoo preset dqn/CartPole-v1 sets no_such_field") and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_presets_command_lists_fields_gaps_and_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rl", "presets"]) == 0
    out = capsys.readouterr().out
    assert out.count("  source: https://github.com/DLR-RM/rl-baselines3-zoo/blob/") == len(presets.presets())
    assert "dqn MountainCar-v0\n  sets: num-envs=1 lr=0.004" in out
    assert "not expressed: use_sde=True" in out
    assert ("[data only: no sac algorithm" in out) == ("sac" not in registry.entries(ALGO))
    assert main(["rl", "presets", "--algo", "ppo", "--env", "Hopper-v5"]) == 0
    out = capsys.readouterr().out
    assert "ppo Hopper-v4 (also Hopper-v5)" in out and "published: mean return 2410.435" in out
    assert out.count("  source: ") == 1


@pytest.mark.parametrize(("argv", "message"), [
    (["--algo", "a2c"], "no presets for algorithm 'a2c'"),
    (["--algo", "dqn", "--env", "Pendulum-v1"], "no zoo preset for dqn on Pendulum-v1; there are presets for "),
    (["--env", "NoSuchEnv-v0"], "no zoo preset for any algorithm on NoSuchEnv-v0"),
])
def test_presets_command_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rl", "presets", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err



def test_sac_entropy_settings_map_to_pilotlab_fields() -> None:
    base = {"learning_rate": 3e-4, "n_envs": 1}
    auto, _ = presets.translate("sac", base, {"ent_coef": "auto_0.1", "target_entropy": "auto"})
    assert auto["autotune"] is True and auto["init_alpha"] == 0.1 and auto["target_entropy"] is None
    fixed, _ = presets.translate("sac", base, {"ent_coef": 0.05, "target_entropy": -2})
    assert fixed["autotune"] is False and fixed["init_alpha"] == 0.05 and fixed["target_entropy"] == -2.0
    _, dropped = presets.translate("sac", base, {"target_update_interval": 8, "policy_kwargs": {"log_std_init": -3}})
    assert any(d.startswith("target_update_interval=8") for d in dropped)
    assert any(d.startswith("policy_kwargs.log_std_init=-3") for d in dropped)


def test_her_entries_map_onto_her_fields() -> None:
    reach = presets.find("sac", "FetchReach-v4")  # the zoo's FetchReach-v1 settings reach gymnasium-robotics' v4
    assert reach.env == "FetchReach-v1" and reach.family == "robotics"
    assert {k: reach.fields[k] for k in ("her", "her_k", "normalize_obs", "gamma", "hidden", "learning_starts")} == {
        "her": True, "her_k": 4, "normalize_obs": True, "gamma": 0.95, "hidden": (64, 64), "learning_starts": 1000}
    assert reach.dropped == ("normalize=true (reward part): no reward normalization in pilotlab; observations are "
                             "normalized",)
    fields, dropped = presets.translate("sac", {"learning_rate": 3e-4}, {
        "policy": "MultiInputPolicy", "replay_buffer_class": "HerReplayBuffer",
        "replay_buffer_kwargs": {"goal_selection_strategy": "episode", "n_sampled_goal": 2}})
    assert fields["her"] is True and fields["her_k"] == 2
    assert dropped == ["replay_buffer_kwargs.goal_selection_strategy=episode: not mapped to a pilotlab field"]
    _, dropped = presets.translate("sac", {"learning_rate": 3e-4}, {"replay_buffer_class": "PrioritizedReplay"})
    assert dropped[0].startswith("replay_buffer_class=PrioritizedReplay")
