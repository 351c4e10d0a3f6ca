"""`python -m tui_timing` is `timing-tui`."""

from tui_timing.cli import main

main(prog_name="timing-tui")
