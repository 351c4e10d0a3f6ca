"""The build-cache floor: import torch and pandas, then `pandas.read_csv` every session file.

This is the least any Python tool that turns these CSV files into a torch cache must do:
start, import its libraries and parse the text. Files are found as timing-tui finds them
(every non-hidden regular file, recursively; gzip recognised by its first bytes).
"""

from __future__ import annotations

import os
import sys

import pandas
import torch  # noqa: F401  (imported for its start-up cost: the floor of any torch tool)


def main(raw_dir: str) -> None:
    rows = 0
    for folder, dirs, names in os.walk(raw_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = os.path.join(folder, name)
            if name.startswith(".") or not os.path.isfile(path):
                continue
            with open(path, "rb") as handle:
                gzipped = handle.read(2) == b"\x1f\x8b"
            rows += len(pandas.read_csv(path, compression="gzip" if gzipped else None))
    print(rows)


if __name__ == "__main__":
    main(sys.argv[1])
