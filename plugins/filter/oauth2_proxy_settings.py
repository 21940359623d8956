# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


import base64
import binascii
import posixpath
import re
import shlex
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

try:
    import tomllib
except ImportError:  # Python < 3.11 has no TOML parser in its standard library.
    tomllib = None

# Setting -> (flag, config-file key, kind). Env names are OAUTH2_PROXY_ + the config key in
# upper case (oauth2-proxy binds its environment to the config keys, which are plural for
# list settings). Kinds: str, bool, list (repeatable flag, comma-separated values),
# csv (one string holding a comma-separated list).
_SETTINGS = {
    "provider": ("provider", "provider", "str"),
    "client_id": ("client-id", "client_id", "str"),
    "client_secret": ("client-secret", "client_secret", "str"),
    "client_secret_file": ("client-secret-file", "client_secret_file", "str"),
    "cookie_secret": ("cookie-secret", "cookie_secret", "str"),
    "cookie_secret_file": ("cookie-secret-file", "cookie_secret_file", "str"),
    "github_org": ("github-org", "github_org", "str"),
    "github_teams": ("github-team", "github_team", "csv"),
    "github_users": ("github-user", "github_users", "list"),
    "email_domains": ("email-domain", "email_domains", "list"),
    "redirect_url": ("redirect-url", "redirect_url", "str"),
    "upstreams": ("upstream", "upstreams", "list"),
    "pass_basic_auth": ("pass-basic-auth", "pass_basic_auth", "bool"),
    "basic_auth_password": ("basic-auth-password", "basic_auth_password", "str"),
    "prefer_email_to_user": ("prefer-email-to-user", "prefer_email_to_user", "bool"),
    "cookie_name": ("cookie-name", "cookie_name", "str"),
    "cookie_expire": ("cookie-expire", "cookie_expire", "str"),
    "config_file": ("config", None, "str"),
    "alpha_config": ("alpha-config", None, "str"),
}
_DEFAULTS = {"provider": "google", "pass_basic_auth": True, "prefer_email_to_user": False}
_BY_FLAG = dict((spec[0], name) for name, spec in _SETTINGS.items())
_BOOL_FLAGS = set(spec[0] for spec in _SETTINGS.values() if spec[2] == "bool")
_TRUE = ("1", "t", "true")
_FALSE = ("0", "f", "false")
_SECRET_SETTINGS = ("client_secret", "cookie_secret", "basic_auth_password")


class _Resolver(object):
    """Looks up Secret and ConfigMap keys; each lookup returns (value or None, problem or None)."""

    def __init__(self, secrets, configmaps):
        self.secrets = dict((_name(s), s) for s in secrets or [])
        self.configmaps = dict((_name(c), c) for c in configmaps or [])

    def secret(self, name, key, optional=False):
        obj = self.secrets.get(name)
        if obj is None:
            return None, None if optional else "Secret %s does not exist" % name
        data = obj.get("data") or {}
        if key in data:
            try:
                return base64.b64decode(data[key]).decode("utf-8"), None
            except (binascii.Error, UnicodeDecodeError, TypeError):
                return None, "key %s of Secret %s is not base64-encoded UTF-8" % (key, name)
        string_data = obj.get("stringData") or {}
        if key in string_data:
            return string_data[key], None
        return None, None if optional else "Secret %s has no key %s" % (name, key)

    def configmap(self, name, key, optional=False):
        obj = self.configmaps.get(name)
        if obj is None:
            return None, None if optional else "ConfigMap %s does not exist" % name
        data = obj.get("data") or {}
        if key in data:
            return data[key], None
        return None, None if optional else "ConfigMap %s has no key %s" % (name, key)

    def keys(self, kind, name):
        obj = (self.secrets if kind == "Secret" else self.configmaps).get(name) or {}
        return sorted(set((obj.get("data") or {}).keys()) | set((obj.get("stringData") or {}).keys()))


def _name(obj):
    return ((obj or {}).get("metadata") or {}).get("name")


def _container(deployment, wanted):
    pod = (((deployment.get("spec") or {}).get("template") or {}).get("spec")) or {}
    containers = pod.get("containers") or []
    if not containers:
        raise AnsibleFilterError("oauth2_proxy_settings: the Deployment has no containers")
    for container in containers:
        if container.get("name") == (wanted or "oauth2-proxy"):
            return pod, container
    if wanted:
        raise AnsibleFilterError("oauth2_proxy_settings: the Deployment has no container named %s" % wanted)
    return pod, containers[0]


