"""tests/static/role_readme.py: the README variable tables generated from argument specs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

TOOL = REPO / "tests/static/role_readme.py"

SPEC = textwrap.dedent(
    """\
    ---
    argument_specs:
      main:
        options:
          demo_name:
            type: str
            default: mlflow
            description:
              - Name of the C(thing), shown | piped.
              - Second sentence.
          demo_mode:
            type: str
            default: a
            choices: [a, b]
            description: Mode.
          demo_password:
            type: str
            default: hunter2-never-shown
            no_log: true
            description: A secret.
          demo_hosts:
            type: list
            elements: str
            required: true
            description: Hosts.
          demo_limits:
            type: dict
            default: {cpu: 1}
            description: Limits.
            options:
              cpu:
                type: int
                description: CPUs.
    """
)
README = (
    "# demo\n\nIntro stays.\n\n<!-- BEGIN ARGUMENT SPEC -->\nold table\n<!-- END ARGUMENT SPEC -->\n\nOutro stays.\n"
)


def _run(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, check=False)


@pytest.fixture
def role(tmp_path):
    role = tmp_path / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "meta/argument_specs.yml").write_text(SPEC)
    (role / "README.md").write_text(README)
    return role


def test_check_names_the_stale_role(role):
    result = _run("--check", role)
    assert result.returncode == 1
    assert "role demo: README.md variable table is stale" in result.stderr


def test_write_then_check(role):
    assert _run("--write", role).returncode == 0
    text = (role / "README.md").read_text()
    assert _run("--check", role).returncode == 0
    assert text.startswith("# demo\n\nIntro stays.\n\n<!-- BEGIN ARGUMENT SPEC -->\n")
    assert text.endswith("<!-- END ARGUMENT SPEC -->\n\nOutro stays.\n")
    assert "old table" not in text
    assert "| Variable | Type | Default | Required | Description |" in text
    assert "| `demo_name` | str | `mlflow` | no | Name of the `thing`, shown \\| piped. Second sentence. |" in text
    assert "| `demo_mode` | str | `a` | no | Mode. Choices: `a`, `b`. |" in text
    assert "| `demo_hosts` | list of str | - | yes | Hosts. |" in text
    assert '| `demo_limits` | dict | `{"cpu": 1}` | no | Limits. |' in text
    assert "| `demo_limits.cpu` | int | - | no | CPUs. |" in text
    assert "hunter2-never-shown" not in text
    assert "| `demo_password` | str | *(secret, not shown)* | no | A secret. |" in text


def test_spec_change_makes_readme_stale(role):
    assert _run("--write", role).returncode == 0
    spec = role / "meta/argument_specs.yml"
    spec.write_text(spec.read_text().replace("default: mlflow", "default: tracking"))
    result = _run("--check", role)
    assert result.returncode == 1
    assert "role demo:" in result.stderr


@pytest.mark.parametrize(
    ("readme", "message"),
    [
        ("# demo\n\nno markers\n", "needs exactly one"),
        ("<!-- END ARGUMENT SPEC -->\n<!-- BEGIN ARGUMENT SPEC -->\n", "END marker before BEGIN"),
        (None, "README.md is missing"),
    ],
)
def test_missing_markers_fail_in_both_modes(role, readme, message):
    if readme is None:
        (role / "README.md").unlink()
    else:
        (role / "README.md").write_text(readme)
    for mode in ("--check", "--write"):
        result = _run(mode, role)
        assert result.returncode == 1
        assert f"role demo: {message}" in result.stderr or message in result.stderr


def test_broken_spec_is_reported(role):
    (role / "meta/argument_specs.yml").write_text("argument_specs:\n  main: [\n")
    result = _run("--check", role)
    assert result.returncode == 1
    assert "role demo: meta/argument_specs.yml is not valid YAML" in result.stderr
