#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mlflow_access
short_description: Reconcile MLflow users, admin flags, direct permissions and role memberships in bulk
version_added: 1.0.0
description:
  - Applies a whole access specification (hundreds or thousands of users) in one module run.
  - Reads the current state with as few requests as the server allows (MLflow 3.13+ one C(users/list)
    request for all users, grants and roles; before 3.13 C(users/list) plus one C(users/get) per listed user),
    then writes only the differences - grant = want - have, revoke = have - want.
  - Everything that can make it refuse the specification (validation against the server version,
    unknown roles, missing or deleted experiments, a new user without a password, a resource listed
    twice) is decided from reads before the first write, so a refused run changes nothing.
  - Writes happen in this order, outside check mode only - experiments named in permissions
    (O(create_experiments)), roles, then the users' changes.
  - In check mode only reads are made. The diff has one entry per experiment list, role and user that
    changes (before and after, experiments by name, never passwords).
options:
  users:
    description: The desired users.
    type: list
    elements: dict
    default: []
    suboptions:
      username:
        description: MLflow user name (for SSO users their e-mail address).
        type: str
        required: true
        aliases: [email]
      label:
        description:
          - >-
            How messages name this entry, for example the inventory variable and index it came from
            (V(mlflow_users_sso_users[3])); V(users[N]) when not given. The user name follows in parentheses.
        type: str
      password:
        description:
          - Password, used to create the user and, with O(update_password=always), to correct it.
          - At least 12 characters. O(default_password) when not given.
        type: str
      is_admin:
        description: Admin flag; unchanged when not given.
        type: bool
      permissions:
        description:
          - Direct permissions of the user. When omitted the user's permissions are not managed.
          - With O(exclusive_permissions) the list is complete and other direct grants are revoked.
        type: list
        elements: dict
        suboptions:
          resource_type:
            description:
              - Resource type, V(experiment) and V(registered_model) on every version; V(prompt), V(scorer),
                V(workspace), V(gateway_*) and more on MLflow 3.13+ (validated against the server version).
            type: str
            default: experiment
          resource_id:
            description:
              - Experiment id, model or prompt name, other resource id, or V(*) for all (MLflow 3.13+).
            type: str
          experiment_name:
            description: Experiment given by name instead of O(users[].permissions[].resource_id).
            type: str
          permission:
            description: V(READ), V(USE) (3.10+), V(EDIT), V(MANAGE) or V(DENY) (3.17+).
            type: str
            default: READ
      roles:
        description:
          - Names of roles (in the workspace) the user belongs to, MLflow 3.13+. Unmanaged when omitted.
        type: list
        elements: str
  default_password:
    description:
      - Password of the users that give none, for example the SSO bridge password that oauth2-proxy sends
        for every SSO user.
    type: str
  admins:
    description:
      - When given, the listed users are admins and every other user in O(users) is not
        (an explicit O(users[].is_admin) wins). Every name must be in O(users).
    type: list
    elements: str
  roles:
    description:
      - Roles (MLflow 3.13+) to create or update before the users are reconciled, so that
        O(users[].roles) can name them. Everything is validated before the first write.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Role name.
        type: str
        required: true
      description:
        description: Role description.
        type: str
      permissions:
        description: Permissions of the role.
        type: list
        elements: dict
        suboptions:
          resource_type:
            description: Resource type.
            type: str
            required: true
          resource_pattern:
            description: Resource id or name, or V(*).
            type: str
            default: "*"
          permission:
            description: Permission level.
            type: str
            required: true
      exclusive_permissions:
        description: Remove role permissions not listed.
        type: bool
        default: true
  update_password:
    description:
      - V(on_create) sets passwords only for new users.
      - V(always) also verifies every listed password with one authenticated read as that user (one password
        hash on the server per user) and corrects mismatches.
    type: str
    default: on_create
    choices: [always, on_create]
  exclusive_permissions:
    description: Revoke direct grants of listed users that their O(users[].permissions) do not name.
    type: bool
    default: true
  exclusive_roles:
    description: Remove listed users from roles their O(users[].roles) do not name.
    type: bool
    default: true
  prune_users:
    description:
      - Delete users that are not in O(users) and not in O(protected_users). Needs MLflow 3.10+.
      - The login user and admins are never deleted by pruning.
    type: bool
    default: false
  protected_users:
    description: Users that pruning never deletes (shell-style patterns allowed, for example C(svc-*)).
    type: list
    elements: str
    default: []
  create_experiments:
    description: Create experiments named in O(users[].permissions[].experiment_name) that do not exist.
    type: bool
    default: false
  parallel:
    description: Concurrent requests for per-user reads and writes.
    type: int
    default: 4
extends_documentation_fragment:
  - mlflow_k8s.platform.mlflow
attributes:
  check_mode:
    support: full
    description: Reads the whole state and reports every change it would make; writes nothing.
  diff_mode:
    support: full
    description:
      - One diff per changed user (header C(mlflow user NAME)) with admin flag, direct permissions and
        roles before and after; experiments are shown by name and id. Never passwords.
      - Also one for the experiments to create and one per changed role.
