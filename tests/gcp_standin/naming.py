"""Name rules Google enforces server-side, applied by the stand-in to what it receives."""

import ipaddress
import re

_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$")
_ACCOUNT_ID = re.compile(r"^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$")
_MEMBER = re.compile(
    r"^(?:allUsers|allAuthenticatedUsers"
    r"|(?:user|serviceAccount|group):[^@\s]+@[^@\s]+"
    r"|serviceAccount:[a-z][-a-z0-9]{4,28}[a-z0-9]\.svc\.id\.goog\[[^/\]]+/[^/\]]+\]"
    r"|domain:[a-z0-9.-]+"
    r"|(?:projectOwner|projectEditor|projectViewer):[a-z][-a-z0-9]{4,28}[a-z0-9]"
    r"|principal(?:Set)?://iam\.googleapis\.com/\S+"
    r"|deleted:\S+)$"
)
_WI_MEMBER = re.compile(r"^serviceAccount:([a-z][-a-z0-9]{4,28}[a-z0-9])\.svc\.id\.goog\[([^/\]]+)/([^/\]]+)\]$")


def bucket_name_problem(name):
    """Return why Cloud Storage would reject ``name`` as a new bucket name, or None."""
    if not isinstance(name, str) or not _BUCKET_CHARS.match(name):
        return "Invalid bucket name: '%s'" % name
    if "." in name:
        if len(name) > 222 or any(not 0 < len(part) <= 63 for part in name.split(".")):
            return "Invalid bucket name: '%s'" % name
    elif not 3 <= len(name) <= 63:
        return "Invalid bucket name: '%s'" % name
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return "Invalid bucket name: '%s'" % name
    if name.startswith("goog") or "google" in name or "g00gle" in name:
        return "Invalid bucket name: '%s'" % name
    return None


def account_id_ok(account_id):
    return bool(_ACCOUNT_ID.match(account_id or ""))


def member_ok(member):
    return bool(_MEMBER.match(member or ""))


def workload_identity_member(member):
    """(project, namespace, ksa) for a Workload Identity member, else None."""
    match = _WI_MEMBER.match(member)
    return match.groups() if match else None
