"""Downloads against a loopback HTTP server: good file, wrong checksum, truncated file, server down."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pilotlab.core.errors import PilotlabError
from pilotlab.data import registry
from pilotlab.data.download import download
from pilotlab.data.idx import write_idx

PAYLOAD = b"pilotlab test payload " * 1000


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self) -> None:
        name = self.path.lstrip("/")
        if name == "truncated":  # promise more bytes than are sent, then hang up
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:100])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if name not in self.files:
            self.send_error(404)
            return
        body = self.files[name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_good_download(server, tmp_path) -> None:
    _Handler.files = {"good": PAYLOAD}
    dest = download([server + "good"], tmp_path / "cache" / "good", _sha(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD
    # cached: a second call does not need the server
    assert download(["http://127.0.0.1:9/none"], dest, _sha(PAYLOAD)) == dest


def test_wrong_checksum_leaves_nothing(server, tmp_path) -> None:
    _Handler.files = {"good": PAYLOAD}
    with pytest.raises(PilotlabError, match="sha256 mismatch"):
        download([server + "good"], tmp_path / "c" / "f", _sha(b"other"))
    assert list((tmp_path / "c").iterdir()) == []


def test_truncated_download_leaves_nothing(server, tmp_path) -> None:
    with pytest.raises(PilotlabError, match="truncated download|cannot download"):
        download([server + "truncated"], tmp_path / "c" / "f", _sha(PAYLOAD))
    assert list((tmp_path / "c").iterdir()) == []


def test_server_down(tmp_path) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(PilotlabError, match="cannot download"):
        download([f"http://127.0.0.1:{port}/f"], tmp_path / "c" / "f", _sha(PAYLOAD), timeout=2)
    assert list((tmp_path / "c").iterdir()) == []


def test_mirror_fallback_and_404(server, tmp_path) -> None:
    _Handler.files = {"good": PAYLOAD}
    dest = download([server + "missing", server + "good"], tmp_path / "f", _sha(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD


def test_bad_cached_file_is_not_overwritten(tmp_path) -> None:
    dest = tmp_path / "f"
    dest.write_bytes(b"user data")
    with pytest.raises(PilotlabError, match="does not match; delete it"):
        download(["http://127.0.0.1:9/x"], dest, _sha(PAYLOAD))
    assert dest.read_bytes() == b"user data"


def test_dataset_download_end_to_end(server, tmp_path, monkeypatch) -> None:
    """A whole IDX dataset fetched from the loopback mirror, verified, cached and loaded."""
    rng = np.random.default_rng(0)
    files, sums = {}, {}
    for stem, arr in {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(6, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(4, dtype=np.uint8),
    }.items():
        write_idx(tmp_path / (stem + ".gz"), arr)
        files[stem + ".gz"] = (tmp_path / (stem + ".gz")).read_bytes()
        sums[stem] = _sha(files[stem + ".gz"])
    _Handler.files = files
    src = registry.IdxSource(mirrors=(server,), sha256=sums, classes=tuple("0123456789"))
    monkeypatch.setitem(registry.IDX_SOURCES, "kmnist", src)
    monkeypatch.setenv("PILOTLAB_DATA", str(tmp_path / "cache"))
    ds = registry.load_dataset("kmnist")
    assert ds.train_x.shape == (6, 1, 28, 28) and ds.test_y.tolist() == [0, 1, 2, 3]
    assert sorted(p.name for p in Path(tmp_path / "cache" / "kmnist").iterdir()) == sorted(files)