author:
  - mlflow_k8s.platform contributors (@mlflow-k8s)
"""

EXAMPLES = r"""
- name: Apply the access specification
  mlflow_k8s.platform.mlflow_access:
    tracking_uri: http://mlflow.mlflow.svc.cluster.local:5000
    auth_username: admin
    auth_password: "{{ mlflow_admin_password }}"
    create_experiments: true
    users:
      - username: alice@example.com
        password: "{{ bridge_password }}"
        is_admin: true
      - username: bob@example.com
        password: "{{ bridge_password }}"
        permissions:
          - experiment_name: fraud-detection
            permission: EDIT
          - resource_type: registered_model
            resource_id: fraud-model
            permission: READ
    prune_users: true
    protected_users: [admin, "svc-*"]
"""

RETURN = r"""
users_changed:
  description: Per changed user, what was (or in check mode would be) done. Never contains passwords.
  returned: always
  type: list
  elements: dict
  sample:
    - username: bob@example.com
      created: true
      deleted: false
      password_changed: false
      is_admin: null
      granted: [{resource_type: experiment, resource_id: "1", permission: EDIT}]
      updated: []
      revoked: []
      roles_assigned: []
      roles_unassigned: []
created_users:
  description: Users created.
  returned: always
  type: list
  elements: str
deleted_users:
  description: Users deleted by pruning.
  returned: always
  type: list
  elements: str
roles_changed:
  description: Names of the roles in O(roles) that were (or would be) created or changed.
  returned: always
  type: list
  elements: str
created_experiments:
  description: Experiments created (in check mode, to be created) for O(create_experiments).
  returned: always
  type: list
  elements: str
counts:
  description: Numbers of users and grant operations.
  returned: always
  type: dict
mlflow_version:
  description: Version reported by the server.
  returned: always
  type: str
api_flavor:
  description: Permission API used.
  returned: always
  type: str
http_requests:
  description: Number of HTTP requests the module made.
  returned: always
  type: int
"""

import fnmatch

from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_client import VERIFY_ALWAYS
from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_module import mlflow_module, run
from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_reconcile import (
    PERMISSION_SPEC,
    PlanError,
    Reconciler,
    describe_resource,
    entry_label,
    plan_summary,
    planned_view,
    require_roles,
    state_view,
    validate_users,
)
from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_roles import (
    ROLE_PERMISSION_SPEC,
    RoleState,
    ensure_role,
    validate_role,
)


def _protected(name, patterns):
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _without_id(view):
    return None if view is None else dict((k, v) for k, v in view.items() if k != "id")


def _check(module, client, rec, users, role_specs):
    """Every refusal that does not need the users' current state. Reads only."""
    params, names = module.params, client.names
    validate_users(client, users)
    if params["admins"] is not None:
        listed = set(u["username"] for u in users)
        for index, name in enumerate(params["admins"]):
            if name not in listed:
                raise PlanError("%s: '%s' is not one of the users" % (entry_label(names("admins"), index), name))
    for index, spec in enumerate(role_specs):
        validate_role(client, spec, entry_label(names("roles"), index, spec["name"]))
    for user in users:
        if user.get("roles") is not None:
            require_roles(client, "%s.roles" % user["_label"], "role membership")
    if params["prune_users"]:
        client.require((3, 10, 0), "%s (listing users)" % names("prune_users"))
    if any(u.get("roles") for u in users):
        known_roles = set(rec.role_ids()) | set(s["name"] for s in role_specs)
        for user in users:
            for index, role in enumerate(user.get("roles") or []):
                if role not in known_roles:
                    raise PlanError(
                        "%s.roles[%d]: role '%s' does not exist in workspace '%s' and is not in %s"
                        % (user["_label"], index, role, client.rbac_workspace(), names("roles"))
                    )


def _prune_plan(name):
    return {
        "username": name,
        "create": False,
        "password": None,
        "is_admin": None,
        "grant": [],
        "update": [],
        "revoke": [],
        "assign": [],
        "unassign": [],
        "delete": True,
    }


