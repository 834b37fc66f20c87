"""A labelled task made from the play itself: who speaks this speech? (the 10 most frequent speakers)

Tiny Shakespeare is a sequence of speeches, each a ``NAME:`` line followed by the lines spoken, separated by
blank lines. `parse_speeches` reads them with their position in the text; `speaker_task` keeps the
`n_speakers` most frequent speakers and splits each speaker's speeches by play position: the first 80% are
the training pool, the last 20% the test set, and a test speech whose text also occurs in the training pool
("My lord.") is dropped, so no test text is ever a training text. A speech is one example (a "line" in the
theatre's sense); models read its first `context` characters.

Four classifiers, one protocol (`finetune`, `linear_probe`, `ngram_baseline`): the pretrained transformer
fine-tuned whole with a linear head on its mean-pooled final states, the same architecture from random
initialisation, a logistic regression on the frozen pretrained model's mean-pooled states (a linear probe: with
few labels, fine-tuning every weight can forget what pretraining learnt), and a logistic regression on character
1-4-gram TF-IDF features. `per_speaker_subset` draws the few-label
training sets (10 / 100 / all per speaker) with a seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pilotlab.data.registry import per_class_subset
from pilotlab.text.model import CharTransformer, ModelSpec, lr_at, make_optimizer
from pilotlab.text.vocab import Vocab

HEADER = re.compile(r"^([A-Z][A-Za-z' .\-]*[A-Za-z]):$")
"""A speech header: a name alone on its line, ending with a colon ("First Citizen:", "KING RICHARD III:")."""


@dataclass(frozen=True)
class Speech:
    position: int
    """Character offset of the header in the text (play order)."""
    speaker: str
    text: str
    """The spoken lines, without the header (newlines kept)."""


def parse_speeches(text: str) -> list[Speech]:
    """Every ``NAME:`` speech of `text`, in play order."""
    out: list[Speech] = []
    offset = 0
    for block in text.split("\n\n"):
        stripped = block.strip("\n")
        lines = stripped.split("\n")
        match = HEADER.match(lines[0]) if lines else None
        body = "\n".join(lines[1:]).strip()
        if match and body:
            out.append(Speech(offset + block.find(lines[0]), match.group(1), body))
        offset += len(block) + 2
    return out


@dataclass(frozen=True)
class SpeakerTask:
    speakers: tuple[str, ...]
    """Class names, most frequent first (label i is speakers[i])."""
    train: tuple[Speech, ...]
    test: tuple[Speech, ...]

    def labels(self, speeches: tuple[Speech, ...] | list[Speech]) -> torch.Tensor:
        index = {s: i for i, s in enumerate(self.speakers)}
        return torch.tensor([index[s.speaker] for s in speeches], dtype=torch.long)


def speaker_task(text: str, n_speakers: int = 10, test_fraction: float = 0.2) -> SpeakerTask:
    """The `n_speakers` most frequent speakers, each one's speeches split by play position (see the module)."""
    speeches = parse_speeches(text)
    counts: dict[str, int] = {}
    for s in speeches:
        counts[s.speaker] = counts.get(s.speaker, 0) + 1
    speakers = tuple(sorted(counts, key=lambda n: (-counts[n], n))[:n_speakers])
    train: list[Speech] = []
    test: list[Speech] = []
    for name in speakers:
        own = [s for s in speeches if s.speaker == name]  # play order
        cut = len(own) - max(1, round(len(own) * test_fraction))
        train += own[:cut]
        test += own[cut:]
    seen = {" ".join(s.text.split()) for s in train}
    test = [s for s in test if " ".join(s.text.split()) not in seen]
    return SpeakerTask(speakers, tuple(sorted(train, key=lambda s: s.position)),
                       tuple(sorted(test, key=lambda s: s.position)))


def per_speaker_subset(labels: torch.Tensor, per_class: int | None, seed: int) -> torch.Tensor:
    """Sorted indices of `per_class` random examples of each class (all when None or a class is smaller)."""
    if per_class is None:
        return torch.arange(len(labels))
    return per_class_subset(labels, per_class, seed)


