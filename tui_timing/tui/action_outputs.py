"""Where a suggested command writes, so that the app can show what it made and remove what
a cancelled one left half-written.

`timing-tui train --out RUN_DIR` makes a run folder and `timing-tui build-cache --out
ROOT --id ID --split S` a cache at `ROOT/ID/S_timing.pt`. Before the command starts, the
paths under those folders (and the folders above them, up to the working directory) are
listed; when it is cancelled, every path that was not on that list is removed, deepest
first. What existed before is never touched (a file the command rewrote in place keeps
what it wrote: the trainer's own files are new folders by design).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ActionOutputs:
    """A command's outputs, as absolute paths (None where it writes none of that kind)."""

    run_dir: Path | None = None
    cache: Path | None = None

    @property
    def roots(self) -> list[Path]:
        """The folders the command writes into."""
        roots = [self.run_dir] if self.run_dir is not None else []
        if self.cache is not None:
            roots.append(self.cache.parent)
        return roots

    def existing(self, cwd: Path) -> set[Path]:
        """Every path that exists now under the roots, and the roots' ancestors that exist."""
        found: set[Path] = set()
        for root in self.roots:
            for ancestor in _ancestors(root, cwd):
                if ancestor.exists():
                    found.add(ancestor)
            found.update(_tree(root))
        return found

    def remove_new(self, before: set[Path], cwd: Path) -> list[Path]:
        """Remove what was made since `before` was listed; return the topmost removed paths."""
        removed: set[Path] = set()
        for root in self.roots:
            candidates = [*_tree(root), *_ancestors(root, cwd)]
            for path in sorted(candidates, key=lambda p: len(p.parts), reverse=True):
                if path in before or not os.path.lexists(path):
                    continue
                if path.is_dir() and not path.is_symlink():
                    if any(path.iterdir()):
                        continue  # holds something that was there before
                    path.rmdir()
                else:
                    path.unlink()
                removed.add(path)
        return sorted(p for p in removed if p.parent not in removed)


def outputs_of(command: str, cwd: Path) -> ActionOutputs:
    """The outputs of a `timing-tui train` or `build-cache` command line (none otherwise,
    or when it cannot be parsed)."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return ActionOutputs()
    if len(argv) < 2 or Path(argv[0]).name != "timing-tui":
        return ActionOutputs()
    options = _options(argv[2:])
    out = options.get("--out")
    if out is None:
        return ActionOutputs()
    folder = Path(os.path.normpath(cwd.absolute() / out))
    if argv[1] == "train":
        return ActionOutputs(run_dir=folder)
    if argv[1] == "build-cache" and "--id" in options and "--split" in options:
        cache = folder / options["--id"] / f"{options['--split']}_timing.pt"
        return ActionOutputs(cache=cache)
    return ActionOutputs()


def _options(args: list[str]) -> dict[str, str]:
    """`--name value` and `--name=value` pairs (the last one wins, as click does)."""
    options: dict[str, str] = {}
    for index, arg in enumerate(args):
        if not arg.startswith("--"):
            continue
        name, equals, value = arg.partition("=")
        if equals:
            options[name] = value
        elif index + 1 < len(args):
            options[name] = args[index + 1]
    return options


def _ancestors(root: Path, cwd: Path) -> list[Path]:
    """`root` and the folders above it, stopping at the working directory."""
    chain = [root]
    for parent in root.parents:
        if cwd not in parent.parents:
            break
        chain.append(parent)
    return chain


def _tree(root: Path) -> list[Path]:
    """Every path under `root`, `root` itself excluded (symbolic links are not followed)."""
    if not root.is_dir() or root.is_symlink():
        return []
    return [Path(folder) / name for folder, dirs, files in os.walk(root) for name in dirs + files]
