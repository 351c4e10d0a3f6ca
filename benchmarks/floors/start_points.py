"""Run a TUI in this process and end it, at once, at one point of its start.

    python benchmarks/floors/start_points.py POINT OUT -- textual
    python benchmarks/floors/start_points.py POINT OUT -- timing-tui ARGS...

Under `valgrind --tool=cachegrind` the process's instruction count then covers its start
up to that point, exactly and at any load (bench_start_instructions.py takes the
differences between successive points). The points, in the order a launch reaches them:

- `cli`: the command line imported (timing-tui only);
- `lookup`: the launch's look in the results cache done (timing-tui only);
- `app`: the app's module imported (for the floor, Textual's `App`);
- `init`: the app constructed;
- `run`: `App.run` entered;
- `frame`: the first frame composed and handed to Textual's driver (`App._display`).

OUT is written (the point's name) just before the process exits, so that the benchmark
knows it got there. Nothing of Textual or timing-tui is imported here before the target.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any

POINTS = ("cli", "lookup", "app", "init", "run", "frame")


class Stop:
    """Ends the process at one point: writes OUT, then `os._exit(0)` (no teardown)."""

    def __init__(self, point: str, out: str) -> None:
        self.point = point
        self.out = out

    def at(self, point: str) -> None:
        if point == self.point:
            with open(self.out, "w") as f:
                f.write(point)
            os._exit(0)

    def after(self, point: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """`func`, stopping here once it returns."""

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = func(*args, **kwargs)
            self.at(point)
            return result

        return wrapped

    def before(self, point: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """`func`, stopping here as it is called."""

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self.at(point)
            return func(*args, **kwargs)

        return wrapped


class OnImport(importlib.abc.MetaPathFinder):
    """Calls `patch(module)` once each named module is imported."""

    def __init__(self, patches: dict[str, Callable[[Any], None]]) -> None:
        self.patches = patches

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        patch = self.patches.pop(name, None)
        if patch is None:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            load(module)
            patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def main() -> None:
    point, out, separator, target, *args = sys.argv[1:]
    if point not in POINTS or separator != "--":
        sys.exit(f"usage: start_points.py {{{','.join(POINTS)}}} OUT -- textual|timing-tui ...")
    stop = Stop(point, out)

    def textual_app(module: Any) -> None:
        module.App.run = stop.before("run", module.App.run)
        module.App._display = stop.after("frame", module.App._display)

    def timing_app(module: Any) -> None:
        stop.at("app")
        module.TimingApp.__init__ = stop.after("init", module.TimingApp.__init__)

    def look_up(module: Any) -> None:
        module.look_up = stop.after("lookup", module.look_up)

    patches = {"textual.app": textual_app}
    if target == "timing-tui":
        patches["tui_timing.tui.app"] = timing_app
        patches["tui_timing.tui.launch_lookup"] = look_up
    sys.meta_path.insert(0, OnImport(patches))
    if target == "textual":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from minimal_textual import Minimal

        stop.at("app")
        app = Minimal()
        stop.at("init")
        app.run()
    elif target == "timing-tui":
        from tui_timing.cli import main as cli

        stop.at("cli")
        cli(args, prog_name="timing-tui")
    else:
        sys.exit(f"unknown target {target!r}: textual or timing-tui")


if __name__ == "__main__":
    main()