def body(module, client):
    params, names = module.params, client.names
    users = [dict(u) for u in params["users"]]
    admins = params["admins"]
    for user in users:
        user["permissions"] = [dict(p) for p in user["permissions"]] if user.get("permissions") is not None else None
        if user.get("password") is None:
            user["password"] = params["default_password"]
        if admins is not None and user.get("is_admin") is None:
            user["is_admin"] = user["username"] in admins
    role_specs = [dict(r) for r in params["roles"]]
    rec = Reconciler(client, parallel=params["parallel"], check_mode=module.check_mode)

    # Plan: reads only, and every refusal happens here, before the first write.
    _check(module, client, rec, users, role_specs)
    have = rec.read_all() if params["prune_users"] else rec.read_users([u["username"] for u in users])
    for user in users:
        if user["username"] not in have and not user.get("password"):
            raise PlanError("%s: does not exist and has no password to create it with" % user["_label"])
    managed = [u for u in users if u["permissions"] is not None]
    experiment_ids, new_experiments = rec.plan_experiments(managed, params["create_experiments"], names)
    rec.resolve_permissions(managed, experiment_ids)
    for user in users:
        if user["permissions"] is None:
            user["_wanted"] = None

    def plan(user):
        return rec.plan_user(
            user,
            have.get(user["username"]),
            params["update_password"] == VERIFY_ALWAYS,
            params["exclusive_permissions"],
            params["exclusive_roles"],
        )

    planned = rec._map(plan, users)  # pylint: disable=protected-access
    plans = [(planned[index], user) for index, user in enumerate(users)]
    for planned, user in plans:
        if planned["username"] == client.username and planned["is_admin"] is False:
            raise PlanError(
                "%s: is the user this run logs in as (%s); list it in %s or leave it out, a run cannot take "
                "away its own admin rights" % (user["_label"], names("auth_username"), names("admins"))
            )
    if params["prune_users"]:
        listed = set(u["username"] for u in users)
        protected = [*params["protected_users"], client.username]
        for name in sorted(have):
            if name in listed or _protected(name, protected) or have[name]["is_admin"]:
                continue
            plans.append((_prune_plan(name), {"username": name}))
    changing = [(p, w) for p, w in plans if rec.plan_changes(p)]

    # Apply (outside check mode): experiments, then roles (users may join new ones), then users.
    created_ids = {}
    if new_experiments and not module.check_mode:
        created_ids = rec.create_experiments(new_experiments)
        rec.bind_experiments([p for p, _w in changing], created_ids)
    roles_changed, role_diffs = [], []
    if role_specs:
        role_state = RoleState(client)
        for spec in role_specs:
            changed_role, before, after = ensure_role(client, spec, module.check_mode, role_state)
            if changed_role:
                roles_changed.append(spec["name"])
                role_diffs.append((spec["name"], before, after))
        rec._roles = None  # pylint: disable=protected-access
    errors = []
    if changing and not module.check_mode:
        errors = rec.apply_all(changing)
    summaries = [plan_summary(p) for p, _w in changing]
    result = {
        "changed": bool(changing) or bool(new_experiments) or bool(roles_changed),
        "roles_changed": roles_changed,
        "users_changed": summaries,
        "created_users": [p["username"] for p, _w in changing if p["create"]],
        "deleted_users": [p["username"] for p, _w in changing if p["delete"]],
        "created_experiments": new_experiments,
        "counts": {
            "users": len(users),
            "users_changed": len(changing),
            "granted": sum(len(p["grant"]) for p, _w in changing),
            "updated": sum(len(p["update"]) for p, _w in changing),
            "revoked": sum(len(p["revoke"]) for p, _w in changing),
        },
    }
    if module._diff:  # pylint: disable=protected-access
        known = dict(experiment_ids, **created_ids)
        exp_names = rec.experiment_names([p for p, _w in changing], have, known)

        def describe(rtype, rid):
            return describe_resource((rtype, rid), exp_names)

        diff = []
        if new_experiments:
            diff.append(
                {
                    "before_header": "mlflow experiments",
                    "after_header": "mlflow experiments",
                    "before": "",
                    "after": "".join("%s\n" % name for name in new_experiments),
                }
            )
        for name, before, after in role_diffs:
            header = "mlflow role %s" % name
            diff.append(
                {
                    "before_header": header,
                    "after_header": header,
                    "before": _without_id(before),
                    "after": _without_id(after),
                }
            )
        for p, _w in changing:
            header = "mlflow user %s" % p["username"]
            current = have.get(p["username"])
            diff.append(
                {
                    "before_header": header,
                    "after_header": header,
                    "before": state_view(current, describe),
                    "after": planned_view(p, current, describe),
                }
            )
        result["diff"] = diff
    if errors:
        module.fail_json(
            msg="%d of %d user changes failed; first: %s: %s"
            % (len(errors), len(changing), errors[0][0], errors[0][1]),
            errors=[dict(username=u, msg=m) for u, m in errors],
            **result,
        )
    return result


def main():
    module = mlflow_module(
        dict(
            users=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    username=dict(type="str", required=True, aliases=["email"]),
                    label=dict(type="str"),
                    password=dict(type="str", no_log=True),
                    is_admin=dict(type="bool"),
                    permissions=dict(type="list", elements="dict", options=PERMISSION_SPEC),
                    roles=dict(type="list", elements="str"),
                ),
            ),
            default_password=dict(type="str", no_log=True),
            admins=dict(type="list", elements="str"),
            roles=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    name=dict(type="str", required=True),
                    description=dict(type="str"),
                    permissions=dict(type="list", elements="dict", options=ROLE_PERMISSION_SPEC),
                    exclusive_permissions=dict(type="bool", default=True),
                ),
            ),
            update_password=dict(type="str", default="on_create", choices=["always", "on_create"], no_log=False),
            exclusive_permissions=dict(type="bool", default=True),
            exclusive_roles=dict(type="bool", default=True),
            prune_users=dict(type="bool", default=False),
            protected_users=dict(type="list", elements="str", default=[]),
            create_experiments=dict(type="bool", default=False),
            parallel=dict(type="int", default=4),
        )
    )
    run(module, body)


if __name__ == "__main__":
    main()
