"""Make ``ansible_collections.mlflow_k8s.platform`` importable from the checkout."""

import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
