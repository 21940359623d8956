"""Credential definitions: AWX managed types, inputs those types have, variables declared."""

from __future__ import annotations

import re

from conftest import AWX_DIR, load_yaml

# Inputs of AWX's managed credential types (awx/main/models/credential/__init__.py, 24.6.1).
MANAGED_TYPES = {
    "OpenShift or Kubernetes API Bearer Token": {"host", "bearer_token", "verify_ssl", "ssl_ca_cert"},
    "Google Compute Engine": {"username", "project", "ssh_key_data"},
    "Vault": {"vault_password", "vault_id"},
}
SECRET_INPUTS = {"bearer_token", "ssh_key_data", "vault_password"}


def _spec_options():
    return load_yaml(AWX_DIR / "argument_specs.yml")["argument_specs"]["main"]["options"]


def test_credential_types_and_inputs(credentials):
    problems = []
    for cred in credentials:
        known = MANAGED_TYPES.get(cred["credential_type"])
        if known is None:
            problems.append(f"{cred['name']}: {cred['credential_type']!r} is not a managed AWX type")
            continue
        unknown = set(cred["inputs"]) - known
        if unknown:
            problems.append(f"{cred['name']}: inputs {sorted(unknown)} do not exist in {cred['credential_type']}")
    assert not problems, "\n".join(problems)


def test_kubernetes_credential_feeds_kubernetes_core(credentials):
    kube = next(c for c in credentials if c["key"] == "kubernetes")
    # These inputs become K8S_AUTH_HOST/API_KEY/VERIFY_SSL/SSL_CA_CERT in the job.
    assert set(kube["inputs"]) == {"host", "bearer_token", "verify_ssl", "ssl_ca_cert"}
    assert kube["enabled"] is True


def test_job_templates_use_defined_credentials(job_templates, credentials):
    keys = {c["key"] for c in credentials}
    for jt in job_templates:
        assert set(jt["credentials"]) <= keys, jt["name"]
        assert "kubernetes" in jt["credentials"], jt["name"]


def test_credential_values_come_from_declared_variables(credentials):
    options = _spec_options()
    text = (AWX_DIR / "credentials.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"\b(awx_configure_[a-z0-9_]+)", text))
    assert used, "credentials.yml takes no values from variables"
    assert used <= set(options), sorted(used - set(options))
    for cred in credentials:
        for name, value in cred["inputs"].items():
            if name in SECRET_INPUTS:
                variable = re.search(r"(awx_configure_[a-z0-9_]+)", value).group(1)
                assert options[variable].get("no_log") is True, f"{variable} holds a secret: no_log"


def test_argument_spec_prefix_and_types():
    for name, option in _spec_options().items():
        assert name.startswith("awx_configure_"), name
        assert option.get("type") in {"str", "bool", "int", "list", "dict"}, name
        assert ("default" in option) != bool(option.get("required")), f"{name}: either required or a default"
