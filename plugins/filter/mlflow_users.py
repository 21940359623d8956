# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the mlflow_users role: its input checks, and its users as mlflow_access entries.

The checks are the ones that need no server: types (a string where a list belongs is refused,
never iterated per character), keys, e-mail syntax, passwords, permission levels, duplicates and
admins. Every message names the variable and the entry (index and name), like the module's
own messages, and never contains a password.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_client import password_problem
from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_reconcile import (
    describe_resource,
    entry_label,
)

SSO = "mlflow_users_sso_users"
API = "mlflow_users_api_users"
ADMINS = "mlflow_users_admins"
ROLES = "mlflow_users_roles"
PROTECTED = "mlflow_users_protected_users"

# Levels in the order the documentation gives them; which ones a server accepts is the module's check.
LEVELS = ("READ", "USE", "EDIT", "MANAGE", "DENY")
USER_KEYS = {SSO: ("email", "permissions", "roles"), API: ("username", "password", "permissions", "roles")}
KEY_HINTS = {
    (SSO, "password"): " (their password is the SSO bridge password)",
    (SSO, "is_admin"): " (admins are listed in %s)" % ADMINS,
    (API, "is_admin"): " (admins are listed in %s)" % ADMINS,
    (SSO, "username"): " (the user name of an SSO user is its email)",
    (API, "email"): " (API users are named by username)",
}
PERMISSION_KEYS = ("resource_type", "resource_id", "experiment_name", "permission")
ROLE_KEYS = ("name", "description", "permissions", "exclusive_permissions")
ROLE_PERMISSION_KEYS = ("resource_type", "resource_pattern", "permission")
MAX_PROBLEMS = 50


def _is_list(value):
    return isinstance(value, list)


def _kind(value):
    """What a value is, for messages; strings are shown only where the caller allows it."""
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return "a %s" % type(value).__name__


def _shown(value):
    """A string that holds names only, shown in the message."""
    return "the string '%s'" % value if isinstance(value, str) else _kind(value)


def _name(value):
    return value if isinstance(value, str) and value.strip() else None


class _Checker:
    def __init__(self, email_pattern):
        self.email = re.compile(email_pattern)
        self.problems = []

    def add(self, message):
        self.problems.append(message)

    def unknown_keys(self, label, entry, allowed, what, variable=None):
        for key in entry:
            if key not in allowed:
                hint = KEY_HINTS.get((variable, key), "")
                self.add("%s: unknown key '%s'; %s take %s%s" % (label, key, what, ", ".join(allowed), hint))

    def names_list(self, label, value, what):
        """A list of strings (user or role names); True when it is one."""
        if not _is_list(value):
            self.add("%s: must be a list of %s, got %s" % (label, what, _shown(value)))
            return False
        for index, item in enumerate(value):
            if not _name(item):
                self.add("%s[%d]: must be a non-empty string, got %s" % (label, index, _shown(item)))
        return True

    def level(self, label, perm):
        level = perm.get("permission", "READ")
        if level in LEVELS:
            return
        hint = ""
        if isinstance(level, str) and level.strip().upper() in LEVELS:
            hint = " (upper case: %s)" % level.strip().upper()
        shown = ("'%s'" % level) if isinstance(level, str) else _kind(level)
        self.add("%s: unknown permission level %s; use one of %s%s" % (label, shown, ", ".join(LEVELS), hint))

    def user_permissions(self, label, permissions):
        if permissions is None:  # not managed
            return
        if not _is_list(permissions):
            self.add("%s.permissions: must be a list of permissions, got %s" % (label, _kind(permissions)))
            return
        seen = {}
        for index, perm in enumerate(permissions):
            where = "%s.permissions[%d]" % (label, index)
            if not isinstance(perm, Mapping):
                self.add(
                    "%s: must be a mapping, got %s (for example {experiment_name: NAME, permission: READ})"
                    % (where, _shown(perm))
                )
                continue
            self.unknown_keys(where, perm, PERMISSION_KEYS, "permissions")
            self.level(where, perm)
            rtype = perm.get("resource_type", "experiment")
            if not _name(rtype):
                self.add("%s: resource_type must be a non-empty string, got %s" % (where, _shown(rtype)))
                continue
            rid, name = perm.get("resource_id"), perm.get("experiment_name")
            has_id, has_name = rid not in (None, ""), name not in (None, "")
            if has_id == has_name:
                self.add("%s: give exactly one of resource_id or experiment_name" % where)
                continue
            if has_name and rtype != "experiment":
                self.add("%s: experiment_name only applies to resource_type experiment" % where)
                continue
            if has_name and not isinstance(name, str):
                self.add("%s: experiment_name must be a string, got %s" % (where, _kind(name)))
                continue
            if has_id and (isinstance(rid, bool) or not isinstance(rid, (str, int))):
                self.add("%s: resource_id must be a string, got %s" % (where, _kind(rid)))
                continue
            if has_name:
                key, shown = ("experiment name", name), describe_resource(("experiment", "(new experiment %s)" % name))
            else:
                rid = str(rid).strip()
                if rtype == "experiment" and rid.isdigit():
                    rid = str(int(rid))
                key, shown = (rtype, rid), describe_resource((rtype, rid))
            level = perm.get("permission", "READ")
            if key in seen and seen[key][1] != level:
                self.add(
                    "%s: %s is also in permissions[%d], with permission %s (here %s)"
                    % (where, shown, seen[key][0], seen[key][1], level)
                )
            seen.setdefault(key, (index, level))

    def users(self, variable, entries, name_key):
        """Check one user list; return [(label, user name)] of its entries that have a name."""
        named = []
        for index, user in enumerate(entries):
            if not isinstance(user, Mapping):
                self.add(
                    "%s: must be a mapping with %s, got %s" % (entry_label(variable, index), name_key, _kind(user))
                )
                continue
            name = user.get(name_key)
            label = entry_label(variable, index, _name(name))
            what = "SSO users" if variable == SSO else "API users"
            self.unknown_keys(label, user, USER_KEYS[variable], what, variable)
            if name_key not in user or name is None:
                self.add("%s: %s is missing" % (label, name_key))
            elif not isinstance(name, str):
                self.add("%s: %s must be a string, got %s" % (label, name_key, _kind(name)))
            elif not name.strip():
                self.add("%s: %s must not be empty" % (label, name_key))
            elif variable == SSO and not self.email.match(name):
                self.add("%s: email is not an e-mail address" % label)
            else:
                named.append((entry_label(variable, index), name))
            if variable == API and "password" in user:
                password = user["password"]
                if password is None:
                    self.add("%s: password is empty; leave the key out to keep the user's password" % label)
                elif not isinstance(password, str):
                    self.add("%s: password must be a string (quote it), got %s" % (label, _kind(password)))
                elif password_problem(password):
                    self.add("%s: password %s" % (label, password_problem(password)))
            self.user_permissions(label, user.get("permissions"))
            if "roles" in user and user["roles"] is not None:
                self.names_list("%s.roles" % label, user["roles"], "role names")
        return named

    def roles(self, entries):
        seen = {}
        for index, role in enumerate(entries):
            if not isinstance(role, Mapping):
                self.add("%s: must be a mapping with name, got %s" % (entry_label(ROLES, index), _kind(role)))
                continue
            name = _name(role.get("name"))
            label = entry_label(ROLES, index, name)
            self.unknown_keys(label, role, ROLE_KEYS, "roles")
            if name is None:
                self.add("%s: name is missing" % label)
            elif name in seen:
                self.add("%s: the same role as %s" % (label, seen[name]))
            else:
                seen[name] = entry_label(ROLES, index)
            permissions = role.get("permissions")
            if permissions is None:
                continue
            if not _is_list(permissions):
                self.add("%s.permissions: must be a list of permissions, got %s" % (label, _kind(permissions)))
                continue
            for pindex, perm in enumerate(permissions):
                where = "%s.permissions[%d]" % (label, pindex)
                if not isinstance(perm, Mapping):
                    self.add(
                        "%s: must be a mapping, got %s (for example {resource_type: experiment, permission: READ})"
                        % (where, _shown(perm))
                    )
                    continue
                self.unknown_keys(where, perm, ROLE_PERMISSION_KEYS, "role permissions")
                if not _name(perm.get("resource_type")):
                    self.add("%s: resource_type is missing" % where)
                if "permission" not in perm:
                    self.add("%s: permission is missing" % where)
                else:
                    self.level(where, perm)


