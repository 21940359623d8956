"""Check that each role's meta/argument_specs.yml matches its defaults/main.yml.

For every role (all of roles/* by default, or the role directories given as arguments):

* every key of defaults/main.yml is an option of each entry point in meta/argument_specs.yml,
  and every option is a key of defaults/main.yml (role defaults apply to all entry points);
* each option's ``default`` equals the value in defaults/main.yml (an option without a
  ``default`` must not have one in defaults/main.yml either, unless that value is null);
* the default value has the declared ``type`` (and list ``elements``), and is one of ``choices``;
* every public variable starts with ``<role>_``.

Prints one line per problem (with a unified diff of the two values where they differ) and
exits 1 when any problem is found, including unreadable YAML; 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]

# argument_specs type names -> Python types a YAML default may have.
TYPE_CHECKS = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
    "path": (str,),
    "raw": (object,),
}


def _dump(value: object) -> list[str]:
    dumped = yaml.safe_dump(value, default_flow_style=False, sort_keys=True).splitlines()
    return [line for line in dumped if line != "..."]


def _value_diff(name: str, spec_value: object, defaults_value: object) -> str:
    lines = difflib.unified_diff(
        _dump(spec_value),
        _dump(defaults_value),
        fromfile=f"meta/argument_specs.yml: {name}.default",
        tofile=f"defaults/main.yml: {name}",
        lineterm="",
    )
    return "\n".join("      " + line for line in lines)


def _type_ok(value: object, type_name: str) -> bool:
    allowed = TYPE_CHECKS.get(type_name)
    if allowed is None:
        return True
    if type_name in ("int", "float") and isinstance(value, bool):
        return False
    return isinstance(value, allowed)


def _load_yaml(path: Path) -> object:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def check_role(role_dir: Path) -> list[str]:
    role = role_dir.name
    problems: list[str] = []
    defaults_file = role_dir / "defaults" / "main.yml"
    spec_file = role_dir / "meta" / "argument_specs.yml"
    if not spec_file.is_file():
        return [f"{role}: meta/argument_specs.yml is missing"]
    spec_doc = _load_yaml(spec_file) or {}
    defaults = (_load_yaml(defaults_file) or {}) if defaults_file.is_file() else {}
    if not isinstance(defaults, dict):
        return [f"{role}: defaults/main.yml is not a mapping"]
    entry_points = (spec_doc.get("argument_specs") or {}) if isinstance(spec_doc, dict) else {}
    if "main" not in entry_points:
        problems.append(f"{role}: meta/argument_specs.yml has no 'main' entry point")
    for entry_name, entry in entry_points.items():
        options = (entry or {}).get("options") or {}
        where = f"{role} ({entry_name})"
        for name in sorted(set(defaults) - set(options)):
            problems.append(f"{where}: '{name}' is in defaults/main.yml but not declared in meta/argument_specs.yml")
        for name in sorted(set(options) - set(defaults)):
            if "default" in (options[name] or {}):
                problems.append(
                    f"{where}: '{name}' has a default in meta/argument_specs.yml but is missing from defaults/main.yml"
                )
            elif not (options[name] or {}).get("required"):
                problems.append(
                    f"{where}: '{name}' is declared in meta/argument_specs.yml but missing from defaults/main.yml "
                    "(give it a default in both, or mark it required)"
                )
        for name in sorted(set(options) & set(defaults)):
            option = options[name] or {}
            value = defaults[name]
            if "default" not in option:
                if value is not None:
                    problems.append(
                        f"{where}: '{name}' has no default in meta/argument_specs.yml but defaults/main.yml sets it\n"
                        + _value_diff(name, None, value)
                    )
            elif option["default"] != value or type(option["default"]) is not type(value):
                problems.append(
                    f"{where}: default of '{name}' differs between meta/argument_specs.yml and defaults/main.yml\n"
                    + _value_diff(name, option["default"], value)
                )
            type_name = option.get("type", "str")
            if value is not None and not _type_ok(value, type_name):
                problems.append(
                    f"{where}: '{name}' is declared type {type_name} but its default {value!r} "
                    f"is a {type(value).__name__}"
                )
            elements = option.get("elements")
            if elements and isinstance(value, list):
                bad = [item for item in value if not _type_ok(item, elements)]
                if bad:
                    problems.append(f"{where}: '{name}' elements must be {elements}, got {bad!r}")
            choices = option.get("choices")
            if choices is not None and value is not None and value not in choices:
                problems.append(f"{where}: default of '{name}' ({value!r}) is not one of its choices {choices!r}")
        for name in sorted(options):
            if not name.startswith(f"{role}_"):
                problems.append(f"{where}: option '{name}' is not prefixed with the role name '{role}_'")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roles", nargs="*", type=Path, help="role directories (default: every directory under roles/)")
    args = parser.parse_args(argv)
    role_dirs = args.roles or sorted(p for p in (REPO_ROOT / "roles").iterdir() if p.is_dir())
    if not role_dirs:
        print("check_argument_specs: no roles found", file=sys.stderr)
        return 2
    problems: list[str] = []
    for role_dir in role_dirs:
        if not role_dir.is_dir():
            print(f"check_argument_specs: {role_dir} is not a directory", file=sys.stderr)
            return 2
        try:
            problems.extend(check_role(role_dir))
        except (OSError, yaml.YAMLError) as exc:
            problems.append(f"{role_dir.name}: cannot read its YAML: {exc}")
    for problem in problems:
        print(problem)
    names = ", ".join(p.name for p in role_dirs)
    if problems:
        print(f"check_argument_specs: {len(problems)} problem(s) in {len(role_dirs)} role(s): {names}")
        return 1
    print(f"check_argument_specs: {len(role_dirs)} role(s) OK: {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
