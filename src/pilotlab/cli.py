"""The `pilotlab` console script: ``pilotlab <pillar> <verb> [--field value ...] [--config FILE]``.

Each pillar module named in `PILLARS` exposes ``COMMANDS: dict[str, Command]`` (verb -> config
class + runner; the verb ``""`` means the pillar takes no verb, as `tour` and `report`; a `Group` holds
sub-verbs, as ``gan inpaint train``). Only the
chosen pillar is imported, so `pilotlab --help` stays fast. Exit codes: 0 ok, 2 bad input or config,
1 training failure or internal error, 130 interrupted.

`main` is the one error boundary: whatever goes wrong prints one line on stderr. An unexpected exception
(a bug, not bad input) prints its type and message plus where its traceback was written (the run
directory being written, else the temp folder); `--debug` anywhere on the command line (or
PILOTLAB_DEBUG=1) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import importlib.util
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import NoReturn

from pilotlab import __version__
from pilotlab.core import registry
from pilotlab.core.command import Command, Group
from pilotlab.core.config import RunConfig, add_arguments, build_config, given_values, load_config_file
from pilotlab.core.errors import PilotlabError, TrainingError

PILLARS: dict[str, tuple[str, str]] = {
    "data": ("pilotlab.data.cli", "datasets: list, fetch, inspect"),
    "ssl": ("pilotlab.ssl.cli", "self-supervised learning: autoencoders, SimCLR, probes"),
    "gan": ("pilotlab.gan.cli", "GANs: train, eval (Frechet distance), sample, augment"),
    "rl": ("pilotlab.rl.cli", "reinforcement learning: tabular, DQN, PPO, TD3, MCTS"),
    "drive": ("pilotlab.drive.cli", "autonomous driving in highway-env: sensors to control, RL drivers"),
    "text": ("pilotlab.text.cli", "character transformers: pretrain (causal gpt, masked), sample, eval"),
    "tour": ("pilotlab.tour", "run all four pillars end to end and write a report"),
    "report": ("pilotlab.report.cli", "rebuild the HTML report of a run directory"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _available() -> dict[str, tuple[str, str]]:
    out = {}
    for name, (module, help_) in PILLARS.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            out[name] = (module, help_)
    return out


def _flag_value(argv: list[str], flag: str) -> str | None:
    """The value given to `flag` (``--flag V`` or ``--flag=V``) on the command line, last one wins."""
    value = None
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith(flag + "="):
            value = a.split("=", 1)[1]
    return value


def _resumed_config(argv: list[str]) -> dict[str, object] | None:
    """The saved config fields of the run that ``--resume --run-dir DIR`` continues (None otherwise)."""
    run_dir = _flag_value(argv, "--run-dir")
    if "--resume" not in argv or not run_dir:
        return None
    from pilotlab.core import runfiles

    cfg_path = Path(run_dir) / "config.json"
    if not cfg_path.is_file():
        return None  # RunDir.create names the problem
    return runfiles.read_json(cfg_path, runfiles.CONFIG_JSON)["config"]


def _variant(cmd: Command, argv: list[str]) -> type:
    """The config class of `cmd` for this command line (``--algo X`` style choice)."""
    if not cmd.choices:
        return cmd.config_class()
    flag = "--" + cmd.variant_flag.replace("_", "-")
    choice = cmd.default
    saved = _resumed_config(argv)  # a resumed run keeps its own choice unless the line names one
    if saved is not None and isinstance(saved.get(cmd.variant_flag), str):
        choice = str(saved[cmd.variant_flag])
    for i, a in enumerate(argv):  # a config file may choose; the flag overrides it
        if a == "--config" and i + 1 < len(argv):
            from_file = load_config_file(argv[i + 1])
            choice = str(from_file.get(cmd.variant_flag, from_file.get(flag[2:], choice)))
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            choice = argv[i + 1]
        elif a.startswith(flag + "="):
            choice = a.split("=", 1)[1]
    return registry.config_class(cmd.choices, choice)


def _list_variants(parser: argparse.ArgumentParser, cmd: Command, chosen: type) -> None:
    """Give the variant flag (--algo, --method, --model) every choice, each with its one-line description."""
    flag = "--" + cmd.variant_flag.replace("_", "-")
    action = next(a for a in parser._actions if flag in a.option_strings)
    names = list(cmd.variants)
    action.choices = names
    action.metavar = "{" + ",".join(names) + "}"
    lines = "; ".join(f"{n}: {cmd.descriptions.get(n, '')}".rstrip(": ") for n in names)
    shown = getattr(chosen, cmd.variant_flag)
    action.help = f"{lines} (default: {cmd.default}; the fields below are those of {shown})".replace("%", "%%")


def _add_command(parser: argparse.ArgumentParser, cmd: Command, argv: list[str]) -> None:
    config = _variant(cmd, argv)
    if cmd.choices:
        parser.epilog = (
            f"Fields shown are those of --{cmd.variant_flag.replace('_', '-')} "
            f"{getattr(config, cmd.variant_flag, cmd.default)}; each choice has its own."
        )
    add_arguments(parser, config)
    if cmd.choices:  # the choice flag offers every variant, not just the chosen class's one value
        _list_variants(parser, cmd, config)
    parser.set_defaults(_config_class=config)
    parser.add_argument(
        "--config",
        dest="_config_file",
        metavar="FILE",
        default=None,
        help="TOML, YAML or JSON file of field values (flags override it)",
    )
    parser.set_defaults(_command=cmd)


def build_parser(selected: str | None = None, argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; verbs are added only for the `selected` pillar."""
    parser = _Parser(
        prog="pilotlab",
        description="pilotlab: self-supervised learning, GANs, reinforcement learning and a driving stack. "
        "Usage: pilotlab <pillar> <verb> [--field value ...] [--config FILE]",
    )
    parser.add_argument("--version", action="version", version=f"pilotlab {__version__}")
    sub = parser.add_subparsers(dest="_pillar", metavar="PILLAR", required=True, parser_class=_Parser)
    for name, (module, help_) in _available().items():
        sp = sub.add_parser(name, help=help_, description=help_)
        if name != selected:
            continue
        commands: dict[str, Command] = importlib.import_module(module).COMMANDS
        if list(commands) == [""]:
            _add_command(sp, commands[""], argv or [])
            continue
        verbs = sp.add_subparsers(dest="_verb", metavar="VERB", required=True, parser_class=_Parser)
        for verb, cmd in commands.items():
            if isinstance(cmd, Group):  # pilotlab <pillar> <verb> <sub-verb>
                group = verbs.add_parser(verb, help=cmd.help, description=cmd.help)
                inner = group.add_subparsers(dest="_subverb", metavar="VERB", required=True, parser_class=_Parser)
                for sub_verb, sub_cmd in cmd.commands.items():
                    if argv and verb in argv and sub_verb in argv:
                        _add_command(inner.add_parser(sub_verb, help=sub_cmd.help, description=sub_cmd.help),
                                     sub_cmd, argv)
                    else:
                        inner.add_parser(sub_verb, help=sub_cmd.help, description=sub_cmd.help, add_help=False)
            elif argv and verb in argv:
                _add_command(verbs.add_parser(verb, help=cmd.help, description=cmd.help), cmd, argv)
            else:
                verbs.add_parser(verb, help=cmd.help, description=cmd.help, add_help=False)
    return parser


