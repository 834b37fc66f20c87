"""Tuned hyperparameter presets: RL Baselines3 Zoo's published settings, mapped onto pilotlab's config fields.

The values live in ``zoo_presets.toml`` beside this file, transcribed verbatim from the zoo's
``hyperparams/<algo>.yml`` with the source cited per entry. This module only translates: it reads an entry
over stable-baselines3's defaults (what the zoo runs with for keys it leaves unset), turns each zoo key into
pilotlab fields (``learning_rate`` -> ``lr``, ``policy_kwargs.net_arch`` -> ``hidden``, ``lin_1e-3`` -> ``lr``
plus ``anneal_lr``), and names every key it cannot express (``dropped``), so nothing is ignored silently.

`pilotlab rl train` applies the preset for its (algo, env) by default (``--preset zoo``); the order is
dataclass defaults < preset < config file < command-line flags (`layer`). ``--preset none`` gives the
dataclass defaults.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pilotlab.core.errors import PilotlabError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DATA = "zoo_presets.toml"
"""The data file inside the pilotlab.rl package."""

ALGOS = ("dqn", "ppo", "td3", "ddpg", "sac")
"""Algorithms the zoo table covers (sac is data until an algorithm registers under that name)."""

SDE = "no gSDE in pilotlab's SAC (it predicts its log std)"


@dataclass(frozen=True)
class Preset:
    """One zoo entry and what it means for pilotlab."""

    algo: str
    env: str
    """The env id the zoo names."""
    envs: tuple[str, ...]
    """Every env id the entry is applied to: `env` and the newer gymnasium ids of the same task."""
    family: str
    """classic, box2d, mujoco or robotics (gymnasium-robotics' Fetch arm)."""
    source: str
    """URL of the zoo file (at a fixed commit) the values come from."""
    zoo: Mapping[str, Any]
    """The entry as published."""
    published: Mapping[str, Any] | None
    """The zoo's benchmark.md row for (algo, env): env, mean_reward, std_reward, n_timesteps, eval_episodes."""
    fields: dict[str, Any]
    """pilotlab config values the preset sets (SB3's defaults where the entry is silent, then the entry, then
    the `[pinned.<algo>]` fields that make pilotlab's algorithm behave as SB3's)."""
    dropped: tuple[str, ...]
    """Zoo settings pilotlab cannot express, each with what is done instead."""

    @property
    def name(self) -> str:
        return f"{self.algo}/{self.env}"


@functools.cache
def _data() -> dict[str, Any]:
    text = resources.files("pilotlab.rl").joinpath(DATA).read_text(encoding="utf-8")
    return tomllib.loads(text)


@functools.cache
def presets() -> tuple[Preset, ...]:
    """Every preset in the data file, in file order."""
    data = _data()
    out = []
    for entry in data["preset"]:
        algo, zoo = entry["algo"], entry["zoo"]
        defaults = {k: v for k, v in data["defaults"][algo].items() if k != "source"}
        fields, dropped = translate(algo, defaults, zoo)
        pinned = {k: v for k, v in data.get("pinned", {}).get(algo, {}).items() if k != "source"}
        fields = {**fields, **pinned}
        out.append(Preset(algo, entry["env"], (entry["env"], *entry.get("also", ())), entry["family"],
                          entry["source"], zoo, entry.get("published"), fields, tuple(dropped)))
    return tuple(out)


def defaults_source(algo: str) -> str:
    """Where the defaults under `algo`'s entries come from."""
    return str(_data()["defaults"][algo]["source"])


def find(algo: str, env: str) -> Preset | None:
    """The preset for `algo` on `env` (its own id or one of its `also` ids), or None."""
    return next((p for p in presets() if p.algo == algo and env in p.envs), None)


def algos_for(env: str) -> list[str]:
    """Algorithms with a preset for `env`."""
    return [p.algo for p in presets() if env in p.envs]


def _schedule(value: Any) -> tuple[float, bool]:
    """(value, linear) of a zoo number or ``lin_<x>`` schedule string."""
    if isinstance(value, str) and value.startswith("lin_"):
        return float(value[4:]), True
    return float(value), False


def translate(algo: str, defaults: Mapping[str, Any], zoo: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(pilotlab fields, dropped settings) of a zoo entry read over SB3's `defaults` for `algo`.

    SB3 counts train_freq in calls of the vector env's step (n_envs env steps each); pilotlab counts env
    steps summed over the envs, so train_freq is scaled by n_envs, as is gradient_steps -1 (SB3: as many
    gradient steps as env steps in the phase).
    """
    hp = {**defaults, **zoo}
    kwargs = {**defaults.get("policy_kwargs", {}), **zoo.get("policy_kwargs", {})}
    out: dict[str, Any] = {}
    dropped: list[str] = []
    n_envs = int(hp.pop("n_envs", 1))
    out["num_envs"] = n_envs
    lr, lr_linear = _schedule(hp.pop("learning_rate"))
    out["lr"] = lr
    if algo == "ppo":
        clip, clip_linear = _schedule(hp.pop("clip_range"))
        out["clip_range"] = clip
        out["anneal_lr"] = lr_linear
        if clip_linear != lr_linear:
            dropped.append(f"clip_range={zoo.get('clip_range', clip)}: pilotlab anneals the clip range together with "
                           f"the learning rate (anneal-lr {str(lr_linear).lower()}), not on its own schedule")
    elif lr_linear:
        dropped.append(f"learning_rate={zoo['learning_rate']}: no learning-rate schedule in {algo}; constant {lr} used")
    if "train_freq" in hp:
        freq = hp.pop("train_freq")
        if isinstance(freq, list):  # [n, "step"] or [n, "episode"]
            if freq[1] != "step":
                dropped.append(f"train_freq={freq}: pilotlab trains every N env steps, not every N episodes; "
                               f"{algo}'s default train-freq kept")
                hp.pop("gradient_steps", None)
                freq = None
            else:
                freq = freq[0]
        if freq is not None:
            out["train_freq"] = int(freq) * n_envs
            grad = int(hp.pop("gradient_steps"))
            out["gradient_steps"] = int(freq) * n_envs if grad == -1 else grad
    for key, value in list(hp.items()):
        hp.pop(key)
        if algo == "sac" and key == "ent_coef":  # "auto", "auto_<init>" or a fixed coefficient
            if isinstance(value, str) and value.startswith("auto"):
                out["autotune"] = True
                out["init_alpha"] = float(value[5:]) if value.startswith("auto_") else 1.0
            else:
                out["autotune"], out["init_alpha"] = False, float(value)
        elif algo == "sac" and key == "target_entropy":  # "auto": -dim(A), which None means in pilotlab's SAC
            out["target_entropy"] = None if value == "auto" else float(value)
        elif algo == "sac" and key == "target_update_interval":
            if int(value) != 1:
                dropped.append(f"target_update_interval={value}: pilotlab's SAC updates its target critics after "
                               "every gradient step")
        elif key == "n_timesteps":
            out["total_steps"] = int(value)
        elif key in ("gamma", "batch_size", "buffer_size", "learning_starts", "target_update_interval",
                     "exploration_fraction", "exploration_initial_eps", "exploration_final_eps", "max_grad_norm",
                     "n_steps", "n_epochs", "gae_lambda", "ent_coef", "vf_coef", "clip_range_vf", "tau",
                     "policy_delay", "target_entropy") and not (algo == "dqn" and key == "tau"):
            out[key] = value
        elif key == "tau":  # dqn: SB3's tau 1.0 is the hard copy pilotlab's DQN does
            if float(value) != 1.0:
                dropped.append(f"tau={value}: pilotlab's DQN copies the target network (tau 1.0)")
        elif key == "target_policy_noise":
            out["policy_noise"] = value
        elif key == "target_noise_clip":
            out["noise_clip"] = value
        elif key == "noise_std":
            out["exploration_noise"] = value
        elif key == "noise_type":
            if value != "normal":
                dropped.append(f"noise_type={value}: pilotlab's exploration noise is Gaussian (same std)")
        elif key == "normalize":
            if algo == "ppo" and value is True:  # VecNormalize's defaults: observations and rewards
                out["normalize_obs"] = True
                out["normalize_reward"] = True
            elif algo == "sac" and value is True:
                out["normalize_obs"] = True
                dropped.append("normalize=true (reward part): no reward normalization in pilotlab; observations "
                               "are normalized")
            elif value:
                dropped.append(f"normalize={value}: no VecNormalize in pilotlab's {algo}")
        elif key == "policy":  # MultiInputPolicy: SB3's MLP over a dict observation, which pilotlab concatenates
            if value not in ("MlpPolicy", "MultiInputPolicy"):
                dropped.append(f"policy={value}: pilotlab's {algo} uses MLPs")
        elif key == "replay_buffer_class":
            if value == "HerReplayBuffer":
                out["her"] = True
            else:
                dropped.append(f"replay_buffer_class={value}: not mapped to a pilotlab field")
        elif key == "replay_buffer_kwargs":
            for name, arg in value.items():
                if name == "n_sampled_goal":
                    out["her_k"] = int(arg)
                elif not (name == "goal_selection_strategy" and arg == "future"):  # pilotlab's HER is "future"
                    dropped.append(f"replay_buffer_kwargs.{name}={arg}: not mapped to a pilotlab field")
        elif key == "use_sde" and algo == "ppo":
            out["sde"] = bool(value)
        elif key == "sde_sample_freq" and algo == "ppo":
            out["sde_sample_freq"] = int(value)
        elif key in ("use_sde", "sde_sample_freq", "use_sde_at_warmup"):
            if value:
                dropped.append(f"{key}={value}: {SDE}")
        elif key == "policy_kwargs":
            continue
        else:
            dropped.append(f"{key}={value}: not mapped to a pilotlab field")
    for key, value in kwargs.items():
        if key == "net_arch":
            if isinstance(value, dict):  # dict(pi=[...], vf=[...])
                if value.get("pi") != value.get("vf") or set(value) != {"pi", "vf"}:
                    dropped.append(f"net_arch={value}: pilotlab's policy and value networks share one size; "
                                   f"pi {value.get('pi')} used")
                value = value.get("pi", [])
            out["hidden"] = tuple(int(h) for h in value)
        elif key == "activation_fn" and algo == "ppo":
            name = str(value).removeprefix("nn.").lower()
            if name in ("tanh", "relu"):
                out["activation"] = name
            else:
                dropped.append(f"activation_fn={value}: pilotlab's PPO has tanh or relu")
        elif key == "log_std_init" and algo == "ppo":
            out["log_std_init"] = float(value)
        elif key == "log_std_init" and algo == "sac":
            dropped.append(f"policy_kwargs.log_std_init={value}: SB3's SAC uses it only with gSDE; pilotlab's SAC "
                           "predicts its log std")
        elif key == "ortho_init" and algo == "ppo":
            out["ortho_init"] = bool(value)
        else:
            dropped.append(f"policy_kwargs.{key}={value}: not mapped to a pilotlab field")
    return out, dropped


def check_fields(preset: Preset, config_class: type) -> None:
    """Raise when the preset sets a field `config_class` does not have."""
    names = {f.name for f in dataclasses.fields(config_class)}
    missing = [k for k in preset.fields if k not in names]
    if missing:
        raise PilotlabError(f"zoo preset {preset.name} sets {', '.join(missing)}, which {preset.algo}'s config has "
                            "no field for; pass --preset none")


def layer(config_class: type, given: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The values `pilotlab rl train` puts under the user's: the zoo preset for the chosen (algo, env) and
    the ``preset`` field that records it, and where they come from (for messages).

    `given` holds the fields set on the command line or in a config file. Without ``--preset``, the zoo
    preset is used when one exists and ``none`` otherwise; ``--preset zoo`` where none exists is an error
    (raised by the config's own check).
    """
    names = {f.name for f in dataclasses.fields(config_class)}
    if "preset" not in names:  # tabular agents have no presets
        return {}, ""
    defaults = {f.name: f.default for f in dataclasses.fields(config_class)}
    algo = str(given.get("algo", defaults.get("algo")))
    env = str(given.get("env", defaults["env"]))
    chosen = str(given.get("preset", "")).strip()
    preset = find(algo, env) if chosen in ("", "zoo") else None
    if preset is None:
        return ({"preset": "none"} if chosen == "" else {}), ""
    check_fields(preset, config_class)
    return {**preset.fields, "preset": "zoo"}, f"zoo preset {preset.name}"


def describe(preset: Preset) -> list[str]:
    """Lines that `pilotlab rl presets` prints for one preset."""
    lines = [f"{preset.algo} {preset.env}" + (f" (also {', '.join(preset.envs[1:])})" if preset.envs[1:] else "")]
    lines.append("  sets: " + " ".join(f"{k.replace('_', '-')}={_text(v)}" for k, v in preset.fields.items()))
    for item in preset.dropped:
        lines.append(f"  not expressed: {item}")
    if preset.published:
        pub = preset.published
        lines.append(f"  published: mean return {pub['mean_reward']} +- {pub['std_reward']} on {pub['env']} after "
                     f"{pub['n_timesteps']} steps ({pub['eval_episodes']} episodes; zoo benchmark.md)")
    lines.append(f"  source: {preset.source} (unset keys: {defaults_source(preset.algo)})")
    return lines


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
