"""Time to solve: wall time from process start to the first evaluation that reaches a task's target return.

Each run is its own Python process, started by this script, which writes the run's periodic evaluations to
a metrics file (pilotlab: the run's own ``metrics.jsonl``, rows with ``eval/periodic_return``; SB3: a callback
writes the same rows). This script polls that file and stops the process at the first evaluation with a
mean return >= the target: the time is from just before the process started (interpreter start and imports
included) to the moment that evaluation's row appeared. Every evaluation, for every library, is the same
evaluator (`pilotlab.rl.evaluate.evaluate_policy`: 5 deterministic episodes of the Gymnasium env, seeds
15000-15004) every `eval_every` env steps, and counts toward the time. The env-step count at the solving
evaluation is reported too: a run that is faster by using more samples shows it. One torch thread per run;
the runs go one after another.

Runners: ``gym`` (pilotlab on Gymnasium's SyncVectorEnv), ``batched`` (pilotlab with ``--vector-env
batched``), ``sb3`` (Stable-Baselines3 with the RL Zoo settings of the task, as in rl_vs_sb3.py), ``cleanrl``
(CleanRL's own single-file script for the algorithm with CleanRL's default settings, run unchanged from a
local checkout given by ``--cleanrl DIR``; see `child_cleanrl`). The section also reports the start-up
floor: the time a process takes to start Python and import torch, which every runner pays.

    .venv/bin/python benchmarks/rl_speed.py --tasks ppo-cartpole --seeds 0 1 2 3 4   # the issue-19 table row
    .venv/bin/python benchmarks/rl_speed.py --tasks ppo-cartpole --runners gym batched --seeds 0 --no-write
    .venv/bin/python benchmarks/rl_speed.py --smoke          # every task and runner for a few seconds each
    .venv/bin/python benchmarks/rl_speed.py --tasks ppo-cartpole --runners gym batched --seeds 0 1 --full
                                             # CPU time of whole 100k-step runs (no early stop)
    .venv/bin/python benchmarks/rl_speed.py --env-steps     # CPU per vector step, SyncVectorEnv vs batched
    .venv/bin/python benchmarks/rl_speed.py --update-cost   # CPU per PPO update, eager vs torch.compile
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

EVAL_EPISODES, EVAL_SEED = 5, 15_000  # what pilotlab's periodic evaluation uses (eval-seed 10000 + 5000)


@dataclass(frozen=True)
class Task:
    env: str
    target: float
    algo: str  # pilotlab algorithm
    budget: int  # env steps at most
    eval_every: int  # env steps between evaluations
    overrides: dict[str, Any] = field(default_factory=dict)  # pilotlab config fields besides the defaults
    sb3: str | None = None  # name of the SB3 builder in this file (None: no SB3 run)


TASKS: dict[str, Task] = {
    "ppo-cartpole": Task("CartPole-v1", 475.0, "ppo", 100_000, 4096, sb3="sb3_ppo_cartpole"),
    # fewer gradient steps per sample (10 epochs of 512-sample minibatches per 512 samples, against the Zoo's
    # 20 of 256 per 256): a quarter of the updates for the same env steps, more env steps to solve
    "ppo-cartpole-lean": Task("CartPole-v1", 475.0, "ppo", 200_000, 4096,
                              {"num_envs": 16, "n_steps": 32, "batch_size": 512, "n_epochs": 10}),
    "dqn-cartpole": Task("CartPole-v1", 475.0, "dqn", 50_000, 5000, sb3="sb3_dqn_cartpole"),
    # a quarter of the gradient steps per sample, each on 4x the batch, 16 envs: more samples, less CPU
    "dqn-cartpole-fast": Task("CartPole-v1", 475.0, "dqn", 50_000, 5000,
                              {"num_envs": 16, "batch_size": 256, "gradient_steps": 32},
                              sb3="sb3_dqn_cartpole_fast"),
    "ppo-acrobot": Task("Acrobot-v1", -100.0, "ppo", 200_000, 8192,
                        {"num_envs": 16, "n_steps": 256, "batch_size": 256, "gae_lambda": 0.94, "gamma": 0.99,
                         "n_epochs": 4, "normalize_obs": True, "anneal_lr": False, "lr": 3e-4},
                        sb3="sb3_ppo_acrobot"),
    "dqn-mountaincar": Task("MountainCar-v0", -110.0, "dqn", 120_000, 10_000,
                            {"lr": 4e-3, "batch_size": 128, "buffer_size": 10_000, "learning_starts": 1000,
                             "gamma": 0.98, "target_update_interval": 600, "train_freq": 16, "gradient_steps": 8,
                             "exploration_fraction": 0.2, "exploration_final_eps": 0.07, "hidden": (256, 256),
                             "num_envs": 1}, sb3="sb3_dqn_mountaincar"),
    # RL Zoo's SAC settings for Pendulum-v1 (lr 1e-3, the rest SB3's defaults, which are ours)
    "sac-pendulum": Task("Pendulum-v1", -200.0, "sac", 20_000, 1000, sb3="sb3_sac_pendulum"),
    # the same with 64-64 networks: SAC's 256-256 updates are compute-bound on a CPU (docs/rl.md)
    "sac-pendulum-small": Task("Pendulum-v1", -200.0, "sac", 20_000, 1000, {"hidden": (64, 64)}),
    "td3-pendulum": Task("Pendulum-v1", -200.0, "td3", 20_000, 2000, sb3="sb3_td3_pendulum"),
}
RUNNERS = ("gym", "batched", "sb3", "cleanrl")


def tasks_for(smoke: bool, sets: dict[str, Any] | None = None) -> dict[str, Task]:
    """The tasks, with `sets` (``--set``) over their pilotlab overrides; for a smoke run, 1% budgets and
    evaluation intervals (at least 2,000 and 500 steps)."""
    tasks = {k: Task(t.env, t.target, t.algo, t.budget, t.eval_every, {**t.overrides, **(sets or {})}, t.sb3)
             for k, t in TASKS.items()}
    if not smoke:
        return tasks
    return {k: Task(t.env, t.target, t.algo, max(2000, t.budget // 100), max(500, t.eval_every // 100),
                    {**t.overrides, **({"learning_starts": 500} if t.algo in ("dqn", "td3") else {})}, t.sb3)
            for k, t in tasks.items()}


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (VALUE as JSON where it parses, else a string; lists become tuples)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --set takes KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.replace("-", "_")] = tuple(value) if isinstance(value, list) else value
    return out


# -- the child processes --------------------------------------------------------------------------------------

def child_pilotlab(task: Task, runner: str, seed: int, out: Path) -> None:
    from pilotlab.core import registry
    from pilotlab.rl import ALGO

    cfg_cls = registry.config_class(ALGO, task.algo)
    fields = {"algo": task.algo, "env": task.env, "total_steps": task.budget, "seed": seed, "run_dir": str(out),
              "vector_env": "batched" if runner == "batched" else "sync", "eval_every": task.eval_every,
              "eval_every_episodes": EVAL_EPISODES, "eval_episodes": 1, "checkpoint_every": 10 * task.budget,
              "threads": 1}
    cfg = cfg_cls(**{**fields, **task.overrides})
    registry.implementation(ALGO, task.algo).train(cfg)


def child_sb3(task: Task, seed: int, out: Path) -> None:
    import numpy as np
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from pilotlab.rl.evaluate import evaluate_policy
    from rl_vs_sb3 import sb3_dqn_cartpole, sb3_ppo_cartpole, sb3_td3_pendulum

    torch.set_num_threads(1)
    builders = {"sb3_ppo_cartpole": sb3_ppo_cartpole, "sb3_dqn_cartpole": sb3_dqn_cartpole,
                "sb3_td3_pendulum": sb3_td3_pendulum, "sb3_ppo_acrobot": sb3_ppo_acrobot,
                "sb3_dqn_mountaincar": sb3_dqn_mountaincar, "sb3_sac_pendulum": sb3_sac_pendulum,
                "sb3_dqn_cartpole_fast": sb3_dqn_cartpole_fast}
    model = builders[str(task.sb3)](seed, task.budget)
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)

    class Evaluate(BaseCallback):
        """Evaluates at the start of the first rollout at or past each multiple of eval_every env steps:
        after the update of the rollout before, as pilotlab's trainers do (`_on_step` would come before it)."""

        def __init__(self) -> None:
            super().__init__()
            self.next = task.eval_every

        def _on_step(self) -> bool:
            return True

        def _on_rollout_start(self) -> None:
            self.maybe_evaluate()

        def _on_training_end(self) -> None:
            self.maybe_evaluate()

        def maybe_evaluate(self) -> None:
            if self.num_timesteps < self.next:
                return
            self.next += task.eval_every * (1 + (self.num_timesteps - self.next) // task.eval_every)

            def policy(obs: np.ndarray) -> np.ndarray:
                return model.predict(obs, deterministic=True)[0]

            ret = float(evaluate_policy(policy, task.env, {}, EVAL_EPISODES, EVAL_SEED).returns.mean())
            log.write(json.dumps({"step": int(self.num_timesteps), "eval/periodic_return": ret}) + "\n")
            log.flush()

    model.learn(task.budget, callback=Evaluate())


CLEANRL_SCRIPTS = {"ppo": "ppo.py", "dqn": "dqn.py", "sac": "sac_continuous_action.py",
                   "td3": "td3_continuous_action.py"}


def child_cleanrl(task: Task, seed: int, out: Path, checkout: Path) -> None:
    """Run CleanRL's own single-file script for the task's algorithm, with CleanRL's default settings, from
    a local checkout (`--cleanrl DIR`). The script is executed unchanged; a wrapper around Gymnasium's
    `SyncVectorEnv.step` counts env steps, evaluates the script's network with the common evaluator at
    each multiple of eval_every (PPO: at the first step of the next rollout, i.e. after its update), and
    translates Gymnasium 1.x's same-step autoreset infos to the 0.29 keys CleanRL reads (``final_observation``;
    ``final_info`` is dropped: only the script's console logging reads it)."""
    import runpy

    import gymnasium as gym
    import numpy as np
    import torch
    from gymnasium.vector import AutoresetMode, SyncVectorEnv

    from pilotlab.rl.evaluate import evaluate_policy

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)
    init, step = SyncVectorEnv.__init__, SyncVectorEnv.step
    counter = {"steps": 0, "next": task.eval_every, "calls": 0, "evaluating": False}

    def patched_init(self, env_fns, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("autoreset_mode", AutoresetMode.SAME_STEP)  # what gymnasium 0.29 did
        init(self, env_fns, *args, **kwargs)

    def policy_of(g: dict[str, Any]) -> Any:
        if task.algo == "ppo":
            return lambda o: g["agent"].actor(torch.as_tensor(o, dtype=torch.float32)).argmax(1).numpy()
        if task.algo == "dqn":
            return lambda o: g["q_network"](torch.as_tensor(o, dtype=torch.float32)).argmax(1).numpy()
        if task.algo == "sac":
            return lambda o: g["actor"].get_action(torch.as_tensor(o, dtype=torch.float32))[2].numpy()
        return lambda o: g["actor"](torch.as_tensor(o, dtype=torch.float32)).numpy()

    def patched_step(self, actions):  # type: ignore[no-untyped-def]
        if counter["evaluating"]:
            return step(self, actions)  # the evaluator's own envs
        frame = sys._getframe(1)
        while frame is not None and "args" not in frame.f_globals:  # up through any wrappers to the script
            frame = frame.f_back
        if frame is None:
            return step(self, actions)  # not the script's envs
        g = frame.f_globals  # the script's module globals: its networks and args
        rollout_start = task.algo != "ppo" or counter["calls"] % g["args"].num_steps == 0
        if counter["steps"] >= counter["next"] and rollout_start:
            counter["next"] += task.eval_every * (1 + (counter["steps"] - counter["next"]) // task.eval_every)
            counter["evaluating"] = True
            with torch.no_grad():
                ret = float(evaluate_policy(policy_of(g), task.env, {}, EVAL_EPISODES, EVAL_SEED).returns.mean())
            counter["evaluating"] = False
            log.write(json.dumps({"step": counter["steps"], "eval/periodic_return": ret}) + "\n")
            log.flush()
        obs, rew, term, trunc, infos = step(self, actions)
        counter["steps"] += self.num_envs
        counter["calls"] += 1
        if "final_obs" in infos:
            infos["final_observation"] = np.array(infos.pop("final_obs"), dtype=object)
        infos.pop("final_info", None)
        return obs, rew, term, trunc, infos

    SyncVectorEnv.__init__, SyncVectorEnv.step = patched_init, patched_step
    del gym  # imported so the patch is in place before the script imports gymnasium
    script = checkout / "cleanrl" / CLEANRL_SCRIPTS[task.algo]
    sys.path.insert(0, str(checkout))  # cleanrl_utils
    sys.argv = [str(script), "--env-id", task.env, "--seed", str(seed), "--total-timesteps", str(task.budget),
                "--no-cuda"]
    os.chdir(out)  # the script's runs/ (TensorBoard) folder
    runpy.run_path(str(script), run_name="__main__")


def sb3_ppo_acrobot(seed: int, steps: int) -> Any:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    env = VecNormalize(make_vec_env("Acrobot-v1", n_envs=16, seed=seed), norm_reward=False)
    return PPO("MlpPolicy", env, n_steps=256, gae_lambda=0.94, gamma=0.99, n_epochs=4, ent_coef=0.0,
               seed=seed, device="cpu")


def sb3_dqn_mountaincar(seed: int, steps: int) -> Any:
    import gymnasium as gym
    from stable_baselines3 import DQN

    return DQN("MlpPolicy", gym.make("MountainCar-v0"), learning_rate=4e-3, batch_size=128, buffer_size=10_000,
               learning_starts=1000, gamma=0.98, target_update_interval=600, train_freq=16, gradient_steps=8,
               exploration_fraction=0.2, exploration_final_eps=0.07, policy_kwargs={"net_arch": [256, 256]},
               seed=seed, device="cpu")


def sb3_dqn_cartpole_fast(seed: int, steps: int) -> Any:
    """SB3 with dqn-cartpole-fast's settings: 16 envs, 32 gradient steps of 256 per 256 env steps
    (SB3 counts train_freq in vector steps), the 64-64 network; SB3's DQN has no double Q or dueling."""
    from stable_baselines3 import DQN
    from stable_baselines3.common.env_util import make_vec_env

    return DQN("MlpPolicy", make_vec_env("CartPole-v1", n_envs=16, seed=seed), learning_rate=2.3e-3,
               batch_size=256, buffer_size=100_000, learning_starts=1000, gamma=0.99, target_update_interval=10,
               train_freq=16, gradient_steps=32, exploration_fraction=0.16, exploration_final_eps=0.04,
               policy_kwargs={"net_arch": [64, 64]}, seed=seed, device="cpu")


def sb3_sac_pendulum(seed: int, steps: int) -> Any:
    import gymnasium as gym
    from stable_baselines3 import SAC

    return SAC("MlpPolicy", gym.make("Pendulum-v1"), learning_rate=1e-3, seed=seed, device="cpu")


# -- the parent ------------------------------------------------------------------------------------------------

def time_to_solve(task_name: str, runner: str, seed: int, root: Path, max_seconds: float,
                  smoke: bool, full: bool = False, sets: dict[str, Any] | None = None,
                  cleanrl: Path | None = None) -> dict[str, Any]:
    """Start one run, poll its evaluations, stop it at the first that reaches the target (`full`: let it
    run its whole budget, for the CPU time of a fixed number of env steps)."""
    task = tasks_for(smoke, sets)[task_name]
    out = root / f"{task_name}-{runner}-{seed}"
    spec = json.dumps({"task": task_name, "smoke": smoke, "runner": runner, "seed": seed, "out": str(out),
                       "sets": sets or {}, "cleanrl": None if cleanrl is None else str(cleanrl)})
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", spec], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    share_priority(proc.pid)
    metrics, seen = out / "metrics.jsonl", 0
    result: dict[str, Any] = {"task": task_name, "runner": runner, "seed": seed, "solved_s": None, "steps": None,
                              "best": None, "evals": 0}
    try:
        while True:
            done = proc.poll() is not None
            rows = metrics.read_text(encoding="utf-8").splitlines() if metrics.is_file() else []
            for line in rows[seen:]:
                if not line.endswith("}"):
                    break  # a row being written: read it next time
                seen += 1
                row = json.loads(line)
                ret = row.get("eval/periodic_return")
                if ret is None:
                    continue
                result["evals"] += 1
                result["best"] = ret if result["best"] is None else max(result["best"], ret)
                result["last_step"] = row["step"]
                if ret >= task.target and result["solved_s"] is None:
                    result["solved_s"], result["steps"] = time.perf_counter() - t0, row["step"]
                    if not full:
                        return result
            if done:
                result["wall_s"] = time.perf_counter() - t0
                if proc.returncode != 0:
                    result["error"] = proc.stderr.read().decode(errors="replace").strip().splitlines()[-1:]
                return result
            if time.perf_counter() - t0 > max_seconds:
                result["timeout"] = True
                return result
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        result["cpu_s"] = children_cpu() - cpu0  # the run's process, up to its stop (a few ms past the solve)


def startup_floor(repeats: int = 3) -> tuple[float, float]:
    """Median (wall [s], CPU [s]) of a process that starts Python, imports torch and gymnasium and exits:
    the part of every time to solve that no trainer can remove."""
    walls, cpus = [], []
    for _ in range(repeats):
        cpu0, t0 = children_cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch, gymnasium"], check=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
        walls.append(time.perf_counter() - t0)
        cpus.append(children_cpu() - cpu0)
    return statistics.median(walls), statistics.median(cpus)


def share_priority(pid: int) -> None:
    """Give a child started in its own session this process's autogroup niceness (Linux): a run started
    at a raised priority (``echo -10 > /proc/self/autogroup``) keeps it for every timed process."""
    try:
        nice = Path("/proc/self/autogroup").read_text().split("nice")[1].strip()
        Path(f"/proc/{pid}/autogroup").write_text(nice)
    except (OSError, IndexError):
        pass


def children_cpu() -> float:
    """User + system CPU seconds of this process's finished (waited-for) children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def env_step_costs() -> None:
    """Microseconds of CPU per vector step (random actions, best of 3 x 2,000 steps), Gymnasium's
    SyncVectorEnv (next-step autoreset) against the batched env, 8 and 64 envs."""
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode, SyncVectorEnv

    from pilotlab.rl.batched_envs import BATCHED_ENVS, make_batched_env

    def cost(env: Any, steps: int) -> float:
        env.reset(seed=0)
        env.action_space.seed(0)
        actions = [env.action_space.sample() for _ in range(steps)]
        best = float("inf")
        for _ in range(3):
            c0 = time.process_time()
            for a in actions:
                env.step(a)
            best = min(best, (time.process_time() - c0) / steps * 1e6)
        return best

    print("| env | sync, 8 envs [us] | batched, 8 envs [us] | sync, 64 envs [us] | batched, 64 envs [us] |")
    print("|---|---|---|---|---|")
    for env_id in BATCHED_ENVS:
        cells = []
        for n in (8, 64):
            sync = SyncVectorEnv([lambda e=env_id: gym.make(e) for _ in range(n)],
                                 autoreset_mode=AutoresetMode.NEXT_STEP)
            cells += [cost(sync, 16_000 // n), cost(make_batched_env(env_id, n), 2000)]
        print(f"| {env_id} | " + " | ".join(f"{c:.0f}" for c in cells) + " |", flush=True)


def update_costs() -> None:
    """CPU per PPO minibatch update (CartPole sizes: 256 samples, 64-64 tanh policy and value MLPs, fused
    Adam, gradient clip) in eager mode and with the loss under `torch.compile` (fresh inductor cache: the
    first call includes the whole compilation, whose wall time is printed too)."""
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")  # cold: nothing cached
    import gymnasium as gym
    import torch

    from pilotlab.rl.common import clip_grad_norm
    from pilotlab.rl.ppo import ActorCritic, PPOConfig, ppo_losses

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = ActorCritic(PPOConfig(), gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-5, fused=True)
    params = list(model.parameters())
    n = 256
    batch = (torch.randn(n, 4), torch.randint(0, 2, (n,)), torch.randn(n) * 0.1 - 0.7, torch.randn(n),
             torch.randn(n), torch.randn(n))
    clip = torch.tensor(0.2)

    def loss(o, a, lp, v, adv, ret, clip):  # type: ignore[no-untyped-def]
        t = ppo_losses(model, o, a, lp, v, adv, ret, clip, None, entropy=False, diagnostics=False,
                       normalize_adv=False)
        return t["policy_loss"] + 0.5 * t["value_loss"]

    def update(fn: Any) -> None:
        for p in params:
            p.grad = None
        fn(*batch, clip).backward()
        clip_grad_norm(params, 0.5)
        opt.step()

    for name, fn in (("eager", loss), ("torch.compile", torch.compile(loss))):
        t0, c0 = time.perf_counter(), time.process_time()
        update(fn)
        first = f"first call {time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU"
        best = float("inf")
        for _ in range(3):
            c0 = time.process_time()
            for _ in range(300):
                update(fn)
            best = min(best, (time.process_time() - c0) / 300 * 1e6)
        print(f"{name}: {best:.0f} us CPU per update (best of 3 x 300); {first}", flush=True)


def fmt(x: float | None, spec: str = ".1f") -> str:
    return "-" if x is None else format(x, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["ppo-cartpole"], choices=list(TASKS))
    parser.add_argument("--runners", nargs="+", default=list(RUNNERS), choices=RUNNERS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--max-seconds", type=float, default=600.0, help="stop an unsolved run after this long")
    parser.add_argument("--smoke", action="store_true",
                        help="every task and runner, seed 0, 1%% budgets and evaluations, 60 s at most each: "
                             "checks that everything runs, measures nothing")
    parser.add_argument("--full", action="store_true",
                        help="run every budget to its end and report the CPU time of the whole process (a fixed "
                             "number of env steps; implies --no-write)")
    parser.add_argument("--env-steps", action="store_true",
                        help="only print the CPU cost of one vector step, SyncVectorEnv against batched")
    parser.add_argument("--update-cost", action="store_true",
                        help="only print the CPU cost of one PPO update, eager and under torch.compile")
    parser.add_argument("--cleanrl", type=Path, default=None, metavar="DIR",
                        help="a checkout of CleanRL (github.com/vwxyzjn/cleanrl; needs `tyro`, in the bench extra): "
                             "the cleanrl runner runs its scripts from there; without it that runner is skipped")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="override a pilotlab config field of every chosen task (tuning; VALUE as JSON, e.g. "
                             "n_epochs=10 hidden=[64,64]); SB3 runs keep their settings")
    parser.add_argument("--section", default="rl_speed",
                        help="the docs/benchmarks.md section to write (one per invocation of a split run)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        task = tasks_for(spec["smoke"], spec["sets"])[spec["task"]]
        if spec["runner"] == "sb3":
            child_sb3(task, spec["seed"], Path(spec["out"]))
        elif spec["runner"] == "cleanrl":
            child_cleanrl(task, spec["seed"], Path(spec["out"]), Path(spec["cleanrl"]))
        else:
            child_pilotlab(task, spec["runner"], spec["seed"], Path(spec["out"]))
        return
    if args.env_steps:
        env_step_costs()
        return
    if args.update_cost:
        update_costs()
        return
    if args.smoke:
        args.tasks, args.seeds, args.max_seconds, args.no_write = list(TASKS), [0], 60.0, True
    args.no_write = args.no_write or args.full
    sets = parse_sets(args.set)
    tasks = tasks_for(args.smoke, sets)
    results = []
    load_before = os.getloadavg()[0]
    floor = None if args.smoke or args.full else startup_floor()
    if floor is not None:
        print(f"start-up floor: {floor[0]:.2f} s wall, {floor[1]:.2f} s CPU", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.tasks:
            task = tasks[name]
            for seed in args.seeds:
                for runner in args.runners:
                    if runner == "sb3" and task.sb3 is None:
                        continue
                    if runner == "cleanrl" and (args.cleanrl is None or task.algo not in CLEANRL_SCRIPTS):
                        continue
                    r = time_to_solve(name, runner, seed, Path(tmp), args.max_seconds, args.smoke, args.full, sets,
                                      args.cleanrl)
                    results.append(r)
                    notes = f", whole run {r['wall_s']:.1f} s" if args.full and "wall_s" in r else ""
                    notes += ", TIMEOUT" if r.get("timeout") else ""
                    notes += f", ERROR {r['error']}" if "error" in r else ""
                    print(f"{name} {runner} seed {seed}: solved in {fmt(r['solved_s'])} s at {fmt(r['steps'], ',')} "
                          f"steps, {r['cpu_s']:.1f} s CPU (best eval {fmt(r['best'])}, {r['evals']} evals{notes}); "
                          f"load {os.getloadavg()[0]:.1f}", flush=True)
            write(args, tasks, results, load_before, floor)  # the finished tasks' rows, as they finish


def medians(rows: list[dict[str, Any]]) -> tuple[float | None, float | None, float | None]:
    """Median (time to solve [s], env steps, CPU [s]) over the seeds; None unless every seed solved."""
    if not rows or any(r["solved_s"] is None for r in rows):
        return None, None, None
    return tuple(statistics.median(r[k] for r in rows) for k in ("solved_s", "steps", "cpu_s"))  # type: ignore[return-value]


def write(args: argparse.Namespace, tasks: dict[str, Task], results: list[dict[str, Any]], load_before: float,
          floor: tuple[float, float] | None) -> None:
    lines = ["| task | runner | seeds solved | median time to solve [s] | median env steps | median CPU [s] | "
             "vs SB3: time, CPU | times [s] |", "|---|---|---|---|---|---|---|---|"]
    for name in args.tasks:
        sb3_t, _, sb3_c = medians([r for r in results if r["task"] == name and r["runner"] == "sb3"])
        for runner in args.runners:
            rows = [r for r in results if r["task"] == name and r["runner"] == runner]
            if not rows:
                continue
            med_t, med_s, med_c = medians(rows)
            ratio = (f"{med_t / sb3_t:.2f}x, {med_c / sb3_c:.2f}x" if runner != "sb3" and None not in
                     (med_t, med_c, sb3_t, sb3_c) else "-")
            times = ", ".join(fmt(r["solved_s"]) for r in rows)
            lines.append(f"| {name} ({tasks[name].env}, >= {tasks[name].target:g}) | {runner} | "
                         f"{sum(r['solved_s'] is not None for r in rows)}/{len(rows)} | {fmt(med_t)} | "
                         f"{fmt(med_s, ',.0f')} | {fmt(med_c)} | {ratio} | {times} |")
    table = "\n".join(lines)
    print(table, flush=True)
    if args.no_write:
        return
    import torch

    from _common import machine, write_section

    torch.set_num_threads(1)  # what every run used (the machine line reports this process's setting)
    cmd = "`.venv/bin/python benchmarks/rl_speed.py " + " ".join(sys.argv[1:]) + "`"
    floor_text = "" if floor is None else (
        f" Start-up floor (a process that starts Python, imports torch and gymnasium and exits; median of 3): "
        f"{floor[0]:.2f} s wall, {floor[1]:.2f} s CPU.")
    text = "\n\n".join([
        f"## {args.section}: time to solve", f"Command: {cmd}  \nMachine: {machine()}  \nLoad average (1 min): "
        f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (the 2 cores are shared).",
        "Wall time from the start of the run's process to its first periodic evaluation (5 deterministic "
        "episodes, seeds 15000-15004) with a mean return >= the target; '-' in the median: not every seed "
        "solved within the budget. CPU: user + system time of the run's process up to that point (less "
        "sensitive to the other jobs on the machine than the wall time)." + floor_text, table])
    print(f"wrote {write_section(args.section, text)}")


if __name__ == "__main__":
    main()
