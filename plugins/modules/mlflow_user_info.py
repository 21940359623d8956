#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

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
    users = []
    for name in sorted(state):
        view = state_view(state[name])
        users.append(
            {
                "username": name,
                "id": state[name]["id"],
                "is_admin": view["is_admin"],
                "roles": view.get("roles", []),
                "permissions": view["permissions"],
            }
        )
    return {"changed": False, "users": users}


def main():
    module = mlflow_module(dict(usernames=dict(type="list", elements="str")))
    run(module, body)


if __name__ == "__main__":
    main()
