"""Puts tests/e2e and tests/lib on sys.path for the end-to-end tests."""

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
for path in (HERE, HERE.parent / "lib"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
