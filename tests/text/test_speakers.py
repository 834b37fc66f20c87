"""The speaker task: parsing the play, a split by play position with no text shared by train and test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pilotlab.data.text import load_text
from pilotlab.text.model import ModelSpec
from pilotlab.text.speakers import (
    FinetuneSpec,
    SpeakerClassifier,
    encode_speeches,
    finetune,
    linear_probe,
    ngram_baseline,
    parse_speeches,
    per_speaker_subset,
    pooled_features,
    speaker_task,
)
from pilotlab.text.vocab import Vocab

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "tinyshakespeare"


def _play(n: int = 30) -> str:
    """A synthetic play: three speakers in turn, a repeated line ("My lord.") and some unique ones."""
    blocks = []
    for i in range(n):
        name = ("ANNE", "Second Murderer", "KING RICHARD III")[i % 3]
        body = "My lord." if i % 5 == 0 else f"Line {i} of {name.lower()},\nand its second verse {i}."
        blocks.append(f"{name}:\n{body}")
    return "\n\n".join(blocks) + "\n"


def _check_split(text: str, n: int) -> None:
    task = speaker_task(text, n_speakers=n)
    train_texts = {" ".join(s.text.split()) for s in task.train}
    assert task.test and not any(" ".join(s.text.split()) in train_texts for s in task.test)
    assert not {s.position for s in task.train} & {s.position for s in task.test}
    for name in task.speakers:  # every test speech comes later in the play than the speaker's training ones
        train = [s.position for s in task.train if s.speaker == name]
        test = [s.position for s in task.test if s.speaker == name]
        assert train and (not test or max(train) < min(test))
    assert {s.speaker for s in task.train} == set(task.speakers)
    labels = task.labels(task.train)
    assert labels.min() == 0 and labels.max() == len(task.speakers) - 1


def test_parse_reads_headers_and_positions() -> None:
    text = _play(6)
    speeches = parse_speeches(text)
    assert [s.speaker for s in speeches] == ["ANNE", "Second Murderer", "KING RICHARD III"] * 2
    for s in speeches:
        assert text[s.position:].startswith(f"{s.speaker}:\n{s.text}")
    assert parse_speeches("Not a header\nsome text\n\nNAME:\n\n") == []


def test_split_of_a_synthetic_play_shares_no_text() -> None:
    _check_split(_play(), 3)
    task = speaker_task(_play(), 3)
    assert all(s.text != "My lord." for s in task.test)  # repeated in training, hence dropped from the test


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/tinyshakespeare not found")
def test_split_of_tiny_shakespeare_shares_no_text() -> None:
    text, _ = load_text("tinyshakespeare", None, allow_download=False)
    _check_split(text, 10)
    task = speaker_task(text, 10)
    assert len(task.speakers) == 10 and len(task.train) > 1000 and len(task.test) > 200


def test_subsets_and_classifiers_run() -> None:
    task = speaker_task(_play(60), 3)
    y = task.labels(task.train)
    sub = per_speaker_subset(y, 2, seed=0)
    assert torch.bincount(y[sub]).tolist() == [2, 2, 2]
    assert torch.equal(sub, per_speaker_subset(y, 2, seed=0)) and len(per_speaker_subset(y, None, 0)) == len(y)
    vocab = Vocab.build(_play(60))
    spec = ModelSpec(vocab.tokens, 32, 1, 2, 16)
    ids, lengths = encode_speeches(task.train, vocab, 32)
    tids, tlen = encode_speeches(task.test, vocab, 32)
    assert ids.shape == (len(task.train), 32) and int(lengths.max()) <= 32
    out = finetune(spec, None, ids, lengths, y, tids, tlen, task.labels(task.test), 3,
                   FinetuneSpec(epochs=1, min_steps=3), seed=0)
    assert 0 <= out["acc"] <= 1 and out["steps"] == 3
    base = ngram_baseline([s.text for s in task.train], y.numpy(), [s.text for s in task.test],
                          task.labels(task.test).numpy(), 3, 0)
    assert base["acc"] > 0.5  # each speaker's lines name it: the n-grams find that


def test_pooled_features_average_only_the_speech_and_the_probe_separates_classes() -> None:
    torch.manual_seed(0)
    spec = ModelSpec(vocab=5, context=6, layers=1, heads=1, width=4)
    state = SpeakerClassifier(spec, 1).body.state_dict()
    ids = torch.tensor([[1, 2, 0, 0, 0, 0], [1, 2, 3, 4, 4, 4]])
    short = pooled_features(spec, state, ids, torch.tensor([2, 2]))
    assert short.shape == (2, 4)
    # causal body: the first two states do not depend on what follows, so the padded speech pools the same
    assert short[0] == pytest.approx(short[1], abs=1e-6)
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    x = rng.normal(size=(60, 4)) + 10 * np.eye(3, 4)[y]  # three well-separated clusters
    assert linear_probe(x, y, x, y, 3, seed=0)["acc"] == 1.0
