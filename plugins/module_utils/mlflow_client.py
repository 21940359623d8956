# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP client for MLflow's basic-auth REST API, without the ``mlflow`` package.

Operations mirror ``mlflow.server.auth.client.AuthServiceClient``. The server version is read
once from ``/version``: releases before 3.13 use the per-resource permission endpoints
("legacy" flavor), 3.13 and later the role/grant endpoints ("rbac" flavor).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import socket
import ssl

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.six.moves import http_client
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import urlencode
from ansible.module_utils.urls import Request, SSLValidationError

RBAC_MIN_VERSION = (3, 13, 0)
# update_password value that verifies existing passwords (and corrects mismatches).
VERIFY_ALWAYS = "always"
# MLflow refuses logins with its former default admin secret (3.16.1+).
RETIRED_ADMIN_DEFAULT = "password1234"
MIN_PASSWORD_LENGTH = 12

# Permission levels and the first release that accepts each one.
PERMISSION_LEVELS = {
    "READ": (2, 0, 0),
    "USE": (3, 10, 0),
    "EDIT": (2, 0, 0),
    "MANAGE": (2, 0, 0),
    "DENY": (3, 17, 0),
}

# Resource types this collection manages per flavor, with the first release that has them.
LEGACY_RESOURCE_TYPES = {
    "experiment": (2, 0, 0),
    "registered_model": (2, 0, 0),
}
RBAC_RESOURCE_TYPES = {
    "experiment": (3, 13, 0),
    "registered_model": (3, 13, 0),
    "prompt": (3, 13, 0),
    "scorer": (3, 13, 0),
    "gateway_secret": (3, 13, 0),
    "gateway_endpoint": (3, 13, 0),
    "gateway_model_definition": (3, 13, 0),
    "mcp_server": (3, 15, 0),
    "run": (3, 17, 0),
    "trace": (3, 17, 0),
    "assessment": (3, 17, 0),
    "logged_model": (3, 17, 0),
    "review_queue": (3, 17, 0),
    "skill": (3, 18, 0),
}
# Roles may also carry workspace-wide grants; the per-user grant API refuses them.
ROLE_RESOURCE_TYPES = dict(RBAC_RESOURCE_TYPES, workspace=(3, 13, 0))


class OptionNames:
    """How messages name module options: the option itself, or what the caller says the value came
    from (``option_names``, for example a role variable or the Kubernetes Secret)."""

    def __init__(self, names=None):
        self.names = dict((k, to_text(v)) for k, v in (names or {}).items() if v not in (None, ""))

    def __call__(self, option):
        return self.names.get(option, option)

    def credentials(self):
        """The user name and password options, as one phrase."""
        user, password = self("auth_username"), self("auth_password")
        return ("credentials in %s" % user) if user == password else "%s/%s" % (user, password)


def connection_argument_spec():
    """Module options shared by every mlflow_* module (see the doc fragment)."""
    return dict(
        option_names=dict(type="dict", default={}),
        tracking_uri=dict(type="str", required=True, fallback=(env_fallback, ["MLFLOW_TRACKING_URI"])),
        auth_username=dict(type="str", required=True, fallback=(env_fallback, ["MLFLOW_TRACKING_USERNAME"])),
        auth_password=dict(
            type="str", required=True, no_log=True, fallback=(env_fallback, ["MLFLOW_TRACKING_PASSWORD"])
        ),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="float", default=30.0),
        workspace=dict(type="str"),
        api_flavor=dict(type="str", default="auto", choices=["auto", "legacy", "rbac"]),
    )


def parse_version(text):
    """'3.17.2' / '3.13.0rc0' / '2.22.5.dev0' -> (3, 17, 2)."""
    parts = []
    for piece in to_text(text).strip().split(".")[:3]:
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        parts.append(int(digits or 0))
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def format_version(version):
    return ".".join(str(part) for part in version)


def password_problem(password):
    """Why MLflow would reject ``password`` (None when acceptable)."""
    if password is None or len(password) < MIN_PASSWORD_LENGTH:
        return "must be at least %d characters long" % MIN_PASSWORD_LENGTH
    if password == RETIRED_ADMIN_DEFAULT:
        return "must not be MLflow's former default admin password"
    return None


class MlflowAuthError(Exception):
    """An MLflow API failure, with a message a person can act on."""

    def __init__(self, message, status=None, error_code=None):
        super(MlflowAuthError, self).__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code