def _environment(container, resolver):
    """Name -> (value or None, source, Secret ref or None, problem or None), as Kubernetes sets them.

    A reference that cannot be resolved only becomes a problem when a setting uses the variable.
    """
    env = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        for kind, ref_key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
            ref = source.get(ref_key)
            if not ref:
                continue
            lookup = resolver.secret if kind == "Secret" else resolver.configmap
            for key in resolver.keys(kind, ref.get("name")):
                value, problem = lookup(ref["name"], key)
                env[prefix + key] = (
                    value,
                    "%s %s key %s (envFrom)" % (kind, ref["name"], key),
                    {"name": ref["name"], "key": key} if kind == "Secret" else None,
                    problem,
                )
    for item in container.get("env") or []:
        name = item.get("name")
        value_from = item.get("valueFrom") or {}
        for kind, ref_key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            if ref_key in value_from:
                ref = value_from[ref_key]
                lookup = resolver.secret if kind == "Secret" else resolver.configmap
                value, problem = lookup(ref.get("name"), ref.get("key"), optional=bool(ref.get("optional")))
                env[name] = (
                    value,
                    "%s %s key %s (env %s)" % (kind, ref.get("name"), ref.get("key"), name),
                    {"name": ref.get("name"), "key": ref.get("key")} if kind == "Secret" else None,
                    problem,
                )
                break
        else:
            if value_from:
                where = "env %s (%s)" % (name, ", ".join(sorted(value_from)))
                env[name] = (None, where, None, "%s cannot be resolved here" % where)
            else:
                env[name] = (_expand(item.get("value") or "", env), "env %s" % name, None, None)
    return env


_REFERENCE = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


def _expand(text, env):
    """Kubernetes' $(VAR) expansion in args and env values; $$ stands for $ and unknown names stay."""

    def replace(match):
        if match.group(0) == "$$":
            return "$"
        known = env.get(match.group(1))
        if known is None or known[0] is None:
            return match.group(0)
        return known[0]

    return _REFERENCE.sub(replace, text)


def _parse_args(args):
    """Flag name -> list of values in order; unknown flags are kept too (for --config)."""
    flags = {}
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if not arg.startswith("--") or arg == "--":
            continue
        name, has_value, value = arg[2:].partition("=")
        if not has_value:
            # pflag never lets a boolean flag take the next argument as its value.
            if name in _BOOL_FLAGS:
                value = "true"
            elif index < len(args):
                value = args[index]
                index += 1
            else:
                continue
        flags.setdefault(name, []).append(value)
    return flags


def _command_line(container):
    """The oauth2-proxy arguments: a shell wrapper (sh -c "oauth2-proxy ...") is split like the shell would."""
    words = list(container.get("command") or []) + list(container.get("args") or [])
    if len(words) >= 3 and posixpath.basename(words[0]) in ("sh", "bash", "ash") and words[1] == "-c":
        try:
            return shlex.split(words[2]) + words[3:]
        except ValueError:
            return words
    return words


def _to_bool(value, where, problems):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    problems.append("%s is not a boolean" % where)
    return None


def _to_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            items.extend(_to_list(item))
        return items
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _config_volume_text(pod, container, path, resolver):
    """Text of the file at path inside the container, when a ConfigMap or Secret volume provides it."""
    volumes = dict((v.get("name"), v) for v in pod.get("volumes") or [])
    path = posixpath.normpath(path)
    best = None
    for mount in container.get("volumeMounts") or []:
        mount_path = posixpath.normpath(mount.get("mountPath") or "/")
        if mount.get("subPath"):
            if path == mount_path:
                best = (mount, mount["subPath"])
        elif path.startswith(mount_path.rstrip("/") + "/"):
            relative = path[len(mount_path.rstrip("/")) + 1 :]
            if best is None or len(mount_path) > len(posixpath.normpath(best[0].get("mountPath"))):
                best = (mount, relative)
    if best is None:
        return None, "no ConfigMap or Secret volume is mounted at %s" % path
    mount, relative = best
    volume = volumes.get(mount.get("name")) or {}
    if volume.get("configMap"):
        source, kind, lookup = volume["configMap"].get("name"), "ConfigMap", resolver.configmap
    elif volume.get("secret"):
        source, kind, lookup = volume["secret"].get("secretName"), "Secret", resolver.secret
    else:
        return None, "the volume mounted at %s is neither a ConfigMap nor a Secret" % path
    key = relative
    for item in (volume.get("configMap") or volume.get("secret") or {}).get("items") or []:
        if item.get("path") == relative:
            key = item.get("key")
    text, problem = lookup(source, key)
    if text is None:
        return None, problem or "%s %s key %s cannot be read" % (kind, source, key)
    return (text, "%s %s key %s" % (kind, source, key)), None


def _parse_config(text):
    if tomllib is None:
        raise AnsibleFilterError("oauth2_proxy_settings needs Python 3.11 or newer to read a config file")
    return tomllib.loads(text)


def _take_over_problems(settings, sources):
    """What keeps the new oauth2-proxy from sending MLflow the credentials the old one sent."""
    if settings["alpha_config"]:
        # Alpha config replaces the legacy upstream, header and provider settings, so nothing
        # read here says what the proxy sends.
        return [
            "alpha config %s is in use and not read: its upstreams, injected headers and providers "
            "replace the legacy settings" % settings["alpha_config"]
        ]
    problems = []
    if (settings["provider"] or "").lower() != "github":
        problems.append("provider is %s, not github" % settings["provider"])
    if settings["pass_basic_auth"] is False:
        problems.append("no basic auth password is sent: --pass-basic-auth is false")
    elif settings["basic_auth_password"] is None:
        where = sources.get("basic_auth_password")
        problems.append(
            "no basic auth password is sent: --basic-auth-password is %s"
            % ("empty or unreadable (%s)" % where if where else "not set")
        )
    if not settings["prefer_email_to_user"]:
        problems.append(
            "identity is login: without --prefer-email-to-user the user name sent to MLflow is the GitHub "
            "login, the new oauth2-proxy sends the e-mail address"
        )
    return problems


