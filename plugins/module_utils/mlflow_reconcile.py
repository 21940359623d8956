# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Desired-state reconciliation of MLflow users, admin flags, direct grants and role memberships.

The whole current state is read first with as few requests as the server allows (on 3.13+ one
``users/list`` call returns every user with admin flag, roles and direct grants), the plan is
computed locally (grant = want - have, revoke = have - want), and only the differences are
written. Planning never writes, so check mode is the same code path minus ``apply``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_client import (
    RBAC_MIN_VERSION,
    MlflowAuthError,
    OptionNames,
    format_version,
    password_problem,
)

PERMISSION_SPEC = dict(
    resource_type=dict(type="str", default="experiment"),
    resource_id=dict(type="str"),
    experiment_name=dict(type="str"),
    permission=dict(type="str", default="READ"),
)


def grant_key(resource_type, resource_id):
    return "%s:%s" % (resource_type, resource_id)


def _canonical_id(resource_type, resource_id):
    resource_id = to_text(resource_id).strip()
    # MLflow canonicalises experiment ids ("01" -> "1"); compare the same way.
    if resource_type == "experiment" and re.match(r"^[0-9]+$", resource_id):
        return to_text(int(resource_id))
    return resource_id


# Grant id of an experiment that the apply step creates; never a real id (those are numbers).
NEW_EXPERIMENT = "(new experiment %s)"
# Resource types MLflow (3.17+) grants only as a whole ("*"), never per id.
WILDCARD_ONLY_TYPES = ("workspace", "run", "trace", "assessment", "logged_model", "review_queue")
# The only levels MLflow accepts on a workspace-wide grant.
WORKSPACE_LEVELS = ("USE", "MANAGE")


class PlanError(Exception):
    """Invalid desired state, found before any write."""


def entry_label(who, index, name=None, label=None):
    """How messages name one list entry: ``users[3] (bob)``, or the caller's own label for it."""
    base = label or "%s[%d]" % (who, index)
    return "%s (%s)" % (base, name) if name not in (None, "") else base


def permission_label(user, index):
    prefix = user.get("_label")
    return "%s.permissions[%d]" % (prefix, index) if prefix else "permissions[%d]" % index


def describe_resource(key, experiment_names=None):
    """``experiment 'fraud' (id 3)``, ``experiment 'new-one'`` (still to create), ``registered_model 'm'``."""
    rtype, rid = key
    if rtype != "experiment":
        return "%s '%s'" % (rtype, rid)
    name = (experiment_names or {}).get(rid)
    if rid.startswith("(new experiment "):
        return "experiment '%s'" % rid[len("(new experiment ") : -1]
    if name is not None:
        return "experiment '%s' (id %s)" % (name, rid)
    return "experiment '*'" if rid == "*" else "experiment id %s" % rid


def validate_users(client, users, who="users"):
    """Check a desired user list against the server's capabilities; raise PlanError naming the entry.

    Sets ``_label`` on each user: how later messages name the entry."""
    seen = {}
    for index, user in enumerate(users):
        name = user.get("username")
        label = entry_label(who, index, name, user.get("label"))
        user["_label"] = label
        if not name or not to_text(name).strip():
            raise PlanError("%s: username must not be empty" % label)
        if name in seen:
            raise PlanError("%s: the same user as %s" % (label, seen[name]))
        seen[name] = user.get("label") or "%s[%d]" % (who, index)
        if user.get("password") is not None:
            problem = password_problem(user["password"])
            if problem:
                raise PlanError("%s: password %s" % (label, problem))
        for pindex, perm in enumerate(user.get("permissions") or []):
            validate_permission(client, perm, "%s.permissions[%d]" % (label, pindex))


