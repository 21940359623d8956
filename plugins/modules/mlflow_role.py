#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mlflow_role
short_description: Manage an MLflow role, its permissions and its members (MLflow 3.13+)
version_added: 1.0.0
description:
  - Creates, updates and deletes a role in an MLflow workspace (O(workspace), C(default) when not set).
  - Adds permissions (resource type, pattern, level) and members; exclusive modes remove the ones not listed.
  - Roles exist from MLflow 3.13 on; older servers fail with "needs MLflow >= 3.13".
options:
  name:
    description: Role name.
    type: str
    required: true
  description:
    description: Role description; unchanged when not given.
    type: str
  permissions:
    description: Permissions of the role. Unmanaged when not given.
    type: list
    elements: dict
    suboptions:
      resource_type:
        description: Resource type (V(experiment), V(registered_model), V(prompt), V(workspace), ...).
        type: str
        required: true
      resource_pattern:
        description: Resource id or name, or V(*) for every resource of the type.
        type: str
        default: "*"
      permission:
        description: V(READ), V(USE), V(EDIT), V(MANAGE) or V(DENY) (3.17+).
        type: str
        required: true
  exclusive_permissions:
    description: Remove role permissions that O(permissions) does not list.
    type: bool
    default: false
  members:
    description: User names that hold the role. Unmanaged when not given.
    type: list
    elements: str
  exclusive_members:
    description: Remove members that O(members) does not list.
    type: bool
    default: false
  state:
    description: Whether the role exists.
    type: str
    default: present
    choices: [present, absent]
extends_documentation_fragment:
  - mlflow_k8s.platform.mlflow
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - mlflow_k8s.platform contributors
"""

EXAMPLES = r"""
- name: Data scientists may edit every experiment and read every model
  mlflow_k8s.platform.mlflow_role:
    tracking_uri: http://127.0.0.1:5000
    auth_username: admin
    auth_password: "{{ mlflow_admin_password }}"
    name: data-scientists
    description: Edit experiments, read models
    permissions:
      - resource_type: experiment
        permission: EDIT
      - resource_type: registered_model
        permission: READ
    exclusive_permissions: true
    members:
      - alice@example.com
"""

RETURN = r"""
role:
  description: The role after the task (null when absent).
  returned: always
  type: dict
  contains:
    id:
      description: Role id (null when it would be created in check mode).
      type: int
    name:
      description: Role name.
      type: str
    workspace:
      description: Workspace of the role.
      type: str
    description:
      description: Description.
      type: str
    permissions:
      description: C(resource_type:resource_pattern) -> level.
      type: dict
    members:
      description: User names holding the role.
      type: list
      elements: str
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

from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_client import RBAC_MIN_VERSION
from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_module import mlflow_module, run
from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_reconcile import PlanError


def _key(rtype, pattern):
    return "%s:%s" % (rtype, pattern)


def body(module, client):
    params = module.params
    client.require(RBAC_MIN_VERSION, "mlflow_role (roles)")
    workspace = client.rbac_workspace()
    for index, perm in enumerate(params["permissions"] or []):
        try:
            client.check_resource_type(perm["resource_type"])
            client.check_permission_level(perm["permission"])
        except Exception as exc:  # pylint: disable=broad-except
            raise PlanError("permissions[%d]: %s" % (index, getattr(exc, "message", exc)))
    role = None
    for candidate in client.list_roles(workspace):
        if candidate["name"] == params["name"]:
            role = candidate
    users = None
    members = []
    if role is not None:
        users = dict((u["id"], u["username"]) for u in client.list_users())
        members = sorted(users.get(a["user_id"], str(a["user_id"])) for a in client.list_role_users(role["id"]))
    before = None
    if role is not None:
        before = {"name": role["name"], "workspace": workspace, "description": role.get("description"),
                  "permissions": dict((_key(p["resource_type"], p["resource_pattern"]), p["permission"])
                                      for p in role.get("permissions", [])),
                  "members": members}
    write = not module.check_mode
    changed = False
    if params["state"] == "absent":
        if role is not None:
            if write:
                client.delete_role(role["id"])
            changed = True
        result = {"changed": changed, "role": None}
        if module._diff:  # pylint: disable=protected-access
            result["diff"] = {"before": before or {}, "after": {}}
        return result
    after = dict(before) if before else {"name": params["name"], "workspace": workspace,
                                         "description": params["description"], "permissions": {}, "members": []}
    after["permissions"] = dict(after["permissions"])
    role_id = role["id"] if role else None
    if role is None:
        changed = True
        if write:
            role_id = client.create_role(workspace, params["name"], params["description"])["id"]
    elif params["description"] is not None and params["description"] != role.get("description"):
        changed = True
        after["description"] = params["description"]
        if write:
            client.update_role(role_id, description=params["description"])
    if params["permissions"] is not None:
        existing = dict((_key(p["resource_type"], p["resource_pattern"]), p) for p in (role or {}).get("permissions", []))
        wanted = {}
        for perm in params["permissions"]:
            wanted[_key(perm["resource_type"], perm["resource_pattern"])] = perm
        for key, perm in sorted(wanted.items()):
            old = existing.get(key)
            if old is None:
                changed = True
                if write:
                    client.add_role_permission(role_id, perm["resource_type"], perm["resource_pattern"],
                                               perm["permission"])
            elif old["permission"] != perm["permission"]:
                changed = True
                if write:
                    client.update_role_permission(old["id"], perm["permission"])
            after["permissions"][key] = perm["permission"]
        if params["exclusive_permissions"]:
            for key, old in sorted(existing.items()):
                if key not in wanted:
                    changed = True
                    after["permissions"].pop(key, None)
                    if write:
                        client.remove_role_permission(old["id"])
    if params["members"] is not None:
        wanted_members = set(params["members"])
        if users is None:
            users = dict((u["id"], u["username"]) for u in client.list_users())
        missing = sorted(wanted_members - set(users.values()))
        if missing:
            raise PlanError("members: user(s) %s do not exist" % ", ".join(missing))
        add = sorted(wanted_members - set(members))
        remove = sorted(set(members) - wanted_members) if params["exclusive_members"] else []
        for name in add:
            if write:
                client.assign_role(name, role_id)
        for name in remove:
            if write:
                client.unassign_role(name, role_id)
        if add or remove:
            changed = True
        after["members"] = sorted((set(members) | set(add)) - set(remove))
    result = {"changed": changed, "role": dict(after, id=role_id)}
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = {"before": before or {}, "after": after}
    return result


def main():
    module = mlflow_module(dict(
        name=dict(type="str", required=True),
        description=dict(type="str"),
        permissions=dict(type="list", elements="dict", options=dict(
            resource_type=dict(type="str", required=True),
            resource_pattern=dict(type="str", default="*"),
            permission=dict(type="str", required=True),
        )),
        exclusive_permissions=dict(type="bool", default=False),
        members=dict(type="list", elements="str"),
        exclusive_members=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ))
    run(module, body)


if __name__ == "__main__":
    main()
