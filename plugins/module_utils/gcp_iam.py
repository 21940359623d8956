# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IAM policy read-modify-write for Google Cloud resources google.cloud has no module for.

The client speaks the same auth kinds and environment variables as google.cloud's modules
(google-auth + requests), so one set of credentials serves both.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import re
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib
from ansible.module_utils.six.moves.urllib.parse import quote

GOOGLE_AUTH_IMPORT_ERROR = None
try:
    import google.auth
    import google.auth.compute_engine
    import google.auth.exceptions
    from google.auth.transport.requests import AuthorizedSession
    from google.oauth2 import credentials as oauth2_credentials
    from google.oauth2 import service_account
except ImportError:
    GOOGLE_AUTH_IMPORT_ERROR = traceback.format_exc()

REQUESTS_IMPORT_ERROR = None
try:
    import requests
except ImportError:
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

STORAGE_API = "https://storage.googleapis.com/storage/v1"
IAM_API = "https://iam.googleapis.com/v1"
DEFAULT_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]

_MEMBER_RE = re.compile(
    r"^(?:allUsers|allAuthenticatedUsers"
    r"|(?:user|serviceAccount|group):\S+"
    r"|domain:\S+"
    r"|(?:projectOwner|projectEditor|projectViewer):\S+"
    r"|principal(?:Set)?://\S+)$"
)
_ROLE_RE = re.compile(r"^(?:roles/[A-Za-z0-9_.]+|(?:projects|organizations)/[^/]+/roles/[A-Za-z0-9_.]+)$")


def gcp_auth_argument_spec():
    """Options shared with google.cloud's modules, with the same environment fallbacks."""
    return dict(
        auth_kind=dict(
            type="str",
            required=True,
            choices=["application", "serviceaccount", "accesstoken", "machineaccount"],
            fallback=(env_fallback, ["GCP_AUTH_KIND"]),
        ),
        service_account_email=dict(type="str", fallback=(env_fallback, ["GCP_SERVICE_ACCOUNT_EMAIL"])),
        service_account_file=dict(type="path", fallback=(env_fallback, ["GCP_SERVICE_ACCOUNT_FILE"])),
        service_account_contents=dict(
            type="jsonarg", no_log=True, fallback=(env_fallback, ["GCP_SERVICE_ACCOUNT_CONTENTS"])
        ),
        access_token=dict(type="str", no_log=True, fallback=(env_fallback, ["GCP_ACCESS_TOKEN"])),
        project=dict(type="str", fallback=(env_fallback, ["GCP_PROJECT"])),
        scopes=dict(type="list", elements="str", fallback=(env_fallback, ["GCP_SCOPES"])),
    )


GCP_AUTH_MUTUALLY_EXCLUSIVE = [
    ["service_account_email", "service_account_file", "service_account_contents", "access_token"]
]


class GcpApiError(Exception):
    """An error answer of a Google API, with the HTTP status kept for retry decisions."""

    def __init__(self, status, message, reason=None):
        super(GcpApiError, self).__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def error_from_response(status, text):
    """Build a GcpApiError from both error shapes (Storage's ``errors`` list, IAM's ``status``)."""
    try:
        error = json.loads(text).get("error", {})
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        return GcpApiError(status, "HTTP %s: %s" % (status, error))
    reason = error.get("status")
    if not reason and error.get("errors"):
        reason = error["errors"][0].get("reason")
    return GcpApiError(status, error.get("message") or ("HTTP %s: %s" % (status, text[:200])), reason)


def build_credentials(params):
    """Return google-auth credentials for the module params (same rules as google.cloud)."""
    kind = params["auth_kind"]
    scopes = params.get("scopes") or DEFAULT_SCOPES
    if params.get("service_account_email") and kind != "machineaccount":
        raise ValueError("service_account_email requires auth_kind=machineaccount")
    if (params.get("service_account_file") or params.get("service_account_contents")) and kind != "serviceaccount":
        raise ValueError("service_account_file and service_account_contents require auth_kind=serviceaccount")
    if params.get("access_token") and kind != "accesstoken":
        raise ValueError("access_token requires auth_kind=accesstoken")
    if kind == "application":
        return google.auth.default(scopes=scopes)[0]
    if kind == "serviceaccount":
        if params.get("service_account_file"):
            path = os.path.realpath(os.path.expanduser(params["service_account_file"]))
            credentials = service_account.Credentials.from_service_account_file(path)
        elif params.get("service_account_contents"):
            info = params["service_account_contents"]
            credentials = service_account.Credentials.from_service_account_info(
                json.loads(info) if not isinstance(info, dict) else info
            )
        else:
            raise ValueError("auth_kind=serviceaccount needs service_account_file or service_account_contents")
        return credentials.with_scopes(scopes)
    if kind == "machineaccount":
        return google.auth.compute_engine.Credentials(params.get("service_account_email") or "default")
    if not params.get("access_token"):
        raise ValueError("auth_kind=accesstoken needs access_token")
    return oauth2_credentials.Credentials(params["access_token"], scopes=scopes)


