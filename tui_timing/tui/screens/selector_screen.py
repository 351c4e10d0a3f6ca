"""Choose among several discovered runs, caches and eval dumps; the stages then re-run.

Under the list: what discovery assumed of the highlighted run (which files make it, which
checkpoint and log it took, and why), and what it passed over and why, so that a wrong
grouping is seen before it is diagnosed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui_timing.tui.pipeline import Selection
from tui_timing.tui.safe_text import lines, markup, styled
from tui_timing.tui.screens.dialog import Dialog

#: Passed-over entries listed under the list before "… and N more".
PASSED_OVER_SHOWN = 8
#: (Selection field, heading, how an item is named)
GROUPS: tuple[tuple[str, str], ...] = (
    ("run", "Runs"),
    ("cache", "Caches"),
    ("eval_dump", "Eval dumps"),
)

if TYPE_CHECKING:
    from tui_timing.artifacts.discovery import Discovered


def _items(found: Discovered, field_name: str) -> list[str]:
    if field_name == "run":
        return [run.name for run in found.runs]
    paths: list[Path] = found.caches if field_name == "cache" else found.evals
    return [_relative(p, found.root) for p in paths]


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


class SelectorScreen(Dialog[Selection | None]):
    """One list with a heading per kind; choosing an entry switches to it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, found: Discovered, selection: Selection) -> None:
        super().__init__(id="selector")
        self._found = found
        self._selection = selection
        self._start_at = 0

    def compose(self) -> ComposeResult:
        options: list[Option] = []
        current_run = 0
        for field_name, heading in GROUPS:
            items = _items(self._found, field_name)
            if not items:
                continue
            options.append(Option(Content.from_markup(f"[b]{heading}[/b]"), disabled=True))
            current = getattr(self._selection, field_name)
            for index, label in enumerate(items):
                mark = "●" if index == current else " "
                if field_name == "run" and index == current:
                    current_run = len(options)
                options.append(Option(styled(f"{mark} {label}"), id=f"{field_name}:{index}"))
        with Vertical(classes="dialog"):
            yield Static("[b]Switch artifacts[/b] [$text-muted](Enter: use · Escape: cancel)[/]")
            listing = OptionList(*options, id="selector-list")
            self._start_at = current_run
            yield listing
            yield Static(id="selector-about")
            yield Static(markup("[$text-muted]found under $root[/]", root=self._found.root))

    def on_mount(self) -> None:
        """Start on the run in use, so one key press moves to another."""
        listing = self.query_one("#selector-list", OptionList)
        if self._start_at:
            listing.highlighted = self._start_at
        self._describe(self._selection.run if self._found.runs else None)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        field_name, _, index = (event.option.id or "").partition(":")
        if field_name == "run":
            self._describe(int(index))

    def _describe(self, run: int | None) -> None:
        """Show the assumptions of run `run` and what discovery passed over."""
        shown: list[Content] = []
        if run is not None and 0 <= run < len(self._found.runs):
            shown += [
                markup("[dim]read as[/] $line", line=a.line())
                for a in self._found.runs[run].assumptions
            ]
        passed = self._found.passed_over
        if passed:
            shown.append(markup("[b]Passed over[/b] ($n)", n=len(passed)))
            shown += [
                markup("  $path: $why", path=_relative(p.path, self._found.root), why=p.reason)
                for p in passed[:PASSED_OVER_SHOWN]
            ]
            if len(passed) > PASSED_OVER_SHOWN:
                shown.append(styled(f"  … and {len(passed) - PASSED_OVER_SHOWN} more"))
        about = self.query_one("#selector-about", Static)
        about.display = bool(shown)
        about.update(lines(shown))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        field_name, _, index = (event.option.id or "").partition(":")
        self.dismiss(replace(self._selection, **{field_name: int(index)}))

    def action_cancel(self) -> None:
        self.dismiss(None)
