"""The mlflow_users role's input checks: every message names the variable and the entry, strings
are never taken for lists, and no password ever appears in a message."""

import pathlib

import pytest
import yaml

from ansible_collections.mlflow_k8s.platform.plugins.filter import mlflow_users as mu

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "mlflow_users"
EMAIL = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["_mlflow_users_email_pattern"]
PW = "Api-Passw0rd-from-vault"


def problems(**variables):
    return mu.mlflow_users_problems(dict(("mlflow_users_" + k, v) for k, v in variables.items()), EMAIL)


def test_valid_input_has_no_problem():
    assert (
        problems(
            sso_users=[{"email": "a@example.com", "permissions": [{"experiment_name": "e", "permission": "EDIT"}]}],
            api_users=[
                {"username": "svc", "password": PW, "roles": ["r"], "permissions": [{"resource_id": 3}]},
                {"username": "svc-adopted"},
            ],
            admins=["a@example.com"],
            roles=[{"name": "r", "permissions": [{"resource_type": "experiment", "permission": "READ"}]}],
            protected_users=["svc-*"],
        )
        == []
    )
    assert problems() == []


@pytest.mark.parametrize(
    "variables,message",
    [
        (
            {"admins": "ops@example.com"},
            "mlflow_users_admins: must be a list of user names, got the string 'ops@example.com'",
        ),
        (
            {"protected_users": "svc-*"},
            "mlflow_users_protected_users: must be a list of user names or patterns, got the string 'svc-*'",
        ),
        ({"admins": [""]}, "mlflow_users_admins[0]: must be a non-empty string, got the string ''"),
        ({"sso_users": "email=a@example.com"}, "mlflow_users_sso_users: must be a list of mappings, got a string"),
        ({"api_users": {"username": "svc"}}, "mlflow_users_api_users: must be a list of mappings, got a mapping"),
        ({"roles": "readers"}, "mlflow_users_roles: must be a list of mappings, got a string"),
        ({"sso_users": ["a@example.com"]}, "mlflow_users_sso_users[0]: must be a mapping with email, got a string"),
        ({"sso_users": [{}]}, "mlflow_users_sso_users[0]: email is missing"),
        ({"sso_users": [{"email": 7}]}, "mlflow_users_sso_users[0]: email must be a string, got a number"),
        ({"sso_users": [{"email": "nope"}]}, "mlflow_users_sso_users[0] (nope): email is not an e-mail address"),
        (
            {"sso_users": [{"email": "a@example.com", "password": PW}]},
            "mlflow_users_sso_users[0] (a@example.com): unknown key 'password'; SSO users take email, permissions, "
            "roles (their password is the SSO bridge password)",
        ),
        (
            {"sso_users": [{"email": "a@example.com", "roles": "readers"}]},
            "mlflow_users_sso_users[0] (a@example.com).roles: must be a list of role names, got the string 'readers'",
        ),
        ({"api_users": [{"password": PW}]}, "mlflow_users_api_users[0]: username is missing"),
        ({"api_users": [{"username": "  "}]}, "mlflow_users_api_users[0]: username must not be empty"),
        (
            {"api_users": [{"username": "svc", "password": "short"}]},
            "mlflow_users_api_users[0] (svc): password must be at least 12 characters long",
        ),
        (
            {"api_users": [{"username": "svc", "password": 123456789012345}]},
            "mlflow_users_api_users[0] (svc): password must be a string (quote it), got a number",
        ),
        (
            {"api_users": [{"username": "svc", "password": None}]},
            "mlflow_users_api_users[0] (svc): password is empty; leave the key out to keep the user's password",
        ),
        (
            {"api_users": [{"username": "svc", "is_admin": True}]},
            "mlflow_users_api_users[0] (svc): unknown key 'is_admin'; API users take username, password, "
            "permissions, roles (admins are listed in mlflow_users_admins)",
        ),
        (
            {"sso_users": [{"email": "a@example.com"}], "api_users": [{"username": "a@example.com"}]},
            "mlflow_users_api_users[0] (a@example.com): the same user as mlflow_users_sso_users[0]",
        ),
        (
            {"sso_users": [{"email": "a@example.com"}], "admins": ["a@example.com", "ghost@example.com"]},
            "mlflow_users_admins[1] (ghost@example.com): is in neither mlflow_users_sso_users nor "
            "mlflow_users_api_users",
        ),
        (
            {"api_users": [{"username": "svc", "permissions": {"experiment_name": "e"}}]},
            "mlflow_users_api_users[0] (svc).permissions: must be a list of permissions, got a mapping",
        ),
        (
            {"api_users": [{"username": "svc", "permissions": ["e"]}]},
            "mlflow_users_api_users[0] (svc).permissions[0]: must be a mapping, got the string 'e'",
        ),
        (
            {"api_users": [{"username": "svc", "permissions": [{"resource_id": "1", "permission": "WRITE"}]}]},
            "mlflow_users_api_users[0] (svc).permissions[0]: unknown permission level 'WRITE'; "
            "use one of READ, USE, EDIT, MANAGE, DENY",
        ),
        (
            {"api_users": [{"username": "svc", "permissions": [{"resource_id": "1", "permission": "edit"}]}]},
            "mlflow_users_api_users[0] (svc).permissions[0]: unknown permission level 'edit'; "
            "use one of READ, USE, EDIT, MANAGE, DENY (upper case: EDIT)",
        ),
        (
            {"api_users": [{"username": "svc", "permissions": [{"resource_id": "1", "level": "EDIT"}]}]},
            "mlflow_users_api_users[0] (svc).permissions[0]: unknown key 'level'; permissions take resource_type, "
            "resource_id, experiment_name, permission",
        ),
        (
            {"api_users": [{"username": "svc", "permissions": [{"permission": "READ"}]}]},
            "mlflow_users_api_users[0] (svc).permissions[0]: give exactly one of resource_id or experiment_name",
        ),
        (
            {"api_users": [{"username": "svc", "permissions": [{"resource_type": "prompt", "experiment_name": "e"}]}]},
            "mlflow_users_api_users[0] (svc).permissions[0]: experiment_name only applies to resource_type experiment",
        ),
        (
            {
                "api_users": [
                    {
                        "username": "svc",
                        "permissions": [{"resource_id": "07", "permission": "EDIT"}, {"resource_id": 7}],
                    }
                ]
            },
            "mlflow_users_api_users[0] (svc).permissions[1]: experiment id 7 is also in permissions[0], with "
            "permission EDIT (here READ)",
        ),
        ({"roles": [{"description": "x"}]}, "mlflow_users_roles[0]: name is missing"),
        (
            {"roles": [{"name": "r"}, {"name": "r"}]},
            "mlflow_users_roles[1] (r): the same role as mlflow_users_roles[0]",
        ),
        (
            {"roles": [{"name": "r", "members": ["a"]}]},
            "mlflow_users_roles[0] (r): unknown key 'members'; roles take name, description, permissions, "
            "exclusive_permissions",
        ),
        (
            {"roles": [{"name": "r", "permissions": [{"resource_type": "experiment", "permission": "WRITE"}]}]},
            "mlflow_users_roles[0] (r).permissions[0]: unknown permission level 'WRITE'",
        ),
        (
            {"roles": [{"name": "r", "permissions": [{"permission": "READ"}]}]},
            "mlflow_users_roles[0] (r).permissions[0]: resource_type is missing",
        ),
        (
            {"roles": [{"name": "r", "permissions": [{"resource_type": "experiment"}]}]},
            "mlflow_users_roles[0] (r).permissions[0]: permission is missing",
        ),
    ],
)
def test_each_problem_names_the_variable_and_the_entry(variables, message):
    found = problems(**variables)
    assert len(found) == 1 and message in found[0], found
    assert PW not in repr(found)