class GcpClient:
    """Authorized JSON calls to Google APIs; every error answer becomes a GcpApiError."""

    def __init__(self, module):
        if GOOGLE_AUTH_IMPORT_ERROR:
            module.fail_json(msg=missing_required_lib("google-auth"), exception=GOOGLE_AUTH_IMPORT_ERROR)
        if REQUESTS_IMPORT_ERROR:
            module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
        try:
            credentials = build_credentials(module.params)
        except (ValueError, OSError, google.auth.exceptions.GoogleAuthError) as exc:
            module.fail_json(msg="GCP credentials: %s" % exc)
        self.session = AuthorizedSession(credentials)
        self.session.headers["User-Agent"] = "mlflow_k8s.platform-gcp_iam_member"

    def call(self, method, url, params=None, body=None):
        try:
            response = self.session.request(method, url, params=params, json=body, timeout=60)
        except (requests.exceptions.RequestException, google.auth.exceptions.GoogleAuthError) as exc:
            raise GcpApiError(None, "%s %s failed: %s" % (method, url.split("?")[0], exc)) from exc
        if response.status_code >= 400:
            raise error_from_response(response.status_code, response.text)
        return response.json() if response.content else {}


class BucketPolicy:
    """IAM policy of a Cloud Storage bucket (storage JSON API ``b/{bucket}/iam``)."""

    kind = "bucket"
    # Storage signals a stale etag with 412 Precondition Failed.
    conflict_statuses = (412,)

    def __init__(self, client, bucket):
        self.client = client
        self.name = bucket
        self.url = "%s/b/%s/iam" % (STORAGE_API, quote(bucket, safe=""))

    def get(self):
        return self.client.call("GET", self.url, params={"optionsRequestedPolicyVersion": 3})

    def set(self, policy):
        body = dict((k, v) for k, v in policy.items() if k in ("bindings", "etag", "version"))
        return self.client.call("PUT", self.url, body=body)


class ServiceAccountPolicy:
    """IAM policy of a service account (IAM v1 ``getIamPolicy``/``setIamPolicy``)."""

    kind = "service_account"
    # IAM signals a stale etag with 409 ABORTED ("concurrent policy changes").
    conflict_statuses = (409,)

    def __init__(self, client, email):
        self.client = client
        self.name = email
        # "-" lets IAM infer the project from the account, so no project option is needed.
        self.url = "%s/projects/-/serviceAccounts/%s" % (IAM_API, quote(email, safe="@"))

    def get(self):
        return self.client.call("POST", self.url + ":getIamPolicy", body={"options": {"requestedPolicyVersion": 3}})

    def set(self, policy):
        body = dict((k, v) for k, v in policy.items() if k in ("bindings", "etag", "version"))
        return self.client.call("POST", self.url + ":setIamPolicy", body={"policy": body})


def member_problem(member):
    """Why ``member`` is not a principal IAM accepts, or None."""
    if not _MEMBER_RE.match(member or ""):
        return (
            "member '%s' must be allUsers, allAuthenticatedUsers or start with user:, serviceAccount:, group:, "
            "domain:, projectOwner:, projectEditor:, projectViewer:, principal:// or principalSet://" % member
        )
    return None


def role_problem(role):
    if not _ROLE_RE.match(role or ""):
        return "role '%s' must look like roles/NAME or projects/PROJECT/roles/NAME" % role
    return None


def role_members(policy, role):
    """Sorted members of the unconditional binding(s) of ``role``."""
    members = set()
    for binding in policy.get("bindings") or []:
        if binding.get("role") == role and not binding.get("condition"):
            members.update(binding.get("members") or [])
    return sorted(members)


def apply_member(policy, role, member, state):
    """Return (new_policy, changed) with ``member`` added to / removed from ``role``.

    Conditional bindings of the same role are left alone: a conditional grant is a different
    grant, and rewriting it would widen or narrow access the caller did not ask about.
    """
    new = copy.deepcopy(policy)
    bindings = new.setdefault("bindings", [])
    unconditional = [b for b in bindings if b.get("role") == role and not b.get("condition")]
    present = any(member in (b.get("members") or []) for b in unconditional)
    if state == "present":
        if present:
            return policy, False
        if unconditional:
            unconditional[0].setdefault("members", []).append(member)
        else:
            bindings.append({"role": role, "members": [member]})
        return new, True
    if not present:
        return policy, False
    for binding in unconditional:
        binding["members"] = [m for m in binding.get("members") or [] if m != member]
    new["bindings"] = [b for b in bindings if b.get("members")]
    if not new["bindings"]:
        del new["bindings"]
    return new, True


def is_propagation_error(error, member):
    """True when IAM refused ``member`` because a new account has not propagated yet.

    Service accounts are eventually consistent: a policy write naming an account created
    seconds ago can fail with 400 "Service account ... does not exist." for a while.
    """
    identity = member.partition(":")[2]
    return (
        error.status == 400
        and member.startswith("serviceAccount:")
        and bool(identity)
        and identity in (error.message or "")
        and "does not exist" in (error.message or "")
    )


def retry_delay(attempt, base=0.5, cap=8.0):
    """Exponential backoff for a re-read after an etag conflict."""
    return min(cap, base * (2**attempt))