def validate_permission(client, perm, label):
    try:
        client.check_resource_type(perm["resource_type"])
        client.check_permission_level(perm["permission"])
    except MlflowAuthError as exc:
        raise PlanError("%s: %s" % (label, exc.message)) from exc
    has_id = perm.get("resource_id") not in (None, "")
    has_name = perm.get("experiment_name") not in (None, "")
    if has_id == has_name:
        raise PlanError("%s: give exactly one of resource_id or experiment_name" % label)
    if has_name and perm["resource_type"] != "experiment":
        raise PlanError("%s: experiment_name only applies to resource_type experiment" % label)
    if client.flavor == "legacy" and perm.get("resource_id") == "*":
        raise PlanError("%s: the pattern '*' needs MLflow >= 3.13 (role/grant API)" % label)
    if client.flavor == "rbac" and perm["resource_type"] in WILDCARD_ONLY_TYPES and perm.get("resource_id") != "*":
        # MLflow refuses these only when the grant is written; refuse them before anything is.
        raise PlanError("%s: resource type '%s' takes only resource_id '*'" % (label, perm["resource_type"]))


def require_roles(client, label, what):
    """Refuse ``what`` (roles, role membership) below MLflow 3.13."""
    if client.version < RBAC_MIN_VERSION:
        raise PlanError(
            "%s: %s needs MLflow >= %s; the server runs %s."
            % (label, what, format_version(RBAC_MIN_VERSION), format_version(client.version))
        )


