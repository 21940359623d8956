"""playbooks/awx_configure.yml with the real awx.awx collection: syntax, lint, early validation."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import REPO, ansible_env

GOOD_VARS = {
    "awx_configure_scm_url": "https://github.com/example/mlflow-k8s-platform.git",
    "awx_configure_ee_image": "registry.example.com/mlflow-k8s-ee:1.0.0",
    "awx_configure_k8s_host": "https://203.0.113.10",
    "awx_configure_k8s_bearer_token": "token-for-tests",
    "awx_configure_gcp_enabled": False,
}


def _run(args, collections_path, **kwargs):
    return subprocess.run(
        args, cwd=REPO, env=ansible_env(collections_path), capture_output=True, text=True, check=False, **kwargs
    )


def test_syntax_check_resolves_awx_modules(awx_collections_path):
    result = _run(["ansible-playbook", "--syntax-check", "playbooks/awx_configure.yml"], awx_collections_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_profile(awx_collections_path):
    result = _run(["ansible-lint", "--offline", "playbooks/awx_configure.yml", "awx/"], awx_collections_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Profile 'production' was required, and it passed" in result.stderr


def _play(awx_collections_path, extra_vars):
    # AWX is never reached: the CONTROLLER_HOST below is a closed port, and every case here must
    # fail during validation, before the first awx.awx task.
    env_path = awx_collections_path
    return _run(
        ["ansible-playbook", "playbooks/awx_configure.yml", "-e", json.dumps(extra_vars)],
        env_path,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("drop", "change", "named"),
    [
        ("awx_configure_scm_url", {}, "awx_configure_scm_url"),
        ("awx_configure_k8s_bearer_token", {}, "awx_configure_k8s_bearer_token"),
        (None, {"awx_configure_ee_pull": "sometimes"}, "awx_configure_ee_pull"),
        (None, {"awx_configure_ee_image": "registry.example.com/mlflow-k8s-ee:latest"}, "awx_configure_ee_image"),
        (None, {"awx_configure_ee_image": "registry.example.com/mlflow-k8s-ee"}, "awx_configure_ee_image"),
        (None, {"awx_configure_gcp_enabled": True}, "awx_configure_gcp_service_account_email"),
        (None, {"awx_configure_k8s_verify_ssl": "perhaps"}, "awx_configure_k8s_verify_ssl"),
    ],
)
def test_bad_input_fails_before_any_awx_call(awx_collections_path, drop, change, named):
    extra = {k: v for k, v in GOOD_VARS.items() if k != drop} | change
    result = _play(awx_collections_path, extra)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert named in out, out
    assert "TASK [Organization]" not in out, out
    assert "token-for-tests" not in out


def test_valid_input_reaches_awx(awx_collections_path, monkeypatch):
    # With valid input the play gets past validation and the first awx.awx task tries to
    # connect; the closed loopback port proves the AWX objects are the next thing it does.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("CONTROLLER_HOST", f"https://127.0.0.1:{port}")
    monkeypatch.setenv("CONTROLLER_OAUTH_TOKEN", "not-a-real-token")
    result = _play(awx_collections_path, GOOD_VARS)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "TASK [Organization]" in out, out
    assert "token-for-tests" not in out