class MlflowAuthClient:
    """One connection profile to an MLflow tracking server with basic auth."""

    def __init__(
        self,
        tracking_uri,
        username,
        password,
        validate_certs=True,
        ca_path=None,
        timeout=30.0,
        workspace=None,
        api_flavor="auto",
        option_names=None,
    ):
        self.base_url = tracking_uri.rstrip("/")
        self.names = OptionNames(option_names)
        self.username = username
        self.password = password
        self.workspace = workspace
        self.timeout = timeout
        self.requested_flavor = api_flavor
        self._request = Request(
            validate_certs=validate_certs, ca_path=ca_path, timeout=timeout, follow_redirects="none"
        )
        self._version = None
        self._flavor = None
        self.calls = 0

    @classmethod
    def from_module(cls, module):
        params = module.params
        return cls(
            params["tracking_uri"],
            params["auth_username"],
            params["auth_password"],
            validate_certs=params["validate_certs"],
            ca_path=params["ca_path"],
            timeout=params["timeout"],
            workspace=params["workspace"],
            api_flavor=params["api_flavor"],
            option_names=params.get("option_names"),
        )

    # ------------------------------------------------------------------ transport

    @staticmethod
    def _basic(username, password):
        token = base64.b64encode(("%s:%s" % (username, password)).encode("utf-8"))
        return "Basic " + to_native(token)

    def call(self, method, path, params=None, body=None, auth=None, min_version=None, allow_status=(), removed_in=None):
        """Send one request and return (status, decoded JSON or text).

        ``auth`` is (username, password) to act as another user; ``allow_status`` lists
        statuses returned to the caller instead of raised.
        """
        url = self.base_url + path
        if params:
            url += "?" + urlencode(params)
        user, password = auth or (self.username, self.password)
        headers = {"Authorization": self._basic(user, password), "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        if self.workspace:
            headers["X-MLFLOW-WORKSPACE"] = self.workspace
        # A worker that drops a connection before answering (seen under load) is retried for
        # reads only: a write may or may not have happened, so it is reported instead.
        retries = 2 if method == "GET" else 0
        for _retry in range(retries):
            try:
                return self._call_once(method, url, data, headers, path, user, min_version, allow_status, removed_in)
            except MlflowAuthError as exc:
                if exc.error_code != "CONNECTION_DROPPED":
                    raise
        return self._call_once(method, url, data, headers, path, user, min_version, allow_status, removed_in)

    def _call_once(self, method, url, data, headers, path, user, min_version, allow_status, removed_in):
        self.calls += 1
        try:
            resp = self._request.open(method, url, data=data, headers=headers)
            status, raw = resp.getcode(), resp.read()
        except HTTPError as exc:
            status = exc.code
            try:
                raw = exc.read()
            except Exception:  # pylint: disable=broad-except
                raw = b""
        except SSLValidationError as exc:
            raise MlflowAuthError(
                "TLS verification of %s failed: %s. Set %s to the CA bundle that signed "
                "the server certificate (%s=false only for tests)."
                % (self.base_url, to_native(exc), self.names("ca_path"), self.names("validate_certs"))
            ) from exc
        except ssl.SSLError as exc:
            raise MlflowAuthError(
                "TLS failure talking to %s: %s. Check %s/%s and that the URI scheme matches the server."
                % (self.base_url, to_native(exc), self.names("ca_path"), self.names("validate_certs"))
            ) from exc
        except (socket.timeout, TimeoutError) as exc:
            raise MlflowAuthError(
                "MLflow at %s did not answer within %s s (%s); raise %s or check the "
                "server." % (self.base_url, self.timeout, to_native(exc), self.names("timeout"))
            ) from exc
        except (http_client.HTTPException, ConnectionError) as exc:
            raise MlflowAuthError(
                "MLflow at %s dropped the connection during %s %s (%s); the server may be overloaded or "
                "restarting a worker." % (self.base_url, method, path, to_native(exc)),
                error_code="CONNECTION_DROPPED",
            ) from exc
        except URLError as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, ssl.SSLError) or "CERTIFICATE" in to_native(reason).upper():
                raise MlflowAuthError(
                    "TLS failure talking to %s: %s. Set %s to the CA bundle that "
                    "signed the server certificate." % (self.base_url, to_native(reason), self.names("ca_path"))
                ) from exc
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise MlflowAuthError(
                    "MLflow at %s did not answer within %s s; raise %s or check the "
                    "server." % (self.base_url, self.timeout, self.names("timeout"))
                ) from exc
            raise MlflowAuthError(
                "Cannot connect to MLflow at %s: %s. Check %s and that the server "
                "is running." % (self.base_url, to_native(reason), self.names("tracking_uri"))
            ) from exc
        text = to_text(raw or b"", errors="surrogate_or_replace")
        try:
            payload = json.loads(text) if text else {}
        except ValueError:
            payload = text
        if 200 <= status < 300 or status in allow_status:
            return status, payload
        raise self._error(status, payload, path, user, min_version, removed_in)

    def _error(self, status, payload, path, user, min_version, removed_in=None):
        code = payload.get("error_code") if isinstance(payload, dict) else None
        message = payload.get("message") if isinstance(payload, dict) else to_text(payload).strip()
        if isinstance(payload, str) and "Invalid Host header" in payload:
            return MlflowAuthError(
                "MLflow refused the request with 'Invalid Host header': add the host of %s to the server's "
                "--allowed-hosts (MLFLOW_SERVER_ALLOWED_HOSTS)." % self.base_url,
                status,
                code,
            )
        if status == 401:
            return MlflowAuthError(
                "MLflow rejected the login of user '%s' (HTTP 401): wrong %s, or an "
                "admin still on the disabled default password." % (user, self.names.credentials()),
                status,
                "UNAUTHENTICATED",
            )
        if status == 403:
            return MlflowAuthError(
                "User '%s' is not allowed to call %s (HTTP 403): it must be an MLflow admin (or workspace "
                "manager); check %s." % (user, path, self.names("auth_username")),
                status,
                "PERMISSION_DENIED",
            )
        if status == 404 and (code == "ENDPOINT_NOT_FOUND" or not isinstance(payload, dict)):
            need = " needs MLflow >= %s;" % format_version(min_version) if min_version else ""
            if removed_in:
                need = " it was removed in MLflow %s (use %s auto or rbac);" % (
                    format_version(removed_in),
                    self.names("api_flavor"),
                )
            return MlflowAuthError(
                "Endpoint %s does not exist on this server:%s the server runs MLflow %s."
                % (path, need, format_version(self._version) if self._version else "of unknown version"),
                status,
                code or "ENDPOINT_NOT_FOUND",
            )
        return MlflowAuthError("MLflow %s (HTTP %s) on %s: %s" % (code or "error", status, path, message), status, code)

    # ------------------------------------------------------------------ version

    def connect(self):
        """Reach the server and log in, before anything else: ``/version`` needs a login, so a
        wrong URL, TLS setting or password fails here, with the options it concerns, rather than
        inside the first check or read that happens to need the server."""
        return self.version

    @property
    def version(self):
        if self._version is None:
            status, payload = self.call("GET", "/version", allow_status=(404,))
            self._version = parse_version(payload) if status == 200 and isinstance(payload, str) else (0, 0, 0)
        return self._version

    @property
    def flavor(self):
        if self._flavor is None:
            if self.requested_flavor != "auto":
                self._flavor = self.requested_flavor
            else:
                self._flavor = "rbac" if self.version >= RBAC_MIN_VERSION else "legacy"
        return self._flavor

    def require(self, minimum, feature):
        if self.version < minimum:
            raise MlflowAuthError(
                "%s needs MLflow >= %s; the server runs %s."
                % (feature, format_version(minimum), format_version(self.version))
            )

    def resource_types(self, for_roles=False):
        table = LEGACY_RESOURCE_TYPES
        if self.flavor == "rbac":
            table = ROLE_RESOURCE_TYPES if for_roles else RBAC_RESOURCE_TYPES
        # A forced api_flavor skips the version filter: the server's answer decides.
        forced = self.requested_flavor != "auto"
        return dict((name, since) for name, since in table.items() if forced or self.version >= since)

    def check_resource_type(self, resource_type, for_roles=False):
        supported = self.resource_types(for_roles)
        if resource_type in supported:
            return
        since = ROLE_RESOURCE_TYPES.get(resource_type) if for_roles else RBAC_RESOURCE_TYPES.get(resource_type)
        if since and self.flavor == "legacy":
            since = max(since, RBAC_MIN_VERSION)
        if since:
            raise MlflowAuthError(
                "Resource type '%s' needs MLflow >= %s; the server runs %s."
                % (resource_type, format_version(since), format_version(self.version))
            )
        raise MlflowAuthError("Unknown resource type '%s'; known: %s" % (resource_type, ", ".join(sorted(supported))))

    def check_permission_level(self, permission):
        since = PERMISSION_LEVELS.get(permission)
        if since is None:
            raise MlflowAuthError(
                "Unknown permission '%s'; use one of %s" % (permission, ", ".join(sorted(PERMISSION_LEVELS)))
            )
        if self.version < since:
            raise MlflowAuthError(
                "Permission %s needs MLflow >= %s; the server runs %s."
                % (permission, format_version(since), format_version(self.version))
            )

    # ------------------------------------------------------------------ users

    def get_user(self, username):
        """The user as {id, username, is_admin, ...}, or None when absent."""
        status, payload = self.call(
            "GET", "/api/2.0/mlflow/users/get", params={"username": username}, allow_status=(404,)
        )
        if status == 404:
            if isinstance(payload, dict) and payload.get("error_code") == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise self._error(status, payload, "/api/2.0/mlflow/users/get", self.username, None)
        return payload["user"]

    def list_users(self):
        """All users; from 3.13 each carries is_admin and roles (with permissions)."""
        _status, payload = self.call("GET", "/api/2.0/mlflow/users/list", min_version=(3, 10, 0))
        return payload.get("users", [])

    def create_user(self, username, password):
        _status, payload = self.call(
            "POST", "/api/2.0/mlflow/users/create", body={"username": username, "password": password}
        )
        return payload.get("user", {"username": username})

    def update_user_password(self, username, password, current_password=None):
        body = {"username": username, "password": password}
        if current_password is not None:
            body["current_password"] = current_password
        self.call("PATCH", "/api/2.0/mlflow/users/update-password", body=body)

    def update_user_admin(self, username, is_admin):
        self.call("PATCH", "/api/2.0/mlflow/users/update-admin", body={"username": username, "is_admin": is_admin})

    def delete_user(self, username):
        self.call("DELETE", "/api/2.0/mlflow/users/delete", body={"username": username})

    def password_matches(self, username, password):
        """True when ``password`` logs ``username`` in (an authenticated read as that user)."""
        status, _payload = self.call(
            "GET",
            "/api/2.0/mlflow/users/get",
            params={"username": username},
            auth=(username, password),
            allow_status=(401, 403),
        )
        return status == 200

    # ------------------------------------------------------------------ experiments

    def get_experiment_by_name(self, name):
        status, payload = self.call(
            "GET", "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name}, allow_status=(404,)
        )
        if status == 404:
            return None
        return payload["experiment"]

    def create_experiment(self, name):
        _status, payload = self.call("POST", "/api/2.0/mlflow/experiments/create", body={"name": name})
        return payload["experiment_id"]

    def search_experiments(self, view_type="ACTIVE_ONLY"):
        """Every experiment of ``view_type`` (ACTIVE_ONLY, DELETED_ONLY, ALL) as
        {experiment_id, name, lifecycle_stage, ...} (paged)."""
        result, token = [], None
        while True:
            body = {"max_results": 1000, "view_type": view_type}
            if token:
                body["page_token"] = token
            _status, payload = self.call("POST", "/api/2.0/mlflow/experiments/search", body=body)
            result.extend(payload.get("experiments", []))
            token = payload.get("next_page_token")
            if not token:
                return result

    # ------------------------------------------------------------------ legacy permissions

    _LEGACY = {
        "experiment": ("/api/2.0/mlflow/experiments/permissions", "experiment_id", "experiment_permission"),
        "registered_model": ("/api/2.0/mlflow/registered-models/permissions", "name", "registered_model_permission"),
    }

    def legacy_user_permissions(self, user):
        """Direct grants embedded in a legacy users/get answer: {(type, id): permission}."""
        grants = {}
        for item in user.get("experiment_permissions", []) or []:
            grants[("experiment", to_text(item["experiment_id"]))] = item["permission"]
        for item in user.get("registered_model_permissions", []) or []:
            grants[("registered_model", to_text(item["name"]))] = item["permission"]
        return grants

    def legacy_set_permission(self, username, resource_type, resource_id, permission, exists):
        base, key, _field = self._LEGACY[resource_type]
        body = {key: resource_id, "username": username, "permission": permission}
        self.call(
            "PATCH" if exists else "POST",
            base + ("/update" if exists else "/create"),
            body=body,
            removed_in=RBAC_MIN_VERSION,
        )

    def legacy_delete_permission(self, username, resource_type, resource_id):
        base, key, _field = self._LEGACY[resource_type]
        self.call(
            "DELETE", base + "/delete", body={key: resource_id, "username": username}, removed_in=RBAC_MIN_VERSION
        )

    # ------------------------------------------------------------------ rbac

    def rbac_workspace(self):
        return self.workspace or "default"

    def rbac_direct_grants(self, user):
        """Direct grants of a user from a 3.13+ users/list entry: {(type, pattern): permission}."""
        own = "__user_%s__" % user["id"]
        grants = {}
        for role in user.get("roles", []) or []:
            if role.get("name") != own or role.get("workspace", "default") != self.rbac_workspace():
                continue
            for perm in role.get("permissions", []) or []:
                grants[(perm["resource_type"], to_text(perm["resource_pattern"]))] = perm["permission"]
        return grants

    def rbac_user_permission_rows(self, username):
        _status, payload = self.call(
            "GET", "/api/3.0/mlflow/users/permissions/list", params={"username": username}, min_version=RBAC_MIN_VERSION
        )
        return payload.get("permissions", payload.get("user_permissions", []))

    def grant(self, username, resource_type, resource_id, permission):
        self.call(
            "POST",
            "/api/3.0/mlflow/users/permissions/grant",
            min_version=RBAC_MIN_VERSION,
            body={
                "username": username,
                "resource_type": resource_type,
                "resource_id": resource_id,
                "permission": permission,
            },
        )

    def revoke(self, username, resource_type, resource_id):
        self.call(
            "POST",
            "/api/3.0/mlflow/users/permissions/revoke",
            min_version=RBAC_MIN_VERSION,
            body={"username": username, "resource_type": resource_type, "resource_id": resource_id},
        )

    def list_roles(self, workspace=None):
        params = {"workspace": workspace} if workspace else None
        _status, payload = self.call("GET", "/api/3.0/mlflow/roles/list", params=params, min_version=RBAC_MIN_VERSION)
        return payload.get("roles", [])

    def create_role(self, workspace, name, description=None):
        body = {"workspace": workspace, "name": name}
        if description is not None:
            body["description"] = description
        _status, payload = self.call("POST", "/api/3.0/mlflow/roles/create", body=body, min_version=RBAC_MIN_VERSION)
        return payload["role"]

    def update_role(self, role_id, name=None, description=None):
        body = {"role_id": role_id}
        if name is not None:
            body["name"] = name
        if description is not None:
            body["description"] = description
        _status, payload = self.call("PATCH", "/api/3.0/mlflow/roles/update", body=body, min_version=RBAC_MIN_VERSION)
        return payload.get("role")

    def delete_role(self, role_id):
        self.call("DELETE", "/api/3.0/mlflow/roles/delete", body={"role_id": role_id}, min_version=RBAC_MIN_VERSION)

    def add_role_permission(self, role_id, resource_type, resource_pattern, permission):
        _status, payload = self.call(
            "POST",
            "/api/3.0/mlflow/roles/permissions/add",
            min_version=RBAC_MIN_VERSION,
            body={
                "role_id": role_id,
                "resource_type": resource_type,
                "resource_pattern": resource_pattern,
                "permission": permission,
            },
        )
        return payload.get("role_permission")

    def update_role_permission(self, role_permission_id, permission):
        self.call(
            "PATCH",
            "/api/3.0/mlflow/roles/permissions/update",
            min_version=RBAC_MIN_VERSION,
            body={"role_permission_id": role_permission_id, "permission": permission},
        )

    def remove_role_permission(self, role_permission_id):
        self.call(
            "DELETE",
            "/api/3.0/mlflow/roles/permissions/remove",
            min_version=RBAC_MIN_VERSION,
            body={"role_permission_id": role_permission_id},
        )

    def list_role_users(self, role_id):
        _status, payload = self.call(
            "GET", "/api/3.0/mlflow/roles/users/list", params={"role_id": str(role_id)}, min_version=RBAC_MIN_VERSION
        )
        return payload.get("assignments", [])

    def assign_role(self, username, role_id):
        self.call(
            "POST",
            "/api/3.0/mlflow/roles/assign",
            body={"username": username, "role_id": role_id},
            min_version=RBAC_MIN_VERSION,
        )

    def unassign_role(self, username, role_id):
        self.call(
            "DELETE",
            "/api/3.0/mlflow/roles/unassign",
            body={"username": username, "role_id": role_id},
            min_version=RBAC_MIN_VERSION,
        )
