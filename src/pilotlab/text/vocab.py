"""The character vocabulary: built from the training split, saved as ``vocab.json`` in the run directory.

Ids are the sorted distinct characters (so the same text always gives the same ids); a method that needs
a mask token gets id ``len(chars)``. A character outside the vocabulary is an error when a user gives it
(a prompt) and is counted and skipped when the validation split holds it (it never occurred in training).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from pilotlab.core import checkpoint
from pilotlab.core.errors import PilotlabError

FILE = "vocab.json"


@dataclass(frozen=True)
class Vocab:
    chars: tuple[str, ...]
    mask_token: bool = False
    """True: id len(chars) is the [MASK] token of the masked objective."""

    @classmethod
    def build(cls, text: str, mask_token: bool = False) -> Vocab:
        return cls(tuple(sorted(set(text))), mask_token)

    @property
    def size(self) -> int:
        """Characters only (the uniform model's loss is ln(size))."""
        return len(self.chars)

    @property
    def tokens(self) -> int:
        """Ids the model embeds: the characters plus the mask token if any."""
        return len(self.chars) + int(self.mask_token)

    @property
    def mask_id(self) -> int:
        if not self.mask_token:
            raise ValueError("this vocabulary has no mask token")
        return len(self.chars)

    def unknown(self, text: Iterable[str]) -> list[str]:
        """Distinct characters of `text` outside the vocabulary, in order of first appearance."""
        index = set(self.chars)
        seen: dict[str, None] = {}
        for c in text:
            if c not in index:
                seen[c] = None
        return list(seen)

    def encode(self, text: str, what: str = "--prompt") -> torch.Tensor:
        """int64 ids (len(text),); a character outside the vocabulary is a one-line `PilotlabError`."""
        bad = self.unknown(text)
        if bad:
            shown = ", ".join(repr(c) for c in bad[:10])
            raise PilotlabError(f"{what} holds {len(bad)} character(s) the model never saw in training: {shown}; "
                                f"use only the {self.size} characters of its vocabulary ({FILE} in the run directory)")
        return self.encode_known(text)

    def encode_known(self, text: str) -> torch.Tensor:
        """int64 ids of the characters of `text` that are in the vocabulary (others are skipped)."""
        index = {c: i for i, c in enumerate(self.chars)}
        return torch.tensor([index[c] for c in text if c in index], dtype=torch.long)

    def decode(self, ids: torch.Tensor | Iterable[int]) -> str:
        return "".join(self.chars[i] if i < len(self.chars) else "\u2588" for i in (int(j) for j in ids))

    def save(self, folder: Path) -> None:
        doc = {"chars": "".join(self.chars), "mask_token": self.mask_token}
        checkpoint.atomic_write_text(folder / FILE, json.dumps(doc, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Vocab:
        path = folder / FILE
        if not path.is_file():
            raise PilotlabError(f"{str(folder)!r} has no {FILE}; it is not a finished text run")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            chars, mask = doc["chars"], doc["mask_token"]
            if not isinstance(chars, str) or not isinstance(mask, bool) or not chars or len(set(chars)) != len(chars):
                raise ValueError("bad fields")
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
            raise PilotlabError(f"{str(path)!r} is damaged ({' '.join(str(e).split())[:120]}); restore it from the "
                                "run's training data") from None
        return cls(tuple(chars), mask)
