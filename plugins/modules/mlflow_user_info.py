#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mlflow_user_info
short_description: Report MLflow users, their admin flag, roles and direct permissions
version_added: 1.0.0
description:
  - Lists users of an MLflow server with basic auth, for reports and for deciding what to prune.
  - MLflow 3.13+ answers with one request; 3.10-3.12 need one extra request per user;
    before 3.10 MLflow cannot list users, so O(usernames) must be given.
options:
  usernames:
    description: Only report these users (absent ones are left out). All users when not given.
    type: list
    elements: str
  sso_password:
    description:
      - The SSO bridge password (the one oauth2-proxy sends for every SSO user). Each reported user
        gets RV(users[].sso), true when this password logs the user in.
      - Costs the server one password hash per user.
    type: str
extends_documentation_fragment:
  - mlflow_k8s.platform.mlflow
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
author:
  - mlflow_k8s.platform contributors (@mlflow-k8s)
"""

EXAMPLES = r"""
- name: Who has access
  mlflow_k8s.platform.mlflow_user_info:
    tracking_uri: http://127.0.0.1:5000
    auth_username: admin
    auth_password: "{{ mlflow_admin_password }}"
  register: mlflow_users_report

- name: Which users log in with the SSO bridge password, and their grants as mlflow_access takes them
  mlflow_k8s.platform.mlflow_user_info:
    tracking_uri: http://127.0.0.1:5000
    auth_username: admin
    auth_password: "{{ mlflow_admin_password }}"
    sso_password: "{{ mlflow_bridge_password }}"
  register: mlflow_users_report
"""

RETURN = r"""
users:
  description: The users, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    username:
      description: User name.
      type: str
    id:
      description: User id.
      type: int
    is_admin:
      description: Admin flag.
      type: bool
    roles:
      description: Roles in the workspace (MLflow 3.13+), without the per-user grant role.
      type: list
      elements: str
    permissions:
      description: Direct grants, C(resource_type:resource_id) -> level.
      type: dict
    grants:
      description:
        - The same direct grants as a list in the format of the
          O(mlflow_k8s.platform.mlflow_access#module:users[].permissions) option, sorted by
          resource type and id, so a report can be fed back as desired state.
      type: list
      elements: dict
      contains:
        resource_type:
          description: Resource type.
          type: str
        resource_id:
          description: Experiment id, model name or other resource id.
          type: str
        permission:
          description: Permission level.
          type: str
    sso:
      description: Whether O(sso_password) logs the user in.
      returned: when O(sso_password) is given
      type: bool
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

from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_module import mlflow_module, run
from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_reconcile import Reconciler, state_view


def body(module, client):
    rec = Reconciler(client, parallel=4)
    names = module.params["usernames"]
    if names is None:
        client.require((3, 10, 0), "Listing all users (without usernames)")
        state = rec.read_all()
    else:
        state = rec.read_users(names)
    found = sorted(state)
    sso_password = module.params["sso_password"]
    sso = rec.logs_in(found, sso_password) if sso_password else None
    users = []
    for index, name in enumerate(found):
        view = state_view(state[name])
        user = {
            "username": name,
            "id": state[name]["id"],
            "is_admin": view["is_admin"],
            "roles": view.get("roles", []),
            "permissions": view["permissions"],
            "grants": [
                {"resource_type": rtype, "resource_id": rid, "permission": level}
                for (rtype, rid), level in sorted(state[name]["grants"].items())
            ],
        }
        if sso is not None:
            user["sso"] = sso[index]
        users.append(user)
    return {"changed": False, "users": users}


def main():
    module = mlflow_module(
        dict(usernames=dict(type="list", elements="str"), sso_password=dict(type="str", no_log=True))
    )
    run(module, body)


if __name__ == "__main__":
    main()
