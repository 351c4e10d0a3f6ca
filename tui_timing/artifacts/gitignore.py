"""Which paths a repository's `.gitignore` files ignore: a small matcher for the patterns
people write (`name`, `dir/`, `*.ext`, `/anchored`, `a/**/b`, `!negation`), so discovery can
tell the files a repository keeps from the copies and outputs it ignores, without git.

Git's rules, as far as they go here: a pattern without a slash (but a trailing one) matches
a name at any depth below its `.gitignore`; one with a slash matches from that folder; a
trailing slash matches folders only; `*` and `?` stay within a name, `**` crosses folders;
the last pattern that matches decides, deeper `.gitignore` files after shallower ones. What
is left out: escapes (`\\#`, `\\!`, trailing `\\ `) and `core.excludesFile`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pattern:
    """One line of a `.gitignore`, made into a regex over paths relative to its folder."""

    base: Path
    text: str
    regex: re.Pattern[str]
    negated: bool
    folders_only: bool

    def matches(self, path: Path, is_dir: bool) -> bool:
        if self.folders_only and not is_dir:
            return False
        try:
            relative = path.relative_to(self.base).as_posix()
        except ValueError:
            return False
        return self.regex.fullmatch(relative) is not None


def read_patterns(folder: Path) -> list[Pattern]:
    """The patterns of `folder/.gitignore`, in file order; none when it has none (or it
    cannot be read: a repository's ignore file is a hint, never a reason to stop)."""
    try:
        text = (folder / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    patterns = []
    for line in text.splitlines():
        pattern = parse(folder, line)
        if pattern is not None:
            patterns.append(pattern)
    return patterns


def parse(base: Path, line: str) -> Pattern | None:
    """A `.gitignore` line as a Pattern; None for a blank line or a comment."""
    text = line.rstrip()
    if not text or text.startswith("#"):
        return None
    negated = text.startswith("!")
    body = text[1:] if negated else text
    folders_only = body.endswith("/")
    body = body.rstrip("/")
    if not body:
        return None
    anchored = "/" in body
    body = body.lstrip("/")
    regex = _translate(body)
    if not anchored:
        regex = f"(?:.*/)?{regex}"
    return Pattern(base, text, re.compile(regex), negated, folders_only)


def _translate(glob: str) -> str:
    """A glob as a regex: `**/` any folders (none too), `/**` everything below, `*` and `?`
    within one name, `[...]` a character class."""
    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[" and (end := glob.find("]", i + 2)) != -1:
            inner = glob[i + 1 : end]
            inner = "^" + inner[1:] if inner.startswith("!") else inner
            out.append(f"[{inner.replace(chr(92), chr(92) * 2)}]")
            i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


def ignored_by(patterns: list[Pattern], path: Path, is_dir: bool) -> Pattern | None:
    """The pattern that ignores `path` (the last that matches, unless it is a negation),
    else None. `patterns` are in precedence order: shallower `.gitignore` files first."""
    decided: Pattern | None = None
    for pattern in patterns:
        if pattern.matches(path, is_dir):
            decided = pattern
    return decided if decided is not None and not decided.negated else None
