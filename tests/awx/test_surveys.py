"""Job templates and surveys against the argument specs of what they run.

Every survey variable must be declared by the role (roles/<role>/meta/argument_specs.yml,
found by the variable's prefix) or playbook (playbooks/<name>/argument_specs.yml) that reads
it, with a type an AWX answer of that question type can satisfy.
"""

from __future__ import annotations

import re

import pytest
from conftest import REPO, load_yaml

# What AWX puts into extra_vars for each question type (awx/main/models/mixins.py, 24.6.1):
# text-like answers are strings, integer/float numbers, multiselect a list of strings.
COMPATIBLE = {
    "text": {"str", "raw"},
    "textarea": {"str", "raw"},
    "password": {"str", "raw"},
    "integer": {"int", "float", "raw"},
    "float": {"float", "raw"},
    "multiplechoice": {"str", "raw"},
    "multiselect": {"list", "raw"},
}
# prune_pv.yml converts survey strings itself ("true" -> true, "a,b" -> [a, b]);
# tests/prune/test_prune_pv.py::test_awx_survey_answers proves it on the cluster.
STRING_CONVERTING_TARGETS = {"playbooks/prune_pv/argument_specs.yml"}
STRING_CONVERSIONS = {"bool": {"multiplechoice"}, "list": {"text", "textarea"}, "int": {"text"}}
QUESTION_TYPES = set(COMPATIBLE)
BOOL_STRINGS = {"true", "false"}


def _owners() -> dict[str, str]:
    """Variable prefix -> argument spec file (relative to the repository)."""
    owners = {f"{role.name}_": f"roles/{role.name}/meta/argument_specs.yml" for role in (REPO / "roles").iterdir()}
    for spec in (REPO / "playbooks").glob("*/argument_specs.yml"):
        owners[f"{spec.parent.name}_"] = f"playbooks/{spec.parent.name}/argument_specs.yml"
    return owners


def _owner_of(variable: str) -> str | None:
    matches = [prefix for prefix in _owners() if variable.startswith(prefix)]
    # The longest prefix wins (a role named like a prefix of another).
    return _owners()[max(matches, key=len)] if matches else None


def _questions(surveys):
    for template, survey in surveys.items():
        for question in survey["spec"]:
            yield template, question


def test_every_job_template_runs_an_existing_playbook(job_templates):
    missing = [f"{jt['name']}: {jt['playbook']}" for jt in job_templates if not (REPO / jt["playbook"]).is_file()]
    assert not missing, f"job templates point at playbooks that do not exist: {missing}"


def test_job_templates_cover_deploy_and_prune(job_templates):
    assert {jt["playbook"] for jt in job_templates} == {"playbooks/site.yml", "playbooks/prune_pv.yml"}
    assert len({jt["name"] for jt in job_templates}) == len(job_templates)


def test_survey_shape_is_what_awx_accepts(surveys):
    problems = []
    for template, survey in surveys.items():
        if not isinstance(survey.get("name"), str) or not isinstance(survey.get("description"), str):
            problems.append(f"{template}: survey needs a name and a description")
        variables = [q.get("variable") for q in survey["spec"]]
        if len(set(variables)) != len(variables):
            problems.append(f"{template}: duplicate survey variables {variables}")
    for template, q in _questions(surveys):
        where = f"{template}/{q.get('variable')}"
        for key in ("question_name", "variable", "type", "required"):
            if key not in q:
                problems.append(f"{where}: missing {key}")
        if q.get("type") not in QUESTION_TYPES:
            problems.append(f"{where}: unknown question type {q.get('type')!r}")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", str(q.get("variable"))):
            problems.append(f"{where}: not a valid variable name")
        if q.get("type") in {"multiplechoice", "multiselect"}:
            choices = q.get("choices")
            if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
                problems.append(f"{where}: choices must be a non-empty list of strings")
            elif q.get("type") == "multiplechoice" and q.get("default") not in choices:
                problems.append(f"{where}: default {q.get('default')!r} is not one of {choices}")
        if q.get("type") in {"text", "textarea", "password"}:
            low, high, default = q.get("min", 0), q.get("max", 1024), q.get("default", "")
            if not isinstance(default, str):
                problems.append(f"{where}: default must be a string")
            elif default and not low <= len(default) <= high:
                problems.append(f"{where}: default {default!r} is outside min/max {low}..{high}")
            if q.get("required") and low < 1:
                problems.append(f"{where}: a required text question needs min >= 1, or AWX accepts an empty answer")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("template", ["Deploy MLflow", "Prune released PVs"])
def test_survey_variables_are_declared_with_compatible_types(surveys, template):
    problems, checked = [], []
    for question in surveys[template]["spec"]:
        variable, qtype = question["variable"], question["type"]
        spec_file = _owner_of(variable)
        if spec_file is None:
            problems.append(f"{variable}: no role or playbook named by its prefix ({sorted(_owners())})")
            continue
        path = REPO / spec_file
        if not path.is_file():
            problems.append(f"{variable}: {spec_file} does not exist (every role declares its variables)")
            continue
        options = load_yaml(path)["argument_specs"]["main"]["options"]
        if variable not in options:
            problems.append(f"{variable}: not declared in {spec_file}")
            continue
        option = options[variable]
        spec_type = option.get("type", "str")
        allowed = COMPATIBLE[qtype]
        if spec_file in STRING_CONVERTING_TARGETS:
            allowed = allowed | {t for t, qtypes in STRING_CONVERSIONS.items() if qtype in qtypes}
        if spec_type not in allowed:
            problems.append(f"{variable}: a {qtype} answer cannot satisfy type {spec_type} in {spec_file}")
        if spec_type == "bool" and qtype == "multiplechoice" and set(question["choices"]) != BOOL_STRINGS:
            problems.append(f"{variable}: a yes/no question must offer exactly 'true' and 'false'")
        spec_choices = option.get("choices")
        if spec_choices and qtype in {"multiplechoice", "multiselect"}:
            extra = set(question["choices"]) - {str(c) for c in spec_choices}
            if extra:
                problems.append(f"{variable}: choices {sorted(extra)} are not allowed by {spec_file}")
        if spec_choices and qtype not in {"multiplechoice", "multiselect"}:
            problems.append(f"{variable}: {spec_file} restricts it to {spec_choices}; use a multiple-choice question")
        if option.get("required") and not question["required"]:
            problems.append(f"{variable}: required by {spec_file} but optional in the survey")
        checked.append(variable)
    assert not problems, "\n".join(problems)
    assert checked == [q["variable"] for q in surveys[template]["spec"]]


def test_deploy_survey_asks_for_hosts_and_certificates(surveys):
    variables = {q["variable"] for q in surveys["Deploy MLflow"]["spec"]}
    assert {"postgres_mlflow_ui_host", "postgres_mlflow_api_host", "cert_manager_cluster_issuer"} <= variables


def test_prune_survey_defaults_never_delete(surveys):
    confirm = next(q for q in surveys["Prune released PVs"]["spec"] if q["variable"] == "prune_pv_confirm")
    assert confirm["default"] == "false"
    assert confirm["required"] is True
