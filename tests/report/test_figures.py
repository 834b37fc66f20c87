"""Output files: an extension no writer knows or a missing folder is refused up front, in one line."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from clihelp import refused
from pilotlab.core.errors import PilotlabError
from pilotlab.report.figures import GIF_EXTENSIONS, check_output_file, save_gif, save_image_grid


def test_gan_sample_unknown_extension_is_refused_before_loading(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(["gan", "sample", str(tmp_path / "no-run"), "--out", str(tmp_path / "grid.xyz")], capsys)
    assert "--out" in err and "grid.xyz" in err and ".png" in err
    assert not (tmp_path / "grid.xyz").exists()


def test_gan_sample_missing_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(["gan", "sample", str(tmp_path / "no-run"), "--out", str(tmp_path / "no" / "g.png")],
                           capsys)
    assert "--out" in err and "does not exist" in err and not (tmp_path / "no").exists()


def test_file_name_with_a_newline_stays_on_one_line(tmp_path: Path) -> None:
    with pytest.raises(PilotlabError) as err:
        check_output_file(tmp_path / "a\nb.abc", "--video", GIF_EXTENSIONS)
    assert "\n" not in str(err.value) and "a\\nb.abc" in str(err.value)


def test_folder_as_output_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PilotlabError, match="is a folder"):
        check_output_file(tmp_path, "--out")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_folder_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(PilotlabError, match="not writable"):
            check_output_file(locked / "g.png", "--out")
    finally:
        locked.chmod(0o700)


def test_writers_refuse_unknown_extensions_without_writing(tmp_path: Path) -> None:
    with pytest.raises(PilotlabError, match="extension '.xyz'"):
        save_image_grid(torch.zeros(2, 1, 4, 4), tmp_path / "new" / "grid.xyz")
    with pytest.raises(PilotlabError, match=r"\.gif"):
        save_gif([np.zeros((4, 4, 3), np.uint8)], tmp_path / "new" / "clip.abc")
    assert not (tmp_path / "new").exists()
    assert save_image_grid(torch.zeros(2, 1, 4, 4), tmp_path / "grid.jpg").is_file()