class Reconciler:
    """Reads current state, plans and applies changes for a set of users."""

    def __init__(self, client, parallel=4, check_mode=False):
        self.client = client
        self.parallel = max(1, int(parallel))
        self.check_mode = check_mode
        self._experiments = None
        self._roles = None

    # ------------------------------------------------------------------ reading

    def _map(self, func, items):
        items = list(items)
        if self.parallel == 1 or len(items) < 2:
            return [func(item) for item in items]
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            return list(pool.map(func, items))

    def _normalise_rbac(self, user):
        grants = {}
        for (rtype, rid), perm in self.client.rbac_direct_grants(user).items():
            grants[(rtype, rid)] = perm
        ids = {}
        own = "__user_%s__" % user["id"]
        roles = {}
        workspace = self.client.rbac_workspace()
        for role in user.get("roles", []) or []:
            if role.get("workspace", "default") != workspace:
                continue
            if role.get("name") == own:
                for perm in role.get("permissions", []) or []:
                    ids[(perm["resource_type"], to_text(perm["resource_pattern"]))] = perm.get("id")
            else:
                roles[role["name"]] = role["id"]
        return {
            "id": user["id"],
            "username": user["username"],
            "is_admin": bool(user.get("is_admin")),
            "grants": grants,
            "grant_ids": ids,
            "roles": roles,
        }

    def _normalise_legacy(self, user):
        return {
            "id": user.get("id"),
            "username": user["username"],
            "is_admin": bool(user.get("is_admin")),
            "grants": self.client.legacy_user_permissions(user),
            "grant_ids": {},
            "roles": {},
        }

    def read_all(self):
        """Every user on the server (needs users/list, MLflow >= 3.10)."""
        users = self.client.list_users()
        if self.client.flavor == "rbac" and users and "is_admin" in users[0]:
            return dict((u["username"], self._normalise_rbac(u)) for u in users)
        names = [u["username"] for u in users]
        return self.read_users(names, known_to_exist=True)

    def read_users(self, usernames, known_to_exist=False):
        """State of the named users: {username: state}; absent users are left out."""
        usernames = list(usernames)
        if self.client.flavor == "rbac":
            wanted = set(usernames)
            return dict(
                (u["username"], self._normalise_rbac(u)) for u in self.client.list_users() if u["username"] in wanted
            )
        if not known_to_exist and self.client.version >= (3, 10, 0) and len(usernames) > 1:
            existing = set(u["username"] for u in self.client.list_users())
            usernames = [name for name in usernames if name in existing]
        found = self._map(self.client.get_user, usernames)
        return dict((u["username"], self._normalise_legacy(u)) for u in found if u)

    def logs_in(self, usernames, password):
        """For each name, whether ``password`` logs that user in (one password hash each)."""
        return self._map(lambda name: self.client.password_matches(name, password), usernames)

    def all_usernames(self):
        return [u["username"] for u in self.client.list_users()]

    # ------------------------------------------------------------------ resources

    def _find_experiments(self, names):
        """{name: (id, lifecycle_stage)} of the named experiments that exist, deleted ones included."""
        if len(names) > 1:
            return dict((n, self.all_experiments()[n]) for n in names if n in self.all_experiments())
        found = {}
        for name in names:
            exp = self.client.get_experiment_by_name(name)
            if exp:
                found[name] = (to_text(exp["experiment_id"]), exp.get("lifecycle_stage", "active"))
        return found

    def all_experiments(self):
        """{name: (id, lifecycle_stage)} of every experiment, read once (paged search)."""
        if self._experiments is None:
            self._experiments = dict(
                (e["name"], (to_text(e["experiment_id"]), e.get("lifecycle_stage", "active")))
                for e in self.client.search_experiments(view_type="ALL")
            )
        return self._experiments

    def plan_experiments(self, users, create, names=None):
        """Read-only: ``({name: id}, [names to create])`` for the experiments the users' permissions
        name; an experiment still to create gets the id ``NEW_EXPERIMENT % name``.

        Refuses, naming the first permission entry concerned, an experiment that is missing while
        ``create`` is false, and one that is deleted (MLflow cannot create its name again)."""
        names = names or OptionNames()
        wanted = []
        for user in users:
            for index, perm in enumerate(user.get("permissions") or []):
                if perm.get("experiment_name"):
                    wanted.append((permission_label(user, index), perm["experiment_name"]))
        if not wanted:
            return {}, []
        found = self._find_experiments(sorted(set(n for _label, n in wanted)))
        ids, new = {}, []
        for label, name in wanted:
            if name in ids:
                continue
            hit = found.get(name)
            if hit and hit[1] != "active":
                raise PlanError(
                    "%s: experiment '%s' is deleted; restore it, or delete it permanently (mlflow gc), "
                    "before naming it here" % (label, name)
                )
            if hit:
                ids[name] = hit[0]
            elif not create:
                raise PlanError(
                    "%s: experiment '%s' does not exist (set %s to create it)"
                    % (label, name, names("create_experiments"))
                )
            else:
                ids[name] = NEW_EXPERIMENT % name
                new.append(name)
        return ids, sorted(new)

    def create_experiments(self, names):
        """The write half of ``plan_experiments``: create them, return {name: id}."""
        created = {}
        for name in names:
            try:
                created[name] = to_text(self.client.create_experiment(name))
            except MlflowAuthError as exc:
                # Another run created it since the plan was made: use it.
                exp = self.client.get_experiment_by_name(name) if exc.error_code == "RESOURCE_ALREADY_EXISTS" else None
                if not exp or exp.get("lifecycle_stage", "active") != "active":
                    raise
                created[name] = to_text(exp["experiment_id"])
        return created

    @staticmethod
    def bind_experiments(plans, created):
        """Put the ids of the experiments just created into the grants of the plans."""
        ids = dict((NEW_EXPERIMENT % name, eid) for name, eid in created.items())
        for plan in plans:
            plan["grant"] = [
                ((rtype, ids.get(rid, rid) if rtype == "experiment" else rid), level)
                for (rtype, rid), level in plan["grant"]
            ]

    def experiment_names(self, plans, have, known):
        """{id: name} for every experiment id in the plans and current states (for diffs)."""
        names = dict((eid, name) for name, eid in known.items())
        ids = set()
        for plan in plans:
            state = have.get(plan["username"]) or {"grants": {}}
            for rtype, rid in list(state["grants"]) + [key for key, _level in plan["grant"]]:
                if rtype == "experiment" and rid not in names and rid != "*" and not rid.startswith("(new "):
                    ids.add(rid)
        if ids:
            names.update((eid, name) for name, (eid, _stage) in self.all_experiments().items())
        return names

    def role_ids(self):
        if self._roles is None:
            workspace = self.client.rbac_workspace()
            self._roles = dict(
                (r["name"], r["id"]) for r in self.client.list_roles(workspace) if not r["name"].startswith("__user_")
            )
        return self._roles

    @staticmethod
    def resolve_permissions(users, experiment_ids):
        """Turn permission specs into ``{(type, id): level}`` per user (``user["_wanted"]``), with the
        ids of ``plan_experiments``. Pure: refuses a resource listed twice with different levels."""
        names = dict((eid, name) for name, eid in experiment_ids.items())
        for user in users:
            wanted, where = {}, {}
            for index, perm in enumerate(user.get("permissions") or []):
                rtype = perm["resource_type"]
                name = perm.get("experiment_name")
                rid = experiment_ids[name] if name else perm["resource_id"]
                key = (rtype, _canonical_id(rtype, rid))
                if key in wanted and wanted[key] != perm["permission"]:
                    raise PlanError(
                        "%s: %s is also in permissions[%d], with permission %s (here %s)"
                        % (
                            permission_label(user, index),
                            describe_resource(key, names),
                            where[key],
                            wanted[key],
                            perm["permission"],
                        )
                    )
                where.setdefault(key, index)
                wanted[key] = perm["permission"]
            user["_wanted"] = wanted

    # ------------------------------------------------------------------ planning

    def plan_user(self, want, have, verify_passwords=False, exclusive_permissions=True, exclusive_roles=True):
        """Changes for one user. ``want`` keys: username, password, is_admin, _wanted, roles."""
        plan = {
            "username": want["username"],
            "create": have is None,
            "password": None,
            "is_admin": None,
            "grant": [],
            "update": [],
            "revoke": [],
            "assign": [],
            "unassign": [],
            "delete": False,
        }
        current = have or {"is_admin": False, "grants": {}, "grant_ids": {}, "roles": {}}
        if have is None and not want.get("password"):
            raise PlanError(
                "%s: does not exist and has no password to create it with"
                % want.get("_label", "user '%s'" % want["username"])
            )
        # Verifying costs the server one password hash per user, so it is opt-in.
        if have is not None and want.get("password") and verify_passwords:
            plan["password"] = not self.client.password_matches(want["username"], want["password"]) or None
        if want.get("is_admin") is not None and bool(want["is_admin"]) != current["is_admin"]:
            plan["is_admin"] = bool(want["is_admin"])
        wanted = want.get("_wanted")
        if wanted is not None:
            for key, level in sorted(wanted.items()):
                old = current["grants"].get(key)
                if old is None:
                    plan["grant"].append((key, level))
                elif old != level:
                    plan["update"].append((key, old, level, current["grant_ids"].get(key)))
            if exclusive_permissions:
                for key, old in sorted(current["grants"].items()):
                    if key not in wanted:
                        plan["revoke"].append((key, old, current["grant_ids"].get(key)))
        if want.get("roles") is not None:
            roles = set(want["roles"])
            plan["assign"] = sorted(roles - set(current["roles"]))
            if exclusive_roles:
                plan["unassign"] = sorted(set(current["roles"]) - roles)
        return plan

    @staticmethod
    def plan_changes(plan):
        return bool(
            plan["create"]
            or plan["password"]
            or plan["is_admin"] is not None
            or plan["grant"]
            or plan["update"]
            or plan["revoke"]
            or plan["assign"]
            or plan["unassign"]
            or plan["delete"]
        )

    # ------------------------------------------------------------------ applying

    def apply_user(self, plan, want):
        client = self.client
        name = plan["username"]
        if plan["delete"]:
            client.delete_user(name)
            return
        if plan["create"]:
            try:
                client.create_user(name, want["password"])
            except MlflowAuthError as exc:
                # Another run created it meanwhile: the plan's later steps still apply.
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
        elif plan["password"]:
            # Changing the login user's own password is the self-service path (3.13+ needs it).
            current = client.password if name == client.username else None
            client.update_user_password(name, want["password"], current_password=current)
            if name == client.username:
                client.password = want["password"]
        if plan["is_admin"] is not None:
            client.update_user_admin(name, plan["is_admin"])
        rbac = client.flavor == "rbac"
        for (rtype, rid), _old, _grant_id in plan["revoke"]:
            if rbac:
                client.revoke(name, rtype, rid)
            else:
                client.legacy_delete_permission(name, rtype, rid)
        for (rtype, rid), _old, level, grant_id in plan["update"]:
            if rbac and grant_id is not None:
                client.update_role_permission(grant_id, level)
            elif rbac:
                client.revoke(name, rtype, rid)
                client.grant(name, rtype, rid, level)
            else:
                client.legacy_set_permission(name, rtype, rid, level, exists=True)
        for (rtype, rid), level in plan["grant"]:
            if rbac:
                client.grant(name, rtype, rid, level)
            else:
                client.legacy_set_permission(name, rtype, rid, level, exists=False)
        if plan["assign"] or plan["unassign"]:
            roles = self.role_ids()
            for role in plan["unassign"]:
                client.unassign_role(name, roles[role])
            for role in plan["assign"]:
                client.assign_role(name, roles[role])

    def apply_all(self, pairs):
        """Apply [(plan, want)] with bounded parallelism; return the errors as [(username, message)]."""
        errors = []

        def run(pair):
            plan, want = pair
            try:
                self.apply_user(plan, want)
            except MlflowAuthError as exc:
                errors.append((plan["username"], exc.message))

        self._map(run, pairs)
        return errors


