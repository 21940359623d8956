"""execution-environment.yml renders with ansible-builder; meta/execution-environment.yml introspects."""

from __future__ import annotations

import re
import subprocess

import pytest
from conftest import REPO, load_yaml

BUILDER_CREATE = ["ansible-builder", "create", "-f", "execution-environment.yml"]


def _pins(path):
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#;]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    out = tmp_path_factory.mktemp("ee")
    result = subprocess.run(
        [*BUILDER_CREATE, "-c", str(out), "--output-filename", "Containerfile"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_definition_is_version_3():
    definition = load_yaml(REPO / "execution-environment.yml")
    assert definition["version"] == 3
    assert definition["dependencies"]["python"] == "requirements.txt"
    assert definition["dependencies"]["system"] == "bindep.txt"


def test_ansible_core_matches_the_tested_pin():
    definition = load_yaml(REPO / "execution-environment.yml")
    core = definition["dependencies"]["ansible_core"]["package_pip"]
    assert core == f"ansible-core=={_pins(REPO / 'requirements.txt')['ansible-core']}"


def test_context_holds_dependencies(context):
    build = context / "_build"
    assert (build / "requirements.txt").read_text() == (REPO / "requirements.txt").read_text()
    assert (build / "bindep.txt").read_text() == (REPO / "bindep.txt").read_text()
    assert (build / "helm" / "go.sum").is_file()


def test_helm_is_built_at_the_pinned_version(context):
    containerfile = (context / "Containerfile").read_text()
    versions = dict(
        line.split("=", 1) for line in (REPO / "tests/cluster/versions.env").read_text().splitlines() if "=" in line
    )
    go_mod = (context / "_build/helm/go.mod").read_text()
    assert re.search(rf"^\s*helm\.sh/helm/v4 v{re.escape(versions['HELM_VERSION'])}\b", go_mod, re.M), go_mod
    assert re.search(r"^FROM docker\.io/library/golang:[0-9.]+-bookworm AS helm_build$", containerfile, re.M)
    assert "go build" in containerfile and "helm.sh/helm/v4/cmd/helm" in containerfile
    final = containerfile.split("FROM base AS final", 1)[1]
    assert "COPY --from=helm_build /out/helm /usr/local/bin/helm" in final
    assert "RUN helm version --short" in final
    # The Go stage must not end the base stage before the Python interpreter is installed.
    base = containerfile.split("FROM docker.io/library/golang", 1)[0]
    assert "RUN /output/scripts/pip_install $PYCMD" in base


def test_collection_metadata_introspects(tmp_path):
    meta = load_yaml(REPO / "meta/execution-environment.yml")
    for key in ("python", "system"):
        assert (REPO / meta["dependencies"][key]).is_file()
    pip_out, bindep_out = tmp_path / "pip.txt", tmp_path / "bindep.txt"
    result = subprocess.run(
        [
            "ansible-builder",
            "introspect",
            str(REPO / ".collections"),
            "--write-pip",
            str(pip_out),
            "--write-bindep",
            str(bindep_out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    pip_lines = pip_out.read_text()
    # Builder drops ansible/ansible-core from a collection's requirements; the rest comes through.
    for name, version in _pins(REPO / "requirements.txt").items():
        if name in {"ansible", "ansible-core"}:
            assert f"{name}==" not in pip_lines
        else:
            assert f"{name}=={version}" in pip_lines, pip_lines
    assert "mlflow_k8s.platform" in pip_lines
    assert "openssl" in bindep_out.read_text()
