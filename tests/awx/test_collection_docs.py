"""Collection documentation renders: ansible-doc for every module, the changelog with antsibull-changelog."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from conftest import REPO, ansible_env, load_yaml

MODULES = sorted(p.stem for p in (REPO / "plugins/modules").glob("*.py") if p.stem != "__init__")


def test_there_are_modules_to_document():
    assert MODULES


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders(module):
    fqcn = f"mlflow_k8s.platform.{module}"
    text = subprocess.run(
        ["ansible-doc", "-t", "module", fqcn], cwd=REPO, env=ansible_env(), capture_output=True, text=True, check=False
    )
    assert text.returncode == 0, text.stderr
    assert "ERROR" not in text.stderr, text.stderr
    assert fqcn in text.stdout
    as_json = subprocess.run(
        ["ansible-doc", "--json", "-t", "module", fqcn],
        cwd=REPO,
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert as_json.returncode == 0, as_json.stderr
    entry = json.loads(as_json.stdout)[fqcn]
    assert entry["doc"]["short_description"]
    assert entry["doc"]["options"]
    assert entry["examples"].strip()
    assert entry["return"]


def test_changelog_builds(tmp_path):
    """antsibull-changelog release on a copy: every fragment and every module ends up in CHANGELOG.rst."""
    version = load_yaml(REPO / "galaxy.yml")["version"]
    dest = tmp_path / "ansible_collections/mlflow_k8s/platform"
    for part in ("galaxy.yml", "changelogs", "plugins", "meta"):
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns("__pycache__", ".plugin-cache.yaml"))
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / part)
    released = (load_yaml(dest / "changelogs/changelog.yaml").get("releases") or {}).keys()
    # Before the release the fragments become its notes; after it, regenerate from changelog.yaml.
    command = ["generate"] if version in released else ["release", "--version", version, "--date", "2026-11-26"]
    result = subprocess.run(
        ["antsibull-changelog", *command],
        cwd=dest,
        env=ansible_env(str(tmp_path)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    changelog = (dest / "CHANGELOG.rst").read_text()
    assert f"v{version}" in changelog
    for module in MODULES:
        assert f"mlflow_k8s.platform.{module} - " in changelog, module
    assert "playbooks/prune_pv.yml - new maintenance playbook" in changelog
