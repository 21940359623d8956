"""Makes the shared test libraries (tests/lib) and this directory's helpers importable."""

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
for path in (HERE, HERE.parent / "lib"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
