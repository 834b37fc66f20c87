"""Text benchmark on Tiny Shakespeare: language-model loss vs wall time, does pretraining help a speaker
classifier, and training throughput against a reference transformer of the same size.

    .venv/bin/python benchmarks/text_shakespeare.py --part lm --steps 6000 --threads 2      # loss target
    .venv/bin/python benchmarks/text_shakespeare.py --part speakers --pretrain-steps 3000   # does it help?
    .venv/bin/python benchmarks/text_shakespeare.py --part speed --threads 1 2              # tokens/s
    .venv/bin/python benchmarks/text_shakespeare.py --part lm --steps 40 --no-doc           # smoke run

`lm` trains the causal model (`pilotlab text train --method gpt`, the sizes given by the flags) and reports
the validation loss (last 10% of the text, every character) with the wall time, plus a sample with its
prompt, temperature and checkpoint. Targets: <= 1.70 nats/char within 15 minutes, <= 1.55 within 2 hours.

`speakers` pretrains gpt and masked models on the play with the speaker task's test speeches cut out (so
no model sees a test speech before it is scored), then fine-tunes each on 10 / 100 / all training speeches
per speaker, against the same architecture from scratch and a character n-gram logistic regression, over
`--seeds` seeds (label draw and initialisation), with 95% t-intervals. Target: pretrained beats scratch and
n-grams at 10 and 100 per speaker with non-overlapping intervals.

`speed` times training steps (forward, backward, AdamW) of our model and of a reference built from
`torch.nn.TransformerEncoderLayer` (PyTorch's maintained implementation: pre-norm, GELU, 4x MLP, causal
mask, tied output), the same sizes, at each thread count. Target: ours >= 1.3x the reference.

Results are cached in runs/bench-text/results.json; each part replaces its own entry. Without --no-doc the
`text` section of docs/benchmarks.md is rewritten from the cache.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_section
from pilotlab.cli import main as cli
from pilotlab.core.run import RunDir
from pilotlab.core.session import load_weights
from pilotlab.core.summary import (
    TEXT_CHARS_PER_S,
    TEXT_PARAMETERS,
    TEXT_VAL_BPC,
    TEXT_VAL_LOSS,
    TEXT_VAL_LOSS_SUBSET,
    TRAIN_STEPS,
    TRAIN_WALL_S,
)
from pilotlab.data.text import load_text
from pilotlab.text.model import CharTransformer, ModelSpec, make_optimizer
from pilotlab.text.speakers import (
    FinetuneSpec,
    encode_speeches,
    finetune,
    linear_probe,
    ngram_baseline,
    per_speaker_subset,
    pooled_features,
    speaker_task,
)
from pilotlab.text.vocab import Vocab

ROOT = Path("runs/bench-text")
TARGETS = {"loss_15min": 1.70, "loss_2h": 1.55, "speedup": 1.3}
PROMPT, TEMPERATURE = "ROMEO:\n", 0.8


def model_flags(a: argparse.Namespace) -> list[str]:
    return ["--layers", str(a.layers), "--heads", str(a.heads), "--width", str(a.width), "--context", str(a.context),
            "--batch-size", str(a.batch_size)]


def run_cli(argv: list[str]) -> None:
    code = cli(argv)
    if code != 0:
        raise SystemExit(f"pilotlab {' '.join(argv)} failed with exit code {code}")


# -- lm ------------------------------------------------------------------------------------------------------
def part_lm(a: argparse.Namespace) -> dict[str, Any]:
    run = ROOT / a.lm_name
    shutil.rmtree(run, ignore_errors=True)
    argv = ["text", "train", "--method", "gpt", *model_flags(a), "--max-steps", str(a.steps), "--lr", str(a.lr),
            "--warmup-steps", str(a.warmup), "--dropout", str(a.dropout), "--threads", str(a.threads[0]),
            "--eval-every", str(a.eval_every), "--eval-windows", "200", "--run-dir", str(run)]
    t0 = time.perf_counter()
    run_cli(argv)
    total = time.perf_counter() - t0
    r = RunDir.open(run)
    s = r.summary()
    curve = [(row["step"], row[TRAIN_WALL_S], row[TEXT_VAL_LOSS_SUBSET]) for row in r.metrics()
             if TEXT_VAL_LOSS_SUBSET in row]
    from pilotlab.text.evaluate import SampleConfig, sample_run

    sample = sample_run(SampleConfig(run_dir=str(run), prompt=PROMPT, length=400, temperature=TEMPERATURE, seed=0))
    return {"command": "pilotlab " + " ".join(argv), "val_loss": s[TEXT_VAL_LOSS], "val_bpc": s[TEXT_VAL_BPC],
            "train_wall_s": s[TRAIN_WALL_S], "total_wall_s": total, "chars_per_s": s[TEXT_CHARS_PER_S],
            "parameters": s[TEXT_PARAMETERS], "steps": s[TRAIN_STEPS], "curve": curve, "sample": sample,
            "threads": a.threads[0], "load": os.getloadavg()[0]}


# -- speakers ------------------------------------------------------------------------------------------------
def t_interval(values: list[float]) -> tuple[float, float]:
    """(mean, half-width of the 95% t-interval)."""
    from scipy import stats

    m = float(np.mean(values))
    if len(values) < 2:
        return m, float("nan")
    return m, float(stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / math.sqrt(len(values)))


def part_speakers(a: argparse.Namespace) -> dict[str, Any]:
    text, _ = load_text("tinyshakespeare", None)
    task = speaker_task(text)
    ROOT.mkdir(parents=True, exist_ok=True)
    blanked = list(text)  # the play without the test speeches (same length: positions and the split stay put)
    for s in task.test:
        start = s.position + len(s.speaker) + 2
        blanked[start:start + len(s.text)] = [c if c == "\n" else " " for c in s.text]
    corpus = ROOT / "play-without-test-speeches.txt"
    corpus.write_text("".join(blanked), encoding="utf-8")
    runs = {}
    for method in a.methods:
        run = Path(getattr(a, f"{method}_run") or ROOT / f"pretrain-{method}")
        if getattr(a, f"{method}_run") is None:
            shutil.rmtree(run, ignore_errors=True)
            run_cli(["text", "train", "--method", method, "--data-file", str(corpus), *model_flags(a),
                     "--max-steps", str(a.pretrain_steps), "--lr", str(a.lr), "--warmup-steps", str(a.warmup),
                     "--threads", str(a.threads[0]), "--eval-every", "0", "--run-dir", str(run)])
        runs[method] = run
    train_y, test_y = task.labels(task.train), task.labels(task.test)
    classes = len(task.speakers)
    recipe = FinetuneSpec(epochs=a.ft_epochs, min_steps=a.ft_min_steps, lr=a.ft_lr)
    rows: dict[str, dict[str, list[float]]] = {}
    for per in a.per_speaker:
        size = None if per == 0 else per
        label = "all" if size is None else str(size)
        for seed in range(a.seeds):
            idx = per_speaker_subset(train_y, size, seed)
            sub = [task.train[i] for i in idx.tolist()]
            ngram = ngram_baseline([s.text[:a.context] for s in sub], train_y[idx].numpy(),
                                   [s.text[:a.context] for s in task.test], test_y.numpy(), classes, seed)
            rows.setdefault(f"n-gram logistic regression|{label}", {}).setdefault("acc", []).append(ngram["acc"])
            rows[f"n-gram logistic regression|{label}"].setdefault("balanced_acc", []).append(ngram["balanced_acc"])
            for method, run in runs.items():
                vocab = Vocab.load(run)
                cfg = RunDir.open(run).config()["config"]
                spec = ModelSpec(vocab.tokens, cfg["context"], cfg["layers"], cfg["heads"], cfg["width"], 0.0,
                                 method == "gpt")
                ids, lengths = encode_speeches(sub, vocab, cfg["context"])
                tids, tlen = encode_speeches(task.test, vocab, cfg["context"])
                state = load_weights(RunDir.open(run))[0]["model"]
                for name, body in ((f"{method} pretrained, fine-tuned", state), (f"{method} from scratch", None)):
                    t0 = time.perf_counter()
                    out = finetune(spec, body, ids, lengths, train_y[idx], tids, tlen, test_y, classes, recipe, seed)
                    cell = rows.setdefault(f"{name}|{label}", {})
                    for k in ("acc", "balanced_acc"):
                        cell.setdefault(k, []).append(out[k])
                    cell.setdefault("wall_s", []).append(time.perf_counter() - t0)
            print(f"speakers: {label} per speaker, seed {seed} done", flush=True)
    pretrain = {m: RunDir.open(r).summary() for m, r in runs.items()}
    return {"rows": rows, "speakers": list(task.speakers), "train": len(task.train), "test": len(task.test),
            "seeds": a.seeds, "recipe": vars(recipe), "context": a.context,
            "pretrain": {m: {"steps": s.get(TRAIN_STEPS), "wall_s": s.get(TRAIN_WALL_S),
                             "val_loss": s.get(TEXT_VAL_LOSS)} for m, s in pretrain.items()},
            "pretrain_runs": {m: str(r) for m, r in runs.items()}}


def part_probe(a: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    """Linear probes of the `speakers` part's pretrained models (frozen), same label draws and seeds; rows are
    added to the `speakers` results."""
    sp = results.get("speakers")
    if not sp:
        raise SystemExit("--part probe reads the pretrained runs of --part speakers: run that first")
    text, _ = load_text("tinyshakespeare", None)
    task = speaker_task(text)
    train_y, test_y = task.labels(task.train), task.labels(task.test)
    classes = len(task.speakers)
    for method, run in sp["pretrain_runs"].items():
        vocab = Vocab.load(Path(run))
        cfg = RunDir.open(Path(run)).config()["config"]
        spec = ModelSpec(vocab.tokens, cfg["context"], cfg["layers"], cfg["heads"], cfg["width"], 0.0, method == "gpt")
        state = load_weights(RunDir.open(Path(run)))[0]["model"]
        train_x = pooled_features(spec, state, *encode_speeches(task.train, vocab, cfg["context"]))
        test_x = pooled_features(spec, state, *encode_speeches(task.test, vocab, cfg["context"]))
        for per in a.per_speaker:
            label = "all" if per == 0 else str(per)
            cell: dict[str, list[float]] = {"acc": [], "balanced_acc": []}
            for seed in range(sp["seeds"]):
                idx = per_speaker_subset(train_y, None if per == 0 else per, seed).numpy()
                out = linear_probe(train_x[idx], train_y.numpy()[idx], test_x, test_y.numpy(), classes, seed)
                for k in cell:
                    cell[k].append(out[k])
            sp["rows"][f"{method} pretrained, linear probe|{label}"] = cell
            print(f"probe: {method} {label} per speaker: {100 * np.mean(cell['acc']):.1f}%", flush=True)
    return sp


# -- speed ---------------------------------------------------------------------------------------------------
class Reference(nn.Module):
    """The same model from PyTorch's maintained `nn.TransformerEncoderLayer` (pre-norm, GELU, 4x MLP)."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.embed = nn.Embedding(spec.vocab, spec.width)
        self.position = nn.Embedding(spec.context, spec.width)
        layer = nn.TransformerEncoderLayer(spec.width, spec.heads, 4 * spec.width, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, spec.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(spec.width)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        t = tokens.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(t)  # (T, T): -inf above the diagonal
        x = self.embed(tokens) + self.position(torch.arange(t))  # (B, T, C)
        h = self.norm(self.encoder(x, mask=mask, is_causal=True))  # (B, T, C)
        return h @ self.embed.weight.t()  # (B, T, V)


def steps_per_s(model: nn.Module, spec: ModelSpec, batch: int, steps: int) -> float:
    opt = make_optimizer(model, 1e-3, 0.1, (0.9, 0.99))
    x = torch.randint(0, spec.vocab, (batch, spec.context + 1), generator=torch.Generator().manual_seed(0))
    for i in range(steps + 3):  # 3 warm-up steps
        if i == 3:
            t0 = time.perf_counter()
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps / (time.perf_counter() - t0)


class GPT2Reference(nn.Module):
    """The same model as Hugging Face `transformers`' GPT-2 (`GPT2LMHeadModel`, SDPA attention): pre-norm blocks,
    fused q/k/v, 4x GELU MLP, learned positions, tied output layer, no dropout; returns the logits (B, T, V)."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        from transformers import GPT2Config, GPT2LMHeadModel

        cfg = GPT2Config(vocab_size=spec.vocab, n_positions=spec.context, n_embd=spec.width, n_layer=spec.layers,
                         n_head=spec.heads, n_inner=4 * spec.width, activation_function="gelu", resid_pdrop=0.0,
                         embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=True, bos_token_id=0, eos_token_id=0)
        cfg._attn_implementation = "sdpa"
        self.gpt2 = GPT2LMHeadModel(cfg)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.gpt2(input_ids=tokens, use_cache=False).logits


def references(spec: ModelSpec) -> dict[str, nn.Module]:
    """The maintained implementations to time beside ours (GPT-2 only where `transformers` is installed)."""
    out: dict[str, nn.Module] = {"nn.TransformerEncoder": Reference(spec)}
    try:
        out["transformers GPT-2"] = GPT2Reference(spec)
    except ImportError:
        print("speed: transformers is not installed; timing the nn.TransformerEncoder reference only", flush=True)
    return out


def part_speed(a: argparse.Namespace) -> dict[str, Any]:
    spec = ModelSpec(65, a.context, a.layers, a.heads, a.width)
    out = []
    for threads in a.threads:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        models = {"ours": CharTransformer(spec), **references(spec)}
        rates: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(a.repeats):  # interleaved: a neighbour's load hits every model alike
            for name, model in models.items():
                rates[name].append(steps_per_s(model, spec, a.batch_size, a.speed_steps))
        tok = a.batch_size * a.context
        row = {"threads": threads, "load": os.getloadavg()[0],
               "tokens_per_s": {name: tok * float(np.median(r)) for name, r in rates.items()},
               "parameters": {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}}
        out.append(row)
        print(f"speed: {threads} thread(s): " + ", ".join(f"{n} {v:.0f} tokens/s" for n, v in
                                                        row["tokens_per_s"].items()), flush=True)
    torch.set_num_threads(1)
    return {"rows": out, "size": {"layers": a.layers, "width": a.width, "heads": a.heads, "context": a.context,
                                  "batch": a.batch_size}, "repeats": a.repeats, "steps": a.speed_steps}


# -- report --------------------------------------------------------------------------------------------------
def report(results: dict[str, Any]) -> str:
    out = []
    for key in sorted(k for k in results if k.startswith("lm")):
        lm = results[key]
        minutes = lm["train_wall_s"] / 60
        out += [f"### Language model ({lm['parameters']:.0f} parameters, {lm['threads']} thread(s))", "",
                f"`{lm['command']}`", "",
                f"Validation loss {lm['val_loss']:.4f} nats/char ({lm['val_bpc']:.4f} bits/char) after "
                f"{lm['steps']:.0f} steps, {minutes:.1f} min of training ({lm['chars_per_s']:.0f} chars/s; load "
                f"average {lm['load']:.1f} at the end).",
                f"Target <= {TARGETS['loss_15min']} within 15 min: "
                + ("**met**" if minutes <= 15 and lm["val_loss"] <= TARGETS["loss_15min"] else
                   "**not met by this run**" if minutes <= 15 else "not measured by this run (longer than 15 min)")
                + f"; <= {TARGETS['loss_2h']} within 2 h: "
                + ("**met**" if minutes <= 120 and lm["val_loss"] <= TARGETS["loss_2h"] else "**not met by this run**"),
                "", "| step | wall [s] | val loss (200 windows) |", "|---:|---:|---:|",
                *[f"| {s} | {w:.0f} | {v:.3f} |" for s, w, v in lm["curve"]], "",
                f"Sample (checkpoint last, prompt {PROMPT!r}, temperature {TEMPERATURE}, top-k all, seed 0):", "",
                "```", lm["sample"], "```", ""]
    sp = results.get("speakers")
    if sp:
        out += ["### Who speaks? (10 speakers, fine-tuning vs scratch vs n-grams)", "",
                f"`{sp.get('argv', '?')}`", "",
                f"{sp['train']} training / {sp['test']} test speeches, speakers {', '.join(sp['speakers'])}; "
                f"{sp['seeds']} seeds; first {sp['context']} characters of each speech; recipe {sp['recipe']}; "
                f"pretraining {sp['pretrain']}.", "",
                "| model | per speaker | accuracy [%] (95% CI) | balanced accuracy [%] (95% CI) |",
                "|---|---:|---:|---:|"]
        for key, cell in sp["rows"].items():
            name, label = key.split("|")
            acc, bal = t_interval(cell["acc"]), t_interval(cell["balanced_acc"])
            out.append(f"| {name} | {label} | {100 * acc[0]:.1f} ± {100 * acc[1]:.1f} | "
                       f"{100 * bal[0]:.1f} ± {100 * bal[1]:.1f} |")
        out.append("")
        for method in ("gpt", "masked"):
            for how in ("fine-tuned", "linear probe"):
                for label in ("10", "100"):
                    pre = sp["rows"].get(f"{method} pretrained, {how}|{label}")
                    if not pre:
                        continue
                    p = t_interval(pre["acc"])
                    for other in (f"{method} from scratch", "n-gram logistic regression"):
                        o = t_interval(sp["rows"][f"{other}|{label}"]["acc"])
                        separate = p[0] - p[1] > o[0] + o[1]
                        verdict = "do not overlap (target met)" if separate else "overlap"
                        out.append(f"- {method} pretrained ({how}) vs {other}, {label} per speaker: "
                                   f"{100 * (p[0] - o[0]):+.1f} points; intervals {verdict}")
        out.append("")
    speed = results.get("speed")
    if speed and "tokens_per_s" in speed["rows"][0]:
        names = [n for n in speed["rows"][0]["tokens_per_s"] if n != "ours"]
        out += [f"### Throughput (training steps: forward, backward, AdamW; size {speed['size']}; median of "
                f"{speed['repeats']} interleaved repeats of {speed['steps']} steps)", "",
                f"`{speed.get('argv', '?')}`", "",
                "| threads | ours [tokens/s] | " + " | ".join(f"{n} [tokens/s] | ours / {n}" for n in names)
                + " | load |", "|---:|---:|" + "---:|---:|" * len(names) + "---:|"]
        for r in speed["rows"]:
            tps = r["tokens_per_s"]
            cells = []
            for n in names:
                ratio = tps["ours"] / tps[n]
                cells.append(f"{tps[n]:.0f} | {ratio:.2f} ({'meets' if ratio >= TARGETS['speedup'] else 'below'} "
                             f"the 1.3x target)")
            out.append(f"| {r['threads']} | {tps['ours']:.0f} | " + " | ".join(cells) + f" | {r['load']:.1f} |")
        params = speed["rows"][0]["parameters"]
        out += ["", "Parameters: " + ", ".join(f"{n} {v:,}" for n, v in params.items()) + ".", ""]
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", choices=["lm", "speakers", "probe", "speed"], nargs="+",
                   default=["lm", "speakers", "probe", "speed"])
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--threads", type=int, nargs="+", default=[1], help="lm/speakers use the first; speed each")
    p.add_argument("--steps", type=int, default=3000, help="lm: optimizer steps")
    p.add_argument("--eval-every", type=int, default=500, help="lm: validation-curve interval")
    p.add_argument("--lm-name", default="lm", help="lm: the run's name (its run directory under runs/bench-text "
                   "and its entry in the results; one per budget, e.g. lm-15min and lm-2h)")
    p.add_argument("--methods", nargs="+", choices=["gpt", "masked"], default=["gpt", "masked"])
    p.add_argument("--pretrain-steps", type=int, default=3000, help="speakers: pretraining steps per method")
    p.add_argument("--gpt-run", default=None, help="speakers: reuse this pretrained gpt run (trained on the "
                   "play without the test speeches) instead of pretraining")
    p.add_argument("--masked-run", default=None, help="speakers: reuse this pretrained masked run")
    p.add_argument("--per-speaker", type=int, nargs="+", default=[10, 100, 0], help="labels per speaker; 0 = all")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--ft-epochs", type=int, default=20)
    p.add_argument("--ft-min-steps", type=int, default=150)
    p.add_argument("--ft-lr", type=float, default=5e-4)
    p.add_argument("--speed-steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    a = p.parse_args()
    torch.set_num_threads(a.threads[0])
    ROOT.mkdir(parents=True, exist_ok=True)
    cache = ROOT / "results.json"
    results: dict[str, Any] = json.loads(cache.read_text()) if cache.is_file() else {}
    for part in a.part:
        if part == "probe":  # adds rows to the speakers results
            results["speakers"] = part_probe(a, results)
            cache.write_text(json.dumps(results, indent=2))
            continue
        key = a.lm_name if part == "lm" else part
        results[key] = {"lm": part_lm, "speakers": part_speakers, "speed": part_speed}[part](a)
        results[key]["machine"] = machine()
        results[key]["argv"] = ".venv/bin/python benchmarks/text_shakespeare.py " + " ".join(sys.argv[1:])
        cache.write_text(json.dumps(results, indent=2))
    text = report(results)
    print(text)
    if not a.no_doc:
        write_section("text", "## text: character transformers on Tiny Shakespeare\n\n"
                      f"Command: `.venv/bin/python benchmarks/text_shakespeare.py` (flags per part below). "
                      f"Machine: {machine()}.\n\n" + text)


if __name__ == "__main__":
    main()
