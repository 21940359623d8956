#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

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
    description: Reads the role and reports what it would create, change or remove; writes nothing.
  diff_mode:
    support: full
    description: Shows the role's description, permissions and members before and after.
author:
  - mlflow_k8s.platform contributors (@mlflow-k8s)
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
from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_roles import (
    ROLE_PERMISSION_SPEC,
    ensure_role,
    validate_role,
)


def _without_id(view):
    return dict((k, v) for k, v in (view or {}).items() if k != "id")


def body(module, client):
    spec = dict(module.params)
    client.require(RBAC_MIN_VERSION, "mlflow_role")
    validate_role(client, spec, "role '%s'" % spec["name"])
    changed, before, after = ensure_role(client, spec, module.check_mode)
    result = {"changed": changed, "role": after}
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = {"before": _without_id(before), "after": _without_id(after)}
    return result


def main():
    module = mlflow_module(
        dict(
            name=dict(type="str", required=True),
            description=dict(type="str"),
            permissions=dict(type="list", elements="dict", options=ROLE_PERMISSION_SPEC),
            exclusive_permissions=dict(type="bool", default=False),
            members=dict(type="list", elements="str"),
            exclusive_members=dict(type="bool", default=False),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        )
    )
    run(module, body)


if __name__ == "__main__":
    main()
