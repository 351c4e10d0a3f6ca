"""Load and call a user's own code named as `module:attribute` (`--dataset`, `--model`,
`--sampler`, or the same keys of `[tool.timing-tui]`).

The module is imported the way `python -c "import module"` would from the working
directory, after the table's `pythonpath` folders (a `src/` layout needs no install).
Whatever the user's code raises (even SystemExit) is theirs: `call_user` reports it as a
UserCodeError that names the call that was made and where it was raised, so it is never
mistaken for a bug of timing-tui.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tui_timing.errors import ArtifactError, UsageError

#: What a UserCodeError's problem ends with: whose the error is, and what to do.
YOURS = " (an error in your code: fix it there, or point the table at another function)"
#: Longest rendering of one argument in a reported call.
_ARG_CHARS = 60


class UserCodeError(ArtifactError):
    """An exception raised in the user's own code: `file` is their source file, `problem`
    says which call raised what (docs/artifacts.md#your-own-repo). It is theirs to fix: exit 2, no
    "report this"."""

    def __str__(self) -> str:
        return self.problem


def load_object(spec: str, option: str, pythonpath: Sequence[Path] = ()) -> Any:
    """The object `attribute` of `module` for a `module:attribute[.attribute]` spec.

    Raises UsageError naming the option and what went wrong (the import's own error too,
    since a user's module failing to import is their bug to see).
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise UsageError(f"{option} expects module:name, got {spec!r}")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    for folder in reversed(list(pythonpath)):  # prepended, the first one first
        entry = str(folder)
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
    try:
        module = importlib.import_module(module_name)
    except SystemExit as exc:  # a script that parses its command line when imported
        raise UsageError(
            f"{option} {spec}: importing {module_name!r} called sys.exit({exc.code!r}); "
            "a module that runs its command line at import needs its main code under "
            '`if __name__ == "__main__":`'
        ) from None
    except BaseException as exc:  # the user's module may raise anything while importing
        if isinstance(exc, KeyboardInterrupt):
            raise
        where = ", ".join(str(p) for p in pythonpath) or "the working directory"
        hint = (
            "; is the module's name right?"
            if pythonpath
            else ' (set pythonpath = ["src"] in [tool.timing-tui] for a src/ layout)'
        )
        raise UsageError(
            f"{option} {spec}: cannot import {module_name!r} ({type(exc).__name__}: {exc}); "
            f"searched {where} and the installed packages{hint}"
        ) from None
    try:
        obj = module
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise UsageError(
            f"{option} {spec}: {module_name!r} has no attribute {attribute!r}"
        ) from None
    return obj


class CallMismatch(UserCodeError):
    """timing-tui's call does not fit the plug-in's signature: the TypeError was raised by
    the call itself, before any of their code ran. The problem names the call that was
    made and the signature it missed, so the table can point at the right function."""


def is_from_pretrained(spec: str) -> bool:
    """Whether a plug-in is named as a class's `from_pretrained`: it is called with the
    checkpoint's folder (model or sampler), the HuggingFace way."""
    return spec.rpartition(":")[2].endswith(".from_pretrained")


def call_user(spec: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`func(*args, **kwargs)`, with anything it raises reported as the user's, except a
    call that does not fit their signature (CallMismatch: ours to say, not theirs)."""
    try:
        return func(*args, **kwargs)
    except BaseException as exc:  # theirs, whatever it is (SystemExit included)
        if isinstance(exc, KeyboardInterrupt):
            raise
        tb = exc.__traceback__
        if isinstance(exc, TypeError) and tb is not None and tb.tb_next is None:
            raise call_mismatch(spec, func, args, kwargs, exc) from None
        raise user_error(spec, func, args, kwargs, exc) from None


def call_mismatch(
    spec: str,
    func: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    exc: TypeError,
) -> CallMismatch:
    """The CallMismatch for a call of `func` that Python refused to bind."""
    try:
        signature = str(inspect.signature(func))
    except (TypeError, ValueError):
        signature = "(...)"
    return CallMismatch(
        source_file(func) or spec,
        None,
        f"timing-tui called {describe_call(spec, args, kwargs)}, which does not fit "
        f"{spec}{signature} ({exc}): name a function of the form the contract gives for "
        "this plug-in (`timing-tui check --help`), or adapt this one's parameters",
    )


def user_error(
    spec: str,
    func: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    exc: BaseException,
) -> UserCodeError:
    """The UserCodeError for `exc` raised by `func(*args, **kwargs)`."""
    call = describe_call(spec, args, kwargs)
    detail = str(exc) if not isinstance(exc, SystemExit) else f"exit status {exc.code!r}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    raised_at = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return UserCodeError(
        source_file(func) or spec,
        None,
        f"{call} raised {type(exc).__name__}: {detail}{raised_at}{YOURS}",
    )


def describe_call(spec: str, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    """`spec(arg, name=value)` with each value shortened (tensors as their shape)."""
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"{spec}({', '.join(parts)})"


def _short(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        return f"<{type(value).__name__} {list(shape)}>"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return f"{type(value).__name__}(...)"
    text = repr(value)
    return text if len(text) <= _ARG_CHARS else text[: _ARG_CHARS - 1] + "…"


def source_file(obj: Any) -> str | None:
    """The file a function or class is defined in, when Python knows it."""
    try:
        return inspect.getsourcefile(inspect.unwrap(obj))
    except (TypeError, ValueError):
        return None


class ExitInUserCode(RuntimeError):
    """The user's code called `os._exit` while timing-tui ran it (see `user_code_guard`)."""


@contextlib.contextmanager
def user_code_guard() -> Iterator[None]:
    """While the user's code may run (loading artifacts, running the stages): what it
    prints goes to stderr, and `os._exit` raises instead of ending the process.

    `check --format json` promises exactly one JSON object on stdout, and a plug-in's
    `print()` (or a C extension writing to file descriptor 1) would break it; a plug-in
    that calls `os._exit(0)` would end the run with exit 0 and no report at all.
    """
    sys.stdout.flush()
    saved_fd = os.dup(1)
    saved_stdout, saved_exit = sys.stdout, os._exit
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def refuse_exit(status: int) -> None:
        raise ExitInUserCode(
            f"your code called os._exit({status}) while timing-tui ran it; it was stopped "
            "there and reported instead"
        )

    os._exit = refuse_exit  # type: ignore[assignment]
    try:
        yield
    finally:
        os._exit = saved_exit
        sys.stderr.flush()
        sys.stdout = saved_stdout
        os.dup2(saved_fd, 1)
        os.close(saved_fd)


#: The most of what the user's code printed that `printed_by_user_code` keeps (the end).
PRINTED_MAX_CHARS = 4000


@dataclasses.dataclass
class Printed:
    """What the user's code printed to stdout inside `printed_by_user_code` (set on exit)."""

    text: str = ""


class _ThreadRouted:
    """sys.stdout while threads keep what the user's code prints: a keeping thread's
    writes go to its own buffer, every other thread's to the stream this one replaced."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.buffers: dict[int, list[str]] = {}

    def write(self, text: str) -> int:
        buffer = self.buffers.get(threading.get_ident())
        if buffer is None:
            # Textual's print capture, sys.stdout while the TUI runs, returns None
            self.inner.write(text)
            return len(text)
        buffer.append(text)
        if len(buffer) > 64:  # a plug-in printing without end: only the end is kept
            buffer[:] = ["".join(buffer)[-PRINTED_MAX_CHARS:]]
        return len(text)

    def flush(self) -> None:
        if threading.get_ident() not in self.buffers:
            self.inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_routing_lock = threading.Lock()
_routed: _ThreadRouted | None = None


@contextlib.contextmanager
def printed_by_user_code() -> Iterator[Printed]:
    """While the user's code may run on this thread beside a full-screen UI (the TUI's
    stage thread): what it prints through `sys.stdout` is kept, not sent on (Textual
    drops what is printed while it runs, or a headless run writes it to the real stdout),
    and handed back in the yielded Printed on exit, its last PRINTED_MAX_CHARS
    characters, so that the UI can show it. Other threads print as before. Output
    written to file descriptor 1 directly (a C extension, a child process) is not kept:
    Textual reads the terminal's size from that descriptor, so it stays the terminal."""
    global _routed
    ident = threading.get_ident()
    with _routing_lock:
        if _routed is None:
            _routed = _ThreadRouted(sys.stdout)
            sys.stdout = _routed
        routed = _routed
        outer = routed.buffers.get(ident)
        routed.buffers[ident] = []
    printed = Printed()
    try:
        yield printed
    finally:
        with _routing_lock:
            printed.text = "".join(routed.buffers.pop(ident))[-PRINTED_MAX_CHARS:]
            if outer is not None:
                routed.buffers[ident] = outer
            elif not routed.buffers:
                if sys.stdout is routed:  # unless another redirect replaced it meanwhile
                    sys.stdout = routed.inner
                _routed = None


def exit_now(code: int) -> None:
    """Exit with `code` once the report is out, even if the user's code left a thread
    running that would otherwise keep the process alive for good."""
    if any(
        thread.is_alive() and not thread.daemon
        for thread in threading.enumerate()
        if thread is not threading.main_thread()
    ):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
