"""Downloads with sha256 verification into a cache, atomically.

The cache is ``$PILOTLAB_DATA`` (default ``~/.cache/pilotlab``). A file reaches its final name only
after its full size arrived and its sha256 matched; a failed, truncated or mismatched download is
deleted, so the cache never holds a bad file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from pilotlab.core.errors import PilotlabError


def cache_dir() -> Path:
    """Where downloads go: $PILOTLAB_DATA or ~/.cache/pilotlab."""
    return Path(os.environ.get("PILOTLAB_DATA", Path.home() / ".cache" / "pilotlab")).expanduser()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(urls: Sequence[str], dest: Path, sha256: str, timeout: float = 30.0) -> Path:
    """Fetch the first URL that works into `dest`, verifying `sha256`; return `dest`.

    An existing `dest` with the right digest is reused; one with the wrong digest is an error
    (never silently replaced). Each mirror is tried in order; the last failure is reported.
    """
    if dest.is_file():
        if sha256_file(dest) == sha256:
            return dest
        raise PilotlabError(f"{dest} is in the cache but its sha256 does not match; delete it to download again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    problems = []
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            h = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                expected_len = resp.headers.get("Content-Length")
                got = 0
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    out.write(chunk)
                    h.update(chunk)
                    got += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if expected_len is not None and got != int(expected_len):
                raise PilotlabError(f"truncated download from {url}: {got} of {expected_len} bytes")
            if h.hexdigest() != sha256:
                raise PilotlabError(
                    f"sha256 mismatch for {url}: got {h.hexdigest()[:16]}..., expected {sha256[:16]}..."
                )
            os.replace(tmp, dest)
            return dest
        except PilotlabError as e:
            problems.append(str(e))
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            problems.append(f"cannot download {url}: {reason}")
        finally:
            tmp.unlink(missing_ok=True)
    raise PilotlabError(problems[-1] if problems else f"no URL given for {dest.name}")