def encode_speeches(speeches: tuple[Speech, ...] | list[Speech], vocab: Vocab, context: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids (N, context), lengths (N,)): the first `context` known characters of each speech, right-padded."""
    ids = torch.zeros(len(speeches), context, dtype=torch.long)
    lengths = torch.zeros(len(speeches), dtype=torch.long)
    for i, s in enumerate(speeches):
        t = vocab.encode_known(s.text)[:context]
        ids[i, :len(t)] = t
        lengths[i] = max(1, len(t))
    return ids, lengths


class SpeakerClassifier(nn.Module):
    """A `CharTransformer` body and a linear head on the mean of its final states over the speech's characters."""

    def __init__(self, spec: ModelSpec, classes: int):
        super().__init__()
        self.body = CharTransformer(spec)
        self.head = nn.Linear(spec.width, classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = self.body.features(ids)  # (B, T, C)
        keep = (torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]).float()  # (B, T)
        pooled = (h * keep[:, :, None]).sum(1) / keep.sum(1, keepdim=True)  # (B, T, C) -> (B, C): mean of real chars
        return self.head(pooled)  # (B, classes)


@dataclass(frozen=True)
class FinetuneSpec:
    """The fine-tuning recipe (the same for pretrained and from-scratch bodies)."""

    epochs: int = 20
    """Passes over the training examples (at least `min_steps` optimizer steps in all)."""
    min_steps: int = 150
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 20


def finetune(spec: ModelSpec, body_state: dict[str, torch.Tensor] | None, train_ids: torch.Tensor,
             train_len: torch.Tensor, train_y: torch.Tensor, test_ids: torch.Tensor, test_len: torch.Tensor,
             test_y: torch.Tensor, classes: int, recipe: FinetuneSpec, seed: int,
             device: torch.device | str = "cpu") -> dict[str, float]:
    """Train a `SpeakerClassifier` (from `body_state`, or from scratch when None); test accuracy and balanced
    accuracy."""
    torch.manual_seed(seed)
    model = SpeakerClassifier(spec, classes).to(device)
    if body_state is not None:
        model.body.load_state_dict(body_state)
    opt = make_optimizer(model, recipe.lr, recipe.weight_decay, (0.9, 0.99))
    n = len(train_y)
    steps = max(recipe.min_steps, recipe.epochs * -(-n // recipe.batch_size))
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, recipe.warmup_steps, recipe.lr, 0.0)
        idx = torch.randint(0, n, (min(recipe.batch_size, n),), generator=gen)  # (B,)
        logits = model(train_ids[idx].to(device), train_len[idx].to(device))  # (B, classes)
        loss = F.cross_entropy(logits, train_y[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    model.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(test_y), 256):
            preds.append(model(test_ids[i:i + 256].to(device), test_len[i:i + 256].to(device)).argmax(1).cpu())
    return scores(torch.cat(preds).numpy(), test_y.numpy(), classes) | {"steps": float(steps)}


@torch.no_grad()
def pooled_features(spec: ModelSpec, body_state: dict[str, torch.Tensor], ids: torch.Tensor,
                    lengths: torch.Tensor) -> np.ndarray:
    """Mean of the frozen body's final states over each speech's characters: (N, C)."""
    model = SpeakerClassifier(spec, 1)
    model.body.load_state_dict(body_state)
    model.eval()
    out = []
    for i in range(0, len(ids), 256):
        h = model.body.features(ids[i:i + 256])  # (B, T, C)
        keep = (torch.arange(ids.shape[1])[None, :] < lengths[i:i + 256, None]).float()  # (B, T)
        out.append((h * keep[:, :, None]).sum(1) / keep.sum(1, keepdim=True))  # (B, C)
    return torch.cat(out).numpy()


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, classes: int,
                 seed: int) -> dict[str, float]:
    """Logistic regression on standardised frozen features (the same regulariser and class weights as the
    n-gram baseline's)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scale = StandardScaler().fit(train_x)
    clf = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced", random_state=seed)
    clf.fit(scale.transform(train_x), train_y)
    return scores(clf.predict(scale.transform(test_x)), test_y, classes)


def scores(pred: np.ndarray, truth: np.ndarray, classes: int) -> dict[str, float]:
    """Accuracy and balanced accuracy (mean per-class recall: the majority speaker alone scores 1/classes)."""
    recalls = [float((pred[truth == c] == c).mean()) for c in range(classes) if (truth == c).any()]
    return {"acc": float((pred == truth).mean()), "balanced_acc": float(np.mean(recalls))}


def ngram_baseline(train_text: list[str], train_y: np.ndarray, test_text: list[str], test_y: np.ndarray,
                   classes: int, seed: int) -> dict[str, float]:
    """Logistic regression on TF-IDF of character 1-4-grams (sublinear term frequency), classes weighted."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 4), sublinear_tf=True, min_df=1)
    x_train = vec.fit_transform(train_text)
    clf = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced", random_state=seed)
    clf.fit(x_train, train_y)
    return scores(clf.predict(vec.transform(test_text)), test_y, classes)