def test_a_string_is_never_iterated_per_character():
    # Before: "mlflow_users_admins names users that are in neither list: o, p, s, @, ..."
    found = problems(sso_users=[{"email": "ops@example.com"}], admins="ops@example.com")
    assert found == ["mlflow_users_admins: must be a list of user names, got the string 'ops@example.com'"]


def test_key_value_strings_are_not_shown():
    # Ansible's argument spec turns "username=svc,password=..." into a mapping and lets it pass.
    secret = "k=v-string-Passw0rd"
    found = problems(api_users="username=svc,password=%s" % secret, sso_users=["email=a@b.c,x=%s" % secret])
    assert len(found) == 2 and secret not in repr(found)


def test_many_problems_are_capped():
    found = problems(sso_users=[{"email": "bad%d" % i} for i in range(60)])
    assert len(found) == mu.MAX_PROBLEMS + 1 and found[-1] == "... and 10 more"


def test_entries_are_labelled_and_only_sso_users_get_the_bridge_password():
    entries = mu.mlflow_users_entries(
        [{"email": "a@example.com"}], [{"username": "svc"}, {"username": "svc2", "password": PW}], "bridge-Passw0rd"
    )
    assert entries == [
        {"email": "a@example.com", "password": "bridge-Passw0rd", "label": "mlflow_users_sso_users[0]"},
        {"username": "svc", "label": "mlflow_users_api_users[0]"},
        {"username": "svc2", "password": PW, "label": "mlflow_users_api_users[1]"},
    ]
