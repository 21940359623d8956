"""Keep the variable table of each role README equal to the role's meta/argument_specs.yml.

    python tests/static/role_readme.py --check [ROLE_DIR ...]   # exit 1 naming each stale README
    python tests/static/role_readme.py --write [ROLE_DIR ...]   # rewrite the blocks in place

Without ROLE_DIR arguments every directory under roles/ is handled. The block between
``<!-- BEGIN ARGUMENT SPEC -->`` and ``<!-- END ARGUMENT SPEC -->`` in roles/<role>/README.md
is generated from the spec: one table per entry point (variable, type, default, required,
description), nested ``options`` as ``parent.child`` rows. Only what the spec says is printed,
and the default of a ``no_log`` option is never printed. Text outside the markers is left
alone; a README without the markers (or without a README, or with an unreadable spec) is an
error in both modes, because the generator will not guess where the table belongs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BEGIN = "<!-- BEGIN ARGUMENT SPEC -->"
END = "<!-- END ARGUMENT SPEC -->"
NOTE = (
    "<!-- Generated from meta/argument_specs.yml by tests/static/role_readme.py --write;"
    " edit the spec, not this table. -->"
)

# Ansible documentation markup -> Markdown.
_MARKUP = [
    (re.compile(r"L\(([^)]+?),\s*([^)]+)\)"), r"[\1](\2)"),
    (re.compile(r"U\(([^)]+)\)"), r"<\1>"),
    (re.compile(r"[CVOMPE]\(([^)]+)\)"), r"`\1`"),
    (re.compile(r"I\(([^)]+)\)"), r"*\1*"),
    (re.compile(r"B\(([^)]+)\)"), r"**\1**"),
    (re.compile(r"RV\(([^)]+)\)"), r"`\1`"),
    (re.compile(r"HORIZONTALLINE"), " "),
]


class SpecError(Exception):
    """The role's spec or README cannot be processed."""


def _cell(text: str) -> str:
    """One Markdown table cell: single line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(value: str) -> str:
    fence = "``" if "`" in value else "`"
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _description(option: dict) -> str:
    desc = option.get("description", "")
    if isinstance(desc, list):
        desc = " ".join(str(part) for part in desc)
    desc = str(desc)
    for pattern, repl in _MARKUP:
        desc = pattern.sub(repl, desc)
    choices = option.get("choices")
    if choices:
        desc = f"{desc} Choices: {', '.join(_code(_render_value(c)) for c in choices)}.".strip()
    return _cell(desc)


def _render_value(value: object) -> str:
    if isinstance(value, str):
        return value if value else '""'
    return json.dumps(value, sort_keys=True)


def _default(option: dict) -> str:
    if "default" not in option or option["default"] is None:
        return "-"
    if option.get("no_log") and option["default"] not in ("", [], {}):
        return "*(secret, not shown)*"
    return _cell(_code(_render_value(option["default"])))


def _type(option: dict) -> str:
    kind = option.get("type", "str")
    if kind == "list" and option.get("elements"):
        return f"list of {option['elements']}"
    return str(kind)


def _rows(options: dict, prefix: str = "") -> list[str]:
    rows = []
    for name, option in options.items():
        if not isinstance(option, dict):
            raise SpecError(f"option {prefix}{name} is not a mapping")
        full = f"{prefix}{name}"
        required = "yes" if option.get("required") else "no"
        rows.append(f"| `{full}` | {_type(option)} | {_default(option)} | {required} | {_description(option)} |")
        if isinstance(option.get("options"), dict):
            rows.extend(_rows(option["options"], f"{full}."))
    return rows


def render_block(spec: dict) -> str:
    """The text between the markers (without them) for one argument spec document."""
    entry_points = (spec or {}).get("argument_specs")
    if not isinstance(entry_points, dict) or not entry_points:
        raise SpecError("no argument_specs entry points")
    parts = [NOTE]
    for entry, data in entry_points.items():
        options = (data or {}).get("options") or {}
        if not isinstance(options, dict):
            raise SpecError(f"entry point {entry}: options is not a mapping")
        if len(entry_points) > 1:
            parts.append(f"\nEntry point `{entry}`:\n")
        parts.append("| Variable | Type | Default | Required | Description |")
        parts.append("|---|---|---|---|---|")
        parts.extend(_rows(options) or ["| *(no variables)* | | | | |"])
    return "\n".join(parts)


def regenerate(readme_text: str, block: str) -> str:
    if readme_text.count(BEGIN) != 1 or readme_text.count(END) != 1:
        raise SpecError(f"README.md needs exactly one {BEGIN} and one {END} line")
    if readme_text.index(END) < readme_text.index(BEGIN):
        raise SpecError("END marker before BEGIN marker")
    head, rest = readme_text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def process(role_dir: Path, write: bool) -> str | None:
    """Returns a problem description, or None when the README is (now) current."""
    role = role_dir.name
    spec_path = role_dir / "meta" / "argument_specs.yml"
    readme = role_dir / "README.md"
    try:
        if not spec_path.is_file():
            raise SpecError("meta/argument_specs.yml is missing")
        if not readme.is_file():
            raise SpecError("README.md is missing")
        try:
            spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise SpecError(f"meta/argument_specs.yml is not valid YAML: {exc}") from exc
        current = readme.read_text(encoding="utf-8")
        wanted = regenerate(current, render_block(spec))
    except SpecError as exc:
        return f"role {role}: {exc}"
    if wanted == current:
        return None
    if write:
        readme.write_text(wanted, encoding="utf-8")
        print(f"role {role}: README.md variable table rewritten")
        return None
    return f"role {role}: README.md variable table is stale; run python tests/static/role_readme.py --write"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 when a README is stale or lacks the markers")
    mode.add_argument("--write", action="store_true", help="rewrite the generated blocks")
    parser.add_argument("roles", nargs="*", type=Path, help="role directories (default: roles/*)")
    args = parser.parse_args(argv)
    roles = args.roles or sorted(p for p in (REPO_ROOT / "roles").iterdir() if p.is_dir())
    if not roles:
        print("no roles found", file=sys.stderr)
        return 2
    problems = [p for p in (process(role.resolve(), args.write) for role in roles) if p]
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems and args.check:
        print(f"{len(roles)} role README(s) match their argument specs")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