def config_of(ns: argparse.Namespace, argv: list[str]) -> object:
    """The config a parsed command line asks for: dataclass defaults < the command's preset < --config file <
    flags; a resumed run starts from its config.json instead of the defaults and the preset."""
    cmd: Command = ns._command
    values = {k: v for k, v in vars(ns).items() if not k.startswith("_")}
    base = _resumed_config(argv) if issubclass(ns._config_class, RunConfig) else None
    preset: dict[str, object] = {}
    where = ""
    if cmd.preset is not None and base is None:  # a resumed run's config.json already holds its preset's values
        preset, where = cmd.preset(ns._config_class, given_values(values, ns._config_file))
    return build_config(ns._config_class, values, ns._config_file, base=base, preset=preset, preset_source=where)


def _one_line(text: str) -> str:
    """`text` on one line: newlines and other control characters (from file names, say) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text.strip())


def _report_crash(exc: BaseException) -> str:
    """Write the traceback of an unexpected exception; returns where."""
    from pilotlab.core.runfiles import ACTIVE

    text = "".join(traceback.format_exception(exc))
    for folder in [*reversed(ACTIVE), Path(tempfile.gettempdir())]:
        name = "error.log" if folder in ACTIVE else f"pilotlab-error-{os.getpid()}.log"
        try:
            path = folder / name
            with open(path, "a", encoding="utf-8") as f:
                f.write(text)
            return str(path)
        except OSError:
            continue
    return "nowhere (no writable folder)"


def main(argv: list[str] | None = None) -> int:
    # Headless by default: simulators render to arrays, never to a window or a sound device.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("PILOTLAB_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    selected = next((a for a in argv if not a.startswith("-")), None)
    from pilotlab.core.runfiles import ACTIVE

    ACTIVE.clear()  # only this command's runs may receive its traceback
    try:
        parser = build_parser(selected, argv)
        ns = parser.parse_args(argv)
        if not hasattr(ns, "_command"):
            parser.error(f"choose a verb: pilotlab {ns._pillar} --help")
        cmd: Command = ns._command
        code = cmd.run(config_of(ns, argv))
        if "torch" in sys.modules:  # leave torchrun's process group cleanly (no-op in one process)
            from pilotlab.core import distributed

            distributed.cleanup()
        return int(code or 0)
    except PilotlabError as e:
        print(f"error: {_one_line(str(e))}", file=sys.stderr)
        return 2
    except TrainingError as e:
        print(f"error: {_one_line(str(e))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the last checkpoint is kept", file=sys.stderr)
        return 130
    except OSError as e:
        return _os_error(e, debug)
    except (MemoryError, RuntimeError) as e:
        if isinstance(e, MemoryError) or "can't allocate memory" in str(e) or "not enough memory" in str(e):
            print("error: out of memory: the config asks for more memory than this machine has; lower the model, "
                  "batch or buffer sizes", file=sys.stderr)
            return 2
        return _internal(e, debug)
    except Exception as e:
        return _internal(e, debug)


def _os_error(e: OSError, debug: bool) -> int:
    """A file-system error names the file: a full disk stops the run (exit 1, checkpoints kept), a path that
    cannot be read or written is bad input (exit 2)."""
    if e.filename is None:
        return _internal(e, debug)
    where = _one_line(repr(str(e.filename)))
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        print(f"error: no space left on the device writing {where}; free some space and rerun with --resume "
              "(the last checkpoint is kept)", file=sys.stderr)
        return 1
    print(f"error: cannot use {where}: {e.strerror or e}; check the path and its permissions", file=sys.stderr)
    return 2


def _internal(e: BaseException, debug: bool) -> int:
    """One line for a bug (exit 1): what happened and where the traceback is."""
    if debug:
        traceback.print_exception(e)
        return 1
    where = _report_crash(e)
    message = _one_line(f"{type(e).__name__}: {e}")[:300]
    print(f"error: internal error ({message}); traceback in {where!r}; rerun with --debug to see it, and please "
          "report it", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
