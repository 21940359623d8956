#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

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
  - In check mode only reads are made. The diff lists the users that change, before and after, without passwords.
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
    description: Shows, per changed user, admin flag, direct permissions and roles before and after; never passwords.
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
  description: Experiments created for O(create_experiments).
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
    plan_summary,
    planned_view,
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


def body(module, client):
    params = module.params
    users = [dict(u) for u in params["users"]]
    admins = params["admins"]
    for user in users:
        user["permissions"] = [dict(p) for p in user["permissions"]] if user.get("permissions") is not None else None
        if user.get("password") is None:
            user["password"] = params["default_password"]
        if admins is not None and user.get("is_admin") is None:
            user["is_admin"] = user["username"] in admins
    validate_users(client, users)
    if admins is not None:
        listed = set(u["username"] for u in users)
        for index, name in enumerate(admins):
            if name not in listed:
                raise PlanError("admins[%d]: '%s' is not one of the users" % (index, name))
    role_specs = [dict(r) for r in params["roles"]]
    for index, spec in enumerate(role_specs):
        validate_role(client, spec, "roles[%d] (%s)" % (index, spec["name"]))
    if any(u.get("roles") is not None for u in users):
        client.require((3, 13, 0), "Role membership (users[].roles)")
    if params["prune_users"]:
        client.require((3, 10, 0), "prune_users (listing users)")
    rec = Reconciler(client, parallel=params["parallel"], check_mode=module.check_mode)
    have = rec.read_all() if params["prune_users"] else rec.read_users([u["username"] for u in users])
    roles_changed = []
    if any(u.get("roles") for u in users) or role_specs:
        known_roles = set(rec.role_ids()) | set(s["name"] for s in role_specs)
        for index, user in enumerate(users):
            for role in user.get("roles") or []:
                if role not in known_roles:
                    raise PlanError(
                        "users[%d] (%s): role '%s' does not exist in workspace '%s'"
                        % (index, user["username"], role, client.rbac_workspace())
                    )
    for user in users:
        if user["permissions"] is None:
            user["_wanted"] = None
    created_experiments = rec.resolve_permissions(
        [u for u in users if u["permissions"] is not None], params["create_experiments"]
    )

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
    if params["prune_users"]:
        listed = set(u["username"] for u in users)
        protected = [*params["protected_users"], client.username]
        for name in sorted(have):
            if name in listed or _protected(name, protected) or have[name]["is_admin"]:
                continue
            plans.append(
                (
                    {
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
                    },
                    {"username": name},
                )
            )
    changing = [(p, w) for p, w in plans if rec.plan_changes(p)]
    # Roles are written only now, after every check and read, so users can join new roles.
    if role_specs:
        role_state = RoleState(client)
        for spec in role_specs:
            changed_role, _before, _after = ensure_role(client, spec, module.check_mode, role_state)
            if changed_role:
                roles_changed.append(spec["name"])
        rec._roles = None  # pylint: disable=protected-access
    errors = []
    if changing and not module.check_mode:
        errors = rec.apply_all(changing)
    summaries = [plan_summary(p) for p, _w in changing]
    result = {
        "changed": bool(changing) or bool(created_experiments) or bool(roles_changed),
        "roles_changed": roles_changed,
        "users_changed": summaries,
        "created_users": [p["username"] for p, _w in changing if p["create"]],
        "deleted_users": [p["username"] for p, _w in changing if p["delete"]],
        "created_experiments": created_experiments,
        "counts": {
            "users": len(users),
            "users_changed": len(changing),
            "granted": sum(len(p["grant"]) for p, _w in changing),
            "updated": sum(len(p["update"]) for p, _w in changing),
            "revoked": sum(len(p["revoke"]) for p, _w in changing),
        },
    }
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = {
            "before": dict((p["username"], state_view(have.get(p["username"]))) for p, _w in changing),
            "after": dict((p["username"], planned_view(p, have.get(p["username"]))) for p, _w in changing),
        }
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