def mlflow_users_problems(variables, email_pattern):
    """Everything wrong with the mlflow_users variables that needs no server, as messages."""
    if not isinstance(variables, Mapping):
        raise AnsibleFilterError("mlflow_users_problems expects a mapping of the role's variables")
    check = _Checker(email_pattern)
    lists = {}
    for variable in (SSO, API, ROLES):
        value = variables.get(variable, [])
        if _is_list(value):
            lists[variable] = value
        else:
            # Never shown: a key=value string may hold a password.
            check.add("%s: must be a list of mappings, got %s" % (variable, _kind(value)))
            lists[variable] = []
    admins = variables.get(ADMINS, [])
    admins_ok = check.names_list(ADMINS, admins, "user names")
    check.names_list(PROTECTED, variables.get(PROTECTED, []), "user names or patterns")

    first = {}
    for variable, name_key in ((SSO, "email"), (API, "username")):
        for label, name in check.users(variable, lists[variable], name_key):
            if name in first:
                check.add("%s (%s): the same user as %s" % (label, name, first[name]))
            else:
                first[name] = label
    check.roles(lists[ROLES])
    if admins_ok:
        for index, name in enumerate(admins):
            if _name(name) and name not in first:
                check.add("%s: is in neither %s nor %s" % (entry_label(ADMINS, index, name), SSO, API))
    problems = check.problems
    if len(problems) > MAX_PROBLEMS:
        problems = [*problems[:MAX_PROBLEMS], "... and %d more" % (len(problems) - MAX_PROBLEMS)]
    return problems


def mlflow_users_entries(sso_users, api_users, bridge_password):
    """The users of mlflow_k8s.platform.mlflow_access: SSO users with the bridge password, API users
    as given, each labelled with the variable and index it came from."""
    entries = []
    for variable, users in ((SSO, sso_users), (API, api_users)):
        for index, user in enumerate(users or []):
            entry = dict(user, label="%s[%d]" % (variable, index))
            if variable == SSO:
                # Never default_password: an API user without one must not get the bridge password.
                entry["password"] = bridge_password
            entries.append(entry)
    return entries


class FilterModule(object):
    """mlflow_users filters."""

    def filters(self):
        return {
            "mlflow_users_problems": mlflow_users_problems,
            "mlflow_users_entries": mlflow_users_entries,
        }
