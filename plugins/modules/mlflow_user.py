#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mlflow_user
short_description: Manage a user of an MLflow tracking server with basic auth
version_added: 1.0.0
description:
  - Creates, updates (password, admin flag) and deletes one user of MLflow's basic-auth app.
  - Works with MLflow 2.x and 3.x; the C(mlflow) package is not needed.
  - To manage hundreds of users and their grants in one call use M(mlflow_k8s.platform.mlflow_access).
options:
  username:
    description: Name of the MLflow user (for SSO users, their e-mail address).
    type: str
    required: true
  password:
    description:
      - Password of the user. Needed to create the user.
      - MLflow rejects passwords shorter than 12 characters; the module refuses them before calling the server.
    type: str
  update_password:
    description:
      - V(always) verifies the current password with an authenticated read as the user and changes it only
        when it does not match (one extra request).
      - V(on_create) sets the password only when the user is created.
    type: str
    default: always
    choices: [always, on_create]
  is_admin:
    description: Whether the user is an MLflow admin. Left unchanged when not given.
    type: bool
  state:
    description: Whether the user exists.
    type: str
    default: present
    choices: [present, absent]
extends_documentation_fragment:
  - mlflow_k8s.platform.mlflow
attributes:
  check_mode:
    support: full
    description: Reads the user and, with O(update_password=always), probes the password; writes nothing.
  diff_mode:
    support: full
    description: Shows the user's existence, admin flag and whether the password changes, never the password.
author:
  - mlflow_k8s.platform contributors (@mlflow-k8s)
notes:
  - The module refuses to delete the user it logs in as and the last admin.
  - Passwords are never returned or shown in diffs; the diff shows C(password_changed).
"""

EXAMPLES = r"""
- name: Create a service account
  mlflow_k8s.platform.mlflow_user:
    tracking_uri: http://mlflow.mlflow.svc.cluster.local:5000
    auth_username: admin
    auth_password: "{{ mlflow_admin_password }}"
    username: svc-training
    password: "{{ vault_svc_training_password }}"
  no_log: true

- name: Make alice an admin
  mlflow_k8s.platform.mlflow_user:
    username: alice@example.com
    password: "{{ bridge_password }}"
    is_admin: true
  environment:
    MLFLOW_TRACKING_URI: http://127.0.0.1:5000
    MLFLOW_TRACKING_USERNAME: admin
    MLFLOW_TRACKING_PASSWORD: "{{ mlflow_admin_password }}"

- name: Remove a user
  mlflow_k8s.platform.mlflow_user:
    tracking_uri: http://127.0.0.1:5000
    auth_username: admin
    auth_password: "{{ mlflow_admin_password }}"
    username: bob@example.com
    state: absent
"""

RETURN = r"""
user:
  description: The user after the task (absent users give null).
  returned: always
  type: dict
  contains:
    id:
      description: MLflow user id (null when the user would be created in check mode).
      type: int
    username:
      description: User name.
      type: str
    is_admin:
      description: Admin flag.
      type: bool
password_changed:
  description: Whether the password was (or in check mode would be) set or changed.
  returned: always
  type: bool
mlflow_version:
  description: Version reported by the server.
  returned: always
  type: str
  sample: 3.17.2
api_flavor:
  description: Permission API used, V(legacy) (before 3.13) or V(rbac).
  returned: always
  type: str
http_requests:
  description: Number of HTTP requests the module made.
  returned: always
  type: int
"""

from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_client import (
    VERIFY_ALWAYS,
    MlflowAuthError,
    password_problem,
)
from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_module import mlflow_module, run


def _count_other_admins(client, username):
    if client.version >= (3, 13, 0):
        return len([u for u in client.list_users() if u.get("is_admin") and u["username"] != username])
    # Before 3.13 users/list has no admin flag; the login user is the admin that remains.
    me = client.get_user(client.username)
    return 1 if me and me.get("is_admin") and me["username"] != username else 0


def body(module, client):
    params = module.params
    name = params["username"]
    password = params["password"]
    if params["state"] == "present" and password is not None:
        problem = password_problem(password)
        if problem:
            module.fail_json(msg="password of user '%s' %s" % (name, problem))
    have = client.get_user(name)
    before = {"username": name, "exists": have is not None, "is_admin": bool(have.get("is_admin")) if have else False}
    result = {"changed": False, "password_changed": False}
    if params["state"] == "absent":
        if have is not None:
            if name == client.username:
                module.fail_json(msg="refusing to delete user '%s': the module logs in as this user" % name)
            if have.get("is_admin") and _count_other_admins(client, name) == 0:
                module.fail_json(msg="refusing to delete user '%s': it is the last MLflow admin" % name)
            if not module.check_mode:
                client.delete_user(name)
            result["changed"] = True
        result["user"] = None
        after = {"username": name, "exists": False, "is_admin": False}
    else:
        want_admin = params["is_admin"]
        if have is None:
            if password is None:
                module.fail_json(msg="user '%s' does not exist; password is required to create it" % name)
            if not module.check_mode:
                try:
                    have = client.create_user(name, password)
                except MlflowAuthError as exc:
                    if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                        raise
                    have = client.get_user(name)
            else:
                have = {"id": None, "username": name, "is_admin": False}
            result.update(changed=True, password_changed=True)
        elif (
            password is not None
            and params["update_password"] == VERIFY_ALWAYS
            and not client.password_matches(name, password)
        ):
            if not module.check_mode:
                # The login user's own password goes through the self-service path (3.13+ needs it).
                current = client.password if name == client.username else None
                client.update_user_password(name, password, current_password=current)
            result.update(changed=True, password_changed=True)
        is_admin = bool(have.get("is_admin"))
        if want_admin is not None and want_admin != is_admin:
            if not want_admin and name == client.username:
                module.fail_json(msg="refusing to remove the admin flag of '%s': the module logs in as it" % name)
            if not want_admin and _count_other_admins(client, name) == 0:
                module.fail_json(msg="refusing to remove the admin flag of '%s': it is the last MLflow admin" % name)
            if not module.check_mode:
                client.update_user_admin(name, want_admin)
            is_admin = want_admin
            result["changed"] = True
        result["user"] = {"id": have.get("id"), "username": name, "is_admin": is_admin}
        after = {"username": name, "exists": True, "is_admin": is_admin, "password_changed": result["password_changed"]}
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = {"before": before, "after": after}
    return result


def main():
    module = mlflow_module(
        dict(
            username=dict(type="str", required=True),
            password=dict(type="str", no_log=True),
            update_password=dict(type="str", default="always", choices=["always", "on_create"], no_log=False),
            is_admin=dict(type="bool"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        )
    )
    run(module, body)


if __name__ == "__main__":
    main()
