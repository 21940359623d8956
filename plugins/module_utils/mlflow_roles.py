# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reconcile one MLflow role (3.13+): existence, description, permissions, members."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_client import (
    RBAC_MIN_VERSION,
    MlflowAuthError,
    format_version,
)
from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_reconcile import (
    WILDCARD_ONLY_TYPES,
    WORKSPACE_LEVELS,
    PlanError,
)

ROLE_PERMISSION_SPEC = dict(
    resource_type=dict(type="str", required=True),
    resource_pattern=dict(type="str", default="*"),
    permission=dict(type="str", required=True),
)


def _key(rtype, pattern):
    return "%s:%s" % (rtype, pattern)


def validate_role(client, spec, label):
    """Refuse, naming ``label`` and the permission entry, a role spec this server cannot hold."""
    if client.version < RBAC_MIN_VERSION:
        raise PlanError(
            "%s: roles need MLflow >= %s; the server runs %s."
            % (label, format_version(RBAC_MIN_VERSION), format_version(client.version))
        )
    if not spec.get("name"):
        raise PlanError("%s: name must not be empty" % label)
    for index, perm in enumerate(spec.get("permissions") or []):
        where = "%s.permissions[%d]" % (label, index)
        try:
            client.check_resource_type(perm["resource_type"], for_roles=True)
            client.check_permission_level(perm["permission"])
        except MlflowAuthError as exc:
            raise PlanError("%s: %s" % (where, exc.message)) from exc
        # MLflow refuses these only when the permission is written; refuse them before anything is.
        if perm["resource_type"] == "workspace" and perm["permission"] not in WORKSPACE_LEVELS:
            raise PlanError(
                "%s: workspace grants take only %s, not %s" % (where, " or ".join(WORKSPACE_LEVELS), perm["permission"])
            )
        if perm["resource_type"] in WILDCARD_ONLY_TYPES and (perm.get("resource_pattern") or "*") != "*":
            raise PlanError("%s: resource type '%s' takes only resource_pattern '*'" % (where, perm["resource_type"]))


class RoleState:
    """Roles of the workspace and user names, read once."""

    def __init__(self, client):
        self.client = client
        self.workspace = client.rbac_workspace()
        self.roles = dict((r["name"], r) for r in client.list_roles(self.workspace))
        self._users = None

    def users(self):
        if self._users is None:
            self._users = dict((u["id"], u["username"]) for u in self.client.list_users())
        return self._users


def ensure_role(client, spec, check_mode, state=None):
    """Bring one role to ``spec``; return (changed, before, after) views (before is None when new)."""
    state = state or RoleState(client)
    write = not check_mode
    role = state.roles.get(spec["name"])
    if spec.get("members") is not None and spec.get("state") != "absent":
        # Refused before the first write, not after the role was created or changed.
        missing = sorted(set(spec["members"]) - set(state.users().values()))
        if missing:
            raise PlanError("role '%s': member(s) %s do not exist" % (spec["name"], ", ".join(missing)))
    members = []
    if role is not None and (spec.get("members") is not None or spec.get("state") == "absent"):
        users = state.users()
        members = sorted(users.get(a["user_id"], str(a["user_id"])) for a in client.list_role_users(role["id"]))
    before = None
    if role is not None:
        before = {
            "name": role["name"],
            "workspace": state.workspace,
            "description": role.get("description"),
            "permissions": dict(
                (_key(p["resource_type"], p["resource_pattern"]), p["permission"]) for p in role.get("permissions", [])
            ),
        }
        if spec.get("members") is not None or spec.get("state") == "absent":
            before["members"] = members
    if spec.get("state") == "absent":
        if role is None:
            return False, None, None
        if write:
            client.delete_role(role["id"])
        return True, before, None
    changed = False
    after = (
        dict(before)
        if before
        else {
            "name": spec["name"],
            "workspace": state.workspace,
            "description": spec.get("description"),
            "permissions": {},
        }
    )
    after["permissions"] = dict(after["permissions"])
    role_id = role["id"] if role else None
    if role is None:
        changed = True
        if write:
            role_id = client.create_role(state.workspace, spec["name"], spec.get("description"))["id"]
    elif spec.get("description") is not None and spec["description"] != role.get("description"):
        changed = True
        after["description"] = spec["description"]
        if write:
            client.update_role(role_id, description=spec["description"])
    if spec.get("permissions") is not None:
        existing = dict(
            (_key(p["resource_type"], p["resource_pattern"]), p) for p in (role or {}).get("permissions", [])
        )
        wanted = dict((_key(p["resource_type"], p.get("resource_pattern") or "*"), p) for p in spec["permissions"])
        for key, perm in sorted(wanted.items()):
            old = existing.get(key)
            if old is None:
                changed = True
                if write:
                    client.add_role_permission(
                        role_id, perm["resource_type"], perm.get("resource_pattern") or "*", perm["permission"]
                    )
            elif old["permission"] != perm["permission"]:
                changed = True
                if write:
                    client.update_role_permission(old["id"], perm["permission"])
            after["permissions"][key] = perm["permission"]
        if spec.get("exclusive_permissions"):
            for key, old in sorted(existing.items()):
                if key not in wanted:
                    changed = True
                    after["permissions"].pop(key, None)
                    if write:
                        client.remove_role_permission(old["id"])
    if spec.get("members") is not None:
        wanted_members = set(spec["members"])
        add = sorted(wanted_members - set(members))
        remove = sorted(set(members) - wanted_members) if spec.get("exclusive_members") else []
        for name in add:
            if write:
                client.assign_role(name, role_id)
        for name in remove:
            if write:
                client.unassign_role(name, role_id)
        changed = changed or bool(add or remove)
        after["members"] = sorted((set(members) | set(add)) - set(remove))
    after["id"] = role_id
    if write and role is None:
        state.roles[spec["name"]] = {"id": role_id, "name": spec["name"], "permissions": []}
    return changed, before, after