def state_view(have, describe=grant_key):
    """Secret-free view of a user's state for diffs and return values; ``describe`` names the
    permission keys (``grant_key``: ``experiment:3``)."""
    if have is None:
        return None
    view = {
        "is_admin": have["is_admin"],
        "permissions": dict((describe(*key), level) for key, level in sorted(have["grants"].items())),
    }
    if have.get("roles"):
        view["roles"] = sorted(have["roles"])
    return view


def planned_view(plan, have, describe=grant_key):
    """The state a plan leads to, in the same shape as ``state_view``."""
    if plan["delete"]:
        return None
    before = state_view(have, describe) or {"is_admin": False, "permissions": {}}
    after = {
        "is_admin": before["is_admin"] if plan["is_admin"] is None else plan["is_admin"],
        "permissions": dict(before["permissions"]),
    }
    for key, _old, _grant_id in plan["revoke"]:
        after["permissions"].pop(describe(*key), None)
    for key, _old, level, _grant_id in plan["update"]:
        after["permissions"][describe(*key)] = level
    for key, level in plan["grant"]:
        after["permissions"][describe(*key)] = level
    roles = set(before.get("roles", [])) - set(plan["unassign"]) | set(plan["assign"])
    if roles:
        after["roles"] = sorted(roles)
    if plan["password"] or plan["create"]:
        after["password_changed"] = True
    return after


def plan_summary(plan):
    """Secret-free description of one user's planned changes, for return values."""
    return {
        "username": plan["username"],
        "created": plan["create"],
        "deleted": plan["delete"],
        "password_changed": bool(plan["password"]) and not plan["create"],
        "is_admin": plan["is_admin"],
        "granted": [dict(resource_type=k[0], resource_id=k[1], permission=lvl) for k, lvl in plan["grant"]],
        "updated": [
            dict(resource_type=k[0], resource_id=k[1], old=o, permission=lvl) for k, o, lvl, _i in plan["update"]
        ],
        "revoked": [dict(resource_type=k[0], resource_id=k[1], permission=o) for k, o, _i in plan["revoke"]],
        "roles_assigned": plan["assign"],
        "roles_unassigned": plan["unassign"],
    }
