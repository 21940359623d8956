#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mlflow_permission
short_description: Manage a user's direct permissions on MLflow resources
version_added: 1.0.0
description:
  - Grants, changes and revokes a user's direct permission on an experiment (by id or by name), a registered
    model, a prompt or another resource type the server supports.
  - Uses the per-resource permission endpoints before MLflow 3.13 and the grant/revoke endpoints from 3.13.
  - Only direct grants are compared, never the effective permission that roles or defaults add.
options:
  username:
    description: The user.
    type: str
    required: true
  resource_type:
    description:
      - Resource type of a single permission, V(experiment) and V(registered_model) on every version;
        V(prompt), V(scorer), V(workspace), V(gateway_*) and more on MLflow 3.13+.
      - Mutually exclusive with O(permissions).
    type: str
    default: experiment
  resource_id:
    description: Experiment id, model or prompt name, other resource id, or V(*) (MLflow 3.13+).
    type: str
  experiment_name:
    description: Experiment given by name instead of O(resource_id).
    type: str
  permission:
    description: V(READ), V(USE) (3.10+), V(EDIT), V(MANAGE) or V(DENY) (3.17+).
    type: str
    default: READ
  permissions:
    description: Several permissions at once; each item takes the keys of the single form.
    type: list
    elements: dict
    suboptions:
      resource_type:
        description: Resource type.
        type: str
        default: experiment
      resource_id:
        description: Resource id or name.
        type: str
      experiment_name:
        description: Experiment name instead of the id.
        type: str
      permission:
        description: Permission level.
        type: str
        default: READ
  state:
    description: V(present) grants (or changes the level), V(absent) revokes the listed direct grants.
    type: str
    default: present
    choices: [present, absent]
  exclusive:
    description: With O(state=present), revoke the user's direct grants that the task does not list.
    type: bool
    default: false
  create_experiments:
    description: Create experiments named by O(experiment_name) that do not exist yet.
    type: bool
    default: false
extends_documentation_fragment:
  - mlflow_k8s.platform.mlflow
attributes:
  check_mode:
    support: full
    description: Reads the user's direct grants and reports the grants it would add, change or revoke; writes nothing.
  diff_mode:
    support: full
    description: Shows the user's direct grants before and after.
author:
  - mlflow_k8s.platform contributors (@mlflow-k8s)
"""

EXAMPLES = r"""
- name: Bob may edit the fraud-detection experiment (created if missing)
  mlflow_k8s.platform.mlflow_permission:
    tracking_uri: http://127.0.0.1:5000
    auth_username: admin
    auth_password: "{{ mlflow_admin_password }}"
    username: bob@example.com
    experiment_name: fraud-detection
    permission: EDIT
    create_experiments: true

- name: Exactly these grants for the training service account
  mlflow_k8s.platform.mlflow_permission:
    tracking_uri: http://127.0.0.1:5000
    auth_username: admin
    auth_password: "{{ mlflow_admin_password }}"
    username: svc-training
    exclusive: true
    permissions:
      - resource_id: "1"
        permission: MANAGE
      - resource_type: registered_model
        resource_id: fraud-model
        permission: EDIT
"""

RETURN = r"""
permissions:
  description: Direct grants of the user after the task, C(resource_type:resource_id) -> level.
  returned: always
  type: dict
  sample: {"experiment:1": "EDIT"}
granted:
  description: Grants added.
  returned: always
  type: list
  elements: dict
updated:
  description: Grants whose level changed.
  returned: always
  type: list
  elements: dict
revoked:
  description: Grants removed.
  returned: always
  type: list
  elements: dict
created_experiments:
  description: Experiments created.
  returned: always
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

from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_module import mlflow_module, run
from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_reconcile import (
    PERMISSION_SPEC,
    PlanError,
    Reconciler,
    plan_summary,
    planned_view,
    state_view,
    validate_permission,
)


def body(module, client):
    params = module.params
    if params["permissions"] is not None:
        perms = [dict(p) for p in params["permissions"]]
    else:
        perms = [dict((k, params[k]) for k in PERMISSION_SPEC)]
    for index, perm in enumerate(perms):
        validate_permission(client, perm, "permissions[%d]" % index)
    rec = Reconciler(client, parallel=1, check_mode=module.check_mode)
    name = params["username"]
    have = rec.read_users([name]).get(name)
    if have is None:
        raise PlanError("user '%s' does not exist" % name)
    want = {"username": name, "permissions": perms}
    new_experiments = []
    # Plan (reads only; every refusal happens here), then apply.
    if params["state"] == "present":
        ids, new_experiments = rec.plan_experiments([want], params["create_experiments"], client.names)
        rec.resolve_permissions([want], ids)
        wanted = dict(want["_wanted"])
        if not params["exclusive"]:
            merged = dict(have["grants"])
            merged.update(wanted)
            wanted = merged
        plan = rec.plan_user({"username": name, "_wanted": wanted}, have, exclusive_permissions=True)
    else:
        keep = [p for p in perms if not p.get("experiment_name")]
        for perm in perms:
            if perm.get("experiment_name"):
                exp = client.get_experiment_by_name(perm["experiment_name"])
                if exp:
                    keep.append(dict(perm, experiment_name=None, resource_id=str(exp["experiment_id"])))
        want["permissions"] = keep
        rec.resolve_permissions([want], {})
        wanted = dict((k, v) for k, v in have["grants"].items() if k not in want["_wanted"])
        plan = rec.plan_user({"username": name, "_wanted": wanted}, have, exclusive_permissions=True)
    changed = rec.plan_changes(plan)
    if new_experiments and not module.check_mode:
        rec.bind_experiments([plan], rec.create_experiments(new_experiments))
    if changed and not module.check_mode:
        errors = rec.apply_all([(plan, want)])
        if errors:
            module.fail_json(msg=errors[0][1])
    summary = plan_summary(plan)
    after = planned_view(plan, have)
    result = {
        "changed": changed or bool(new_experiments),
        "permissions": after["permissions"],
        "granted": summary["granted"],
        "updated": summary["updated"],
        "revoked": summary["revoked"],
        "created_experiments": new_experiments,
    }
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = {"before": state_view(have)["permissions"], "after": after["permissions"]}
    return result


def main():
    module = mlflow_module(
        dict(
            username=dict(type="str", required=True),
            resource_type=dict(type="str", default="experiment"),
            resource_id=dict(type="str"),
            experiment_name=dict(type="str"),
            permission=dict(type="str", default="READ"),
            permissions=dict(type="list", elements="dict", options=PERMISSION_SPEC),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            exclusive=dict(type="bool", default=False),
            create_experiments=dict(type="bool", default=False),
        ),
        mutually_exclusive=[
            ["permissions", "resource_id"],
            ["permissions", "experiment_name"],
            ["resource_id", "experiment_name"],
        ],
    )
    run(module, body)


if __name__ == "__main__":
    main()