def oauth2_proxy_settings(deployment, secrets=None, configmaps=None, container=""):
    """The effective legacy-mode settings of an oauth2-proxy Deployment (see DOCUMENTATION)."""
    if not isinstance(deployment, dict):
        raise AnsibleFilterError("oauth2_proxy_settings: the input must be a Deployment (a dict)")
    for label, value in (("secrets", secrets), ("configmaps", configmaps)):
        if value is not None and not isinstance(value, (list, tuple)):
            raise AnsibleFilterError("oauth2_proxy_settings: %s must be a list of objects" % label)
    if not isinstance(container, str):
        raise AnsibleFilterError("oauth2_proxy_settings: container must be a string")

    resolver = _Resolver(secrets, configmaps)
    pod, main = _container(deployment, container)
    env = _environment(main, resolver)
    flags = _parse_args([_expand(str(arg), env) for arg in _command_line(main)])
    problems = []

    raw, sources, secret_refs, env_problems = {}, {}, {}, {}

    # Lowest precedence first: the config file, then the environment, then flags.
    config_path = (flags.get("config") or [None])[-1]
    config_env = env.get("OAUTH2_PROXY_CONFIG")
    if config_path is None and config_env is not None:
        config_path = config_env[0]
        if config_env[3]:
            problems.append("config file: %s" % config_env[3])
    if config_path:
        found, problem = _config_volume_text(pod, main, config_path, resolver)
        if problem:
            problems.append("config file %s not read: %s" % (config_path, problem))
        else:
            text, where = found
            try:
                config = _parse_config(text)
            except ValueError as exc:
                config = {}
                problems.append("config file %s (%s) is not valid TOML: %s" % (config_path, where, exc))
            for name, (_flag, key, _kind) in _SETTINGS.items():
                if key and key in config:
                    raw[name] = config[key]
                    sources[name] = "config file %s (%s) %s" % (config_path, where, key)

    for name, (_flag, key, _kind) in _SETTINGS.items():
        env_name = "OAUTH2_PROXY_" + (key or _flag.replace("-", "_")).upper()
        if env_name in env:
            value, where, ref, problem = env[env_name]
            raw[name] = value
            sources[name] = where
            if ref:
                secret_refs[name] = ref
            if problem:
                env_problems[name] = problem

    for name, (flag, _key, kind) in _SETTINGS.items():
        if flag in flags:
            # A list flag collects every occurrence; any other flag keeps the last one, as pflag does.
            raw[name] = flags[flag] if kind == "list" else flags[flag][-1]
            sources[name] = "flag --%s" % flag
            secret_refs.pop(name, None)
            env_problems.pop(name, None)

    settings = {}
    for name, (_flag, _key, kind) in _SETTINGS.items():
        value = raw.get(name, _DEFAULTS.get(name))
        if kind in ("list", "csv"):
            value = _to_list(value)
        elif kind == "bool":
            value = _to_bool(value, sources.get(name, name), problems)
        elif value is not None:
            value = str(value)
        settings[name] = value

    # oauth2-proxy prefers the file over the value; the file lives in the old pod only.
    for name in ("client_secret", "cookie_secret"):
        path = settings.pop(name + "_file")
        if path:
            settings[name] = None
            sources[name] = "file %s (%s)" % (path, sources.get(name + "_file"))
            secret_refs.pop(name, None)
        sources.pop(name + "_file", None)
    for name in ("basic_auth_password", "client_secret", "cookie_secret", "client_id", "github_org"):
        if settings[name] == "":
            settings[name] = None

    redirect = settings["redirect_url"] or None
    settings["redirect_url"] = redirect
    settings["ui_host"] = (urlsplit(redirect).netloc or None) if redirect else None
    settings["identity"] = "email" if settings["prefer_email_to_user"] else "login"
    settings["alpha_config"] = settings["alpha_config"] or None
    settings["config_file"] = config_path or None

    if settings["alpha_config"]:
        settings["basic_auth_password"] = None
    problems.extend(_take_over_problems(settings, sources))

    settings["problems"] = [
        "%s: %s" % (name, env_problems[name]) for name in _SETTINGS if name in env_problems
    ] + problems
    settings["sources"] = dict((name, where) for name, where in sources.items() if where)
    settings["secret_refs"] = dict(
        (name, ref) for name, ref in secret_refs.items() if name in (*_SECRET_SETTINGS, "client_id")
    )
    return settings


class FilterModule(object):
    """oauth2-proxy filters."""

    def filters(self):
        return {"oauth2_proxy_settings": oauth2_proxy_settings}
