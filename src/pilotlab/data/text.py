"""Text corpora: any UTF-8 file the user gives, or a named corpus (``tinyshakespeare``).

`load_text` returns the whole text as one ``str``; the text pillar splits it (`split_text`: the last 10%
is the validation split, as in char-rnn and nanoGPT) and builds its vocabulary from the training part.
A named corpus is looked up like the MNIST test set: this project's ``../shared/data`` (from the working
folder or the repository), then the download cache (``$PILOTLAB_DATA``), then a sha256-verified download
into that cache. The file is never copied into the repository.

What is refused, each as one `PilotlabError`: a missing path or a folder, an empty file, a binary file
(a NUL byte or many control characters in its first 64 KiB: an image, an archive, a checkpoint), and bytes
that are not UTF-8 (with the byte offset, so the user can find it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pilotlab.core.errors import PilotlabError
from pilotlab.data.download import cache_dir, download, sha256_file


@dataclass(frozen=True)
class TextSource:
    """A named corpus: its file name, checksum and mirrors."""

    file: str
    sha256: str
    urls: tuple[str, ...]
    description: str


TEXT_DATASETS: dict[str, TextSource] = {
    "tinyshakespeare": TextSource(
        "input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",),
        "Tiny Shakespeare (Karpathy's char-rnn), 1,115,394 characters, 65 distinct",
    ),
}

SNIFF_BYTES = 1 << 16
"""How much of a file the binary check reads."""
MAX_CONTROL_FRACTION = 0.01
"""Control characters (other than tab, newline, carriage return, form feed) allowed in text."""


def shared_text_dirs(name: str) -> list[Path]:
    """Folders that may hold corpus `name` (this project's ../shared/data/<name>)."""
    repo = Path(__file__).resolve().parents[3]
    out = [Path.cwd() / ".." / "shared" / "data" / name, repo / ".." / "shared" / "data" / name]
    return [p.resolve() for p in out if p.is_dir()]


def text_dataset_path(name: str, allow_download: bool = True) -> Path:
    """The verified local file of corpus `name`, downloading it into the cache if needed."""
    if name not in TEXT_DATASETS:
        raise PilotlabError(f"unknown text dataset {name!r}; choose one of {', '.join(TEXT_DATASETS)} "
                            "or give --data-file PATH")
    src = TEXT_DATASETS[name]
    for folder in shared_text_dirs(name):
        path = folder / src.file
        if path.is_file():
            if sha256_file(path) != src.sha256:
                raise PilotlabError(f"{str(path)!r} does not match the sha256 of {name}; restore the file, or give "
                                    "it as --data-file to use it as it is")
            return path
    cached = cache_dir() / name / src.file
    if not cached.is_file() and not allow_download:
        raise PilotlabError(f"{name} not found locally ({cached}) and downloads are off")
    return download(list(src.urls), cached, src.sha256)


def read_text_file(path: str | Path, flag: str = "--data-file") -> str:
    """The contents of a UTF-8 text file; a missing, empty, binary or non-UTF-8 file is a `PilotlabError`."""
    p = Path(path)
    where = f"{flag} {str(p)!r}"
    if not p.exists():
        raise PilotlabError(f"{where} does not exist; give a UTF-8 text file")
    if not p.is_file():
        raise PilotlabError(f"{where} is not a file; give a UTF-8 text file")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise PilotlabError(f"{where} cannot be read: {e.strerror or e}") from None
    if not data:
        raise PilotlabError(f"{where} is empty; give a text file with some characters in it")
    head = data[:SNIFF_BYTES]
    if b"\x00" in head:
        raise PilotlabError(f"{where} is a binary file (it holds NUL bytes), not text; give a UTF-8 text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PilotlabError(f"{where} is not UTF-8 text (byte {e.start} is 0x{data[e.start]:02x}); convert it to "
                            "UTF-8, e.g. iconv -f latin1 -t utf-8") from None
    sniff = text[:SNIFF_BYTES]
    controls = sum(1 for c in sniff if ord(c) < 32 and c not in "\t\n\r\f")
    if controls > MAX_CONTROL_FRACTION * len(sniff):
        raise PilotlabError(f"{where} looks binary ({controls} control characters in its first {len(sniff)}); "
                            "give a UTF-8 text file")
    if text.startswith("\ufeff"):  # a byte-order mark is an encoding marker, not a character of the text
        text = text[1:]
    if not text:
        raise PilotlabError(f"{where} is empty; give a text file with some characters in it")
    return text


def load_text(dataset: str | None, data_file: str | None, allow_download: bool = True) -> tuple[str, str]:
    """(text, where it came from) of ``--data-file`` if given, else of the named corpus ``--dataset``."""
    if data_file is not None:
        return read_text_file(data_file), str(Path(data_file))
    if dataset is None:
        raise PilotlabError("give --dataset NAME or --data-file PATH")
    path = text_dataset_path(dataset, allow_download)
    return read_text_file(path, "--dataset"), str(path)


def split_text(text: str, val_fraction: float) -> tuple[str, str]:
    """(training text, validation text): the validation split is the last `val_fraction` of the characters."""
    cut = len(text) - round(len(text) * val_fraction)
    return text[:cut], text[cut:]


__all__ = ["TEXT_DATASETS", "TextSource", "load_text", "read_text_file", "split_text", "text_dataset_path"]
