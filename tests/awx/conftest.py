"""Shared paths and helpers for the AWX and execution-environment checks (no AWX server)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
AWX_DIR = REPO / "awx"


def load_yaml(path: Path):
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="session")
def job_templates() -> list[dict]:
    return load_yaml(AWX_DIR / "job_templates.yml")["awx_job_templates"]


@pytest.fixture(scope="session")
def credentials() -> list[dict]:
    return load_yaml(AWX_DIR / "credentials.yml")["awx_credentials"]


@pytest.fixture(scope="session")
def surveys(job_templates) -> dict[str, dict]:
    return {jt["name"]: load_yaml(AWX_DIR / jt["survey"]) for jt in job_templates}


@pytest.fixture(scope="session")
def awx_collections_path() -> str:
    """Collections path with awx.awx (extracted from the ansible 13.8.0 wheel) and the checkout."""
    extracted = subprocess.run(
        ["bash", str(REPO / "tests/awx/awx_collection.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    return f"{extracted}:{REPO / '.collections'}"


def ansible_env(collections_path: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["NO_COLOR"] = "1"
    if collections_path:
        env["ANSIBLE_COLLECTIONS_PATH"] = collections_path
    return env
