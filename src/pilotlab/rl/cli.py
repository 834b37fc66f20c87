"""``pilotlab rl train --algo A --env ID [--preset zoo|none] | eval RUN_DIR | play | presets``.

`train` takes its fields from the chosen algorithm's own config class (``--algo dqn`` shows DQN's
fields); the algorithm modules are imported only when chosen. Where RL Zoo publishes settings for the
(algo, env) pair, `train` starts from them (`pilotlab.rl.presets`); `presets` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pilotlab.core import registry
from pilotlab.core.command import Command
from pilotlab.core.config import positional
from pilotlab.core.errors import PilotlabError
from pilotlab.rl import ALGO, presets


def run_train(cfg: object) -> int:
    run = registry.implementation(ALGO, cfg.algo).train(cfg)  # type: ignore[attr-defined]
    print(f"run directory: {run.path}")
    return 0


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    run_dir: str = positional()
    """Run directory of a finished `pilotlab rl train`."""
    episodes: int = 10
    """Evaluation episodes (seeds seed, seed+1, ...)."""
    seed: int = 10_000
    """First evaluation seed; kept apart from training seeds."""
    video: str | None = None
    """Write the first episode as an animated GIF to this path (ending in .gif; its folder must exist)."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "cpu"
    """Where the policy runs."""
    threads: int = 1
    """torch intra-op threads."""

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise PilotlabError(f"episodes must be >= 1, got {self.episodes}")
        if self.video is not None:
            from pilotlab.report.figures import GIF_EXTENSIONS, check_output_file

            check_output_file(self.video, "--video", GIF_EXTENSIONS)  # before the episodes are played


def run_eval(cfg: EvalConfig) -> int:
    from pilotlab.rl.evaluate import evaluate_run

    evaluate_run(cfg)
    return 0


@dataclass(frozen=True, kw_only=True)
class PlayConfig:
    game: Literal["tic-tac-toe", "connect-four"] = "tic-tac-toe"
    """Board game to play against MCTS in the terminal."""
    simulations: int = 2000
    """MCTS simulations per move (more is stronger and slower)."""
    human_first: bool = True
    """The human moves first; --no-human-first lets MCTS open."""
    seed: int = 0
    """Seed of the MCTS rollouts."""
    exploration: float = 0.7
    """UCT exploration constant c (see docs/rl_planning.md for how 0.7 was chosen)."""

    def __post_init__(self) -> None:
        if self.simulations < 1:
            raise PilotlabError(f"simulations must be >= 1, got {self.simulations}")
        if self.exploration < 0:
            raise PilotlabError(f"exploration must be >= 0, got {self.exploration}")


def run_play(cfg: PlayConfig) -> int:
    from pilotlab.rl.mcts import play_terminal

    return play_terminal(cfg)


@dataclass(frozen=True, kw_only=True)
class PresetsConfig:
    algo: str | None = None
    """Only this algorithm's presets (dqn, ppo, td3, ddpg, sac)."""
    env: str | None = None
    """Only the presets that apply to this env id."""

    def __post_init__(self) -> None:
        if self.algo is not None and self.algo not in presets.ALGOS:
            raise PilotlabError(f"no presets for algorithm {self.algo!r}; the zoo table covers "
                                f"{', '.join(presets.ALGOS)}")


def run_presets(cfg: PresetsConfig) -> int:
    chosen = [p for p in presets.presets()
              if cfg.algo in (None, p.algo) and (cfg.env is None or cfg.env in p.envs)]
    if not chosen:  # a filter that matches nothing is a typo or a question with a one-line answer
        envs = sorted({p.env for p in presets.presets() if cfg.algo in (None, p.algo)})
        raise PilotlabError(f"no zoo preset for {cfg.algo or 'any algorithm'} on {cfg.env}; there are presets for "
                            f"{', '.join(envs)} (pilotlab rl presets lists them)")
    registered = set(registry.entries(ALGO))
    print(f"{len(chosen)} zoo preset(s); `rl train` applies the one for its --algo and --env unless --preset none. "
          "Flags override single fields.")
    for preset in chosen:
        lines = presets.describe(preset)
        if preset.algo not in registered:
            lines[0] += f" [data only: no {preset.algo} algorithm in pilotlab yet]"
        print("\n".join(lines))
    return 0


COMMANDS = {
    "train": Command(None, run_train, "train an agent on any Gymnasium env; writes a run directory", choices=ALGO,
                     default="dqn", preset=presets.layer),
    "eval": Command(EvalConfig, run_eval, "evaluate a trained run: mean return over N episodes, optional GIF"),
    "play": Command(PlayConfig, run_play, "play tic-tac-toe or connect four against MCTS in the terminal"),
    "presets": Command(PresetsConfig, run_presets, "list the tuned hyperparameter presets (RL Zoo's, with sources) "
                       "that rl train starts from"),
}
