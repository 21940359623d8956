"""Unit tests for the oauth2_proxy_settings filter: flags, environment, config file, precedence."""

import base64
import copy

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mlflow_k8s.platform.plugins.filter.oauth2_proxy_settings import (
    FilterModule,
    oauth2_proxy_settings,
)

CFG_PATH = "/etc/oauth2_proxy/oauth2_proxy.cfg"


def b64(text):
    return base64.b64encode(text.encode()).decode()


def secret(name, raw_keys=None, **data):
    """A Secret as k8s_info returns it; keyword keys get dashes (client_id -> client-id), raw_keys stay."""
    keys = {k.replace("_", "-"): v for k, v in data.items()}
    keys.update(raw_keys or {})
    return {"kind": "Secret", "metadata": {"name": name}, "data": {k: b64(v) for k, v in keys.items()}}


def configmap(name, data):
    return {"kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deployment(args=(), env=(), env_from=(), mounts=(), volumes=(), command=None, name="oauth2-proxy"):
    container = {"name": name, "image": "quay.io/oauth2-proxy/oauth2-proxy:v7.6.0", "args": list(args)}
    if command:
        container["command"] = list(command)
    if env:
        container["env"] = list(env)
    if env_from:
        container["envFrom"] = list(env_from)
    if mounts:
        container["volumeMounts"] = list(mounts)
    pod = {"containers": [container]}
    if volumes:
        pod["volumes"] = list(volumes)
    return {"kind": "Deployment", "metadata": {"name": "oauth2-proxy"}, "spec": {"template": {"spec": pod}}}


def secret_env(name, secret_name, key):
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}


# What the oauth2-proxy Helm chart renders for the tutorial setup: secrets from the chart's
# Secret through env, the config file from its ConfigMap, extraArgs as --key=value.
CHART_SECRET = secret("oauth2-proxy", client_id="cid-123", client_secret="csecret", cookie_secret="cookie32")
CHART_CONFIGMAP = configmap(
    "oauth2-proxy", {"oauth2_proxy.cfg": 'email_domains = [ "*" ]\nupstreams = [ "file:///dev/null" ]\n'}
)
BRIDGE_SECRET = secret("mlflow-bridge", password="bridge pw")


def chart(extra_args=(), extra_env=()):
    return deployment(
        args=[
            "--http-address=0.0.0.0:4180",
            "--https-address=0.0.0.0:4443",
            "--metrics-address=0.0.0.0:44180",
            "--config=" + CFG_PATH,
            *extra_args,
        ],
        env=[
            secret_env("OAUTH2_PROXY_CLIENT_ID", "oauth2-proxy", "client-id"),
            secret_env("OAUTH2_PROXY_CLIENT_SECRET", "oauth2-proxy", "client-secret"),
            secret_env("OAUTH2_PROXY_COOKIE_SECRET", "oauth2-proxy", "cookie-secret"),
            *extra_env,
        ],
        mounts=[{"name": "configmain", "mountPath": CFG_PATH, "subPath": "oauth2_proxy.cfg"}],
        volumes=[{"name": "configmain", "configMap": {"name": "oauth2-proxy", "defaultMode": 420}}],
    )


TUTORIAL_ARGS = [
    "--provider=github",
    "--github-org=acme",
    "--github-team=ml,data",
    "--github-user=alice",
    "--email-domain=*",
    "--upstream=http://mlflow-tracking.ml:80",
    "--pass-basic-auth=true",
    "--prefer-email-to-user=true",
    "--redirect-url=https://mlflow.example.com/oauth2/callback",
    "--cookie-name=_mlflow",
    "--cookie-expire=12h",
]


def run(dep, secrets=(CHART_SECRET, BRIDGE_SECRET), configmaps=(CHART_CONFIGMAP,)):
    return oauth2_proxy_settings(dep, secrets=list(secrets), configmaps=list(configmaps))


class TestTutorialChart:
    def test_every_setting_and_where_it_came_from(self):
        got = run(chart(TUTORIAL_ARGS, [secret_env("OAUTH2_PROXY_BASIC_AUTH_PASSWORD", "mlflow-bridge", "password")]))
        assert got["problems"] == []
        assert {k: got[k] for k in ("provider", "client_id", "client_secret", "cookie_secret", "github_org")} == {
            "provider": "github",
            "client_id": "cid-123",
            "client_secret": "csecret",
            "cookie_secret": "cookie32",
            "github_org": "acme",
        }
        assert got["github_teams"] == ["ml", "data"]
        assert got["github_users"] == ["alice"]
        assert got["email_domains"] == ["*"]
        # The flag wins over the config file's file:///dev/null.
        assert got["upstreams"] == ["http://mlflow-tracking.ml:80"]
        assert got["redirect_url"] == "https://mlflow.example.com/oauth2/callback"
        assert got["ui_host"] == "mlflow.example.com"
        assert got["pass_basic_auth"] is True
        assert got["basic_auth_password"] == "bridge pw"
        assert got["prefer_email_to_user"] is True
        assert got["identity"] == "email"
        assert (got["cookie_name"], got["cookie_expire"]) == ("_mlflow", "12h")
        assert got["config_file"] == CFG_PATH
        assert got["alpha_config"] is None
        assert got["sources"]["github_org"] == "flag --github-org"
        assert (
            got["sources"]["client_secret"] == "Secret oauth2-proxy key client-secret (env OAUTH2_PROXY_CLIENT_SECRET)"
        )
        assert got["sources"]["basic_auth_password"] == (
            "Secret mlflow-bridge key password (env OAUTH2_PROXY_BASIC_AUTH_PASSWORD)"
        )
        assert got["sources"]["email_domains"] == "flag --email-domain"
        assert got["secret_refs"] == {
            "client_id": {"name": "oauth2-proxy", "key": "client-id"},
            "client_secret": {"name": "oauth2-proxy", "key": "client-secret"},
            "cookie_secret": {"name": "oauth2-proxy", "key": "cookie-secret"},
            "basic_auth_password": {"name": "mlflow-bridge", "key": "password"},
        }

    def test_sources_never_hold_values(self):
        got = run(chart([*TUTORIAL_ARGS, "--basic-auth-password=literal-pw"]))
        assert got["basic_auth_password"] == "literal-pw"
        text = repr(got["sources"]) + repr(got["secret_refs"]) + repr(got["problems"])
        for value in ("literal-pw", "csecret", "cookie32", "bridge pw"):
            assert value not in text

    def test_filter_is_registered(self):
        assert FilterModule().filters()["oauth2_proxy_settings"] is oauth2_proxy_settings


class TestFlags:
    def test_space_separated_values_and_boolean_flags_without_value(self):
        got = run(
            deployment(
                [
                    "--provider",
                    "github",
                    "--basic-auth-password",
                    "pw",
                    "--prefer-email-to-user",
                    "--pass-basic-auth",
                    "--github-org",
                    "acme",
                ]
            )
        )
        assert (got["provider"], got["basic_auth_password"], got["github_org"]) == ("github", "pw", "acme")
        assert got["prefer_email_to_user"] is True
        assert got["problems"] == []

    def test_boolean_flag_does_not_take_the_next_argument(self):
        # pflag: "--prefer-email-to-user false" sets true and leaves "false" as a positional argument.
        got = run(deployment(["--prefer-email-to-user", "false", "--provider=github", "--basic-auth-password=pw"]))
        assert got["prefer_email_to_user"] is True

    def test_repeated_list_flags_collect_and_split(self):
        got = run(
            deployment(
                [
                    "--github-user=alice",
                    "--github-user=bob,carol",
                    "--email-domain=acme.com",
                    "--email-domain",
                    "example.org",
                    "--upstream=http://a/",
                    "--upstream=http://b/x",
                ]
            )
        )
        assert got["github_users"] == ["alice", "bob", "carol"]
        assert got["email_domains"] == ["acme.com", "example.org"]
        assert got["upstreams"] == ["http://a/", "http://b/x"]

    def test_single_valued_flag_last_one_wins(self):
        got = run(deployment(["--github-team=ml", "--github-team=data,ops", "--github-org=a", "--github-org=b"]))
        assert got["github_teams"] == ["data", "ops"]
        assert got["github_org"] == "b"

    def test_false_boolean_values(self):
        got = run(deployment(["--provider=github", "--basic-auth-password=pw", "--pass-basic-auth=false"]))
        assert got["pass_basic_auth"] is False
        assert "no basic auth password is sent: --pass-basic-auth is false" in got["problems"]

    def test_kubernetes_variable_references_are_expanded(self):
        dep = deployment(
            ["--basic-auth-password=$(BRIDGE)", "--cookie-name=$$literal", "--provider=github"],
            env=[secret_env("BRIDGE", "mlflow-bridge", "password")],
        )
        got = run(dep)
        assert got["basic_auth_password"] == "bridge pw"
        assert got["cookie_name"] == "$literal"

    def test_shell_wrapper_is_split(self):
        dep = deployment(
            command=[
                "/bin/sh",
                "-c",
                "exec oauth2-proxy --provider=github --github-org 'acme corp' --basic-auth-password=x",
            ]
        )
        got = run(dep)
        assert (got["provider"], got["github_org"], got["basic_auth_password"]) == ("github", "acme corp", "x")

    def test_container_is_chosen_by_name(self):
        dep = deployment(["--github-org=acme"])
        sidecar = {"name": "sidecar", "args": ["--github-org=other"]}
        dep["spec"]["template"]["spec"]["containers"].insert(0, sidecar)
        assert run(dep)["github_org"] == "acme"
        assert oauth2_proxy_settings(dep, container="sidecar")["github_org"] == "other"
        with pytest.raises(AnsibleFilterError, match="no container named nope"):
            oauth2_proxy_settings(dep, container="nope")


class TestEnvironment:
    def test_plain_values_and_plural_list_names(self):
        got = run(
            deployment(
                env=[
                    {"name": "OAUTH2_PROXY_PROVIDER", "value": "github"},
                    {"name": "OAUTH2_PROXY_GITHUB_ORG", "value": "acme"},
                    {"name": "OAUTH2_PROXY_GITHUB_TEAM", "value": "ml,data"},
                    {"name": "OAUTH2_PROXY_GITHUB_USERS", "value": "alice,bob"},
                    {"name": "OAUTH2_PROXY_EMAIL_DOMAINS", "value": "*"},
                    {"name": "OAUTH2_PROXY_PASS_BASIC_AUTH", "value": "TRUE"},
                    {"name": "OAUTH2_PROXY_PREFER_EMAIL_TO_USER", "value": "1"},
                    {"name": "OAUTH2_PROXY_BASIC_AUTH_PASSWORD", "value": "pw"},
                ]
            )
        )
        assert got["github_teams"] == ["ml", "data"]
        assert got["github_users"] == ["alice", "bob"]
        assert got["email_domains"] == ["*"]
        assert got["prefer_email_to_user"] is True
        assert got["sources"]["github_users"] == "env OAUTH2_PROXY_GITHUB_USERS"
        assert got["problems"] == []

    def test_env_from_secret_with_prefix_and_env_overrides_it(self):
        bundle = secret("bundle", {"BASIC_AUTH_PASSWORD": "from-bundle", "GITHUB_ORG": "bundle-org"})
        dep = deployment(
            ["--provider=github", "--prefer-email-to-user"],
            env_from=[{"secretRef": {"name": "bundle"}, "prefix": "OAUTH2_PROXY_"}],
            env=[{"name": "OAUTH2_PROXY_GITHUB_ORG", "value": "env-org"}],
        )
        got = run(dep, secrets=[bundle])
        assert got["basic_auth_password"] == "from-bundle"
        assert got["github_org"] == "env-org"
        assert got["sources"]["basic_auth_password"] == "Secret bundle key BASIC_AUTH_PASSWORD (envFrom)"
        assert got["secret_refs"]["basic_auth_password"] == {"name": "bundle", "key": "BASIC_AUTH_PASSWORD"}

    def test_env_from_configmap(self):
        dep = deployment(env_from=[{"configMapRef": {"name": "settings"}}])
        got = run(dep, configmaps=[configmap("settings", {"OAUTH2_PROXY_GITHUB_ORG": "acme"})])
        assert got["github_org"] == "acme"
        assert got["sources"]["github_org"] == "ConfigMap settings key OAUTH2_PROXY_GITHUB_ORG (envFrom)"

    def test_missing_secret_or_key_is_a_problem_only_when_used(self):
        dep = deployment(
            ["--provider=github", "--prefer-email-to-user"],
            env=[
                secret_env("OAUTH2_PROXY_BASIC_AUTH_PASSWORD", "gone", "password"),
                secret_env("UNRELATED", "also-gone", "x"),
            ],
        )
        got = run(dep, secrets=[])
        assert got["basic_auth_password"] is None
        assert got["problems"] == [
            "basic_auth_password: Secret gone does not exist",
            "no basic auth password is sent: --basic-auth-password is empty or unreadable "
            "(Secret gone key password (env OAUTH2_PROXY_BASIC_AUTH_PASSWORD))",
        ]
        nokey = run(deployment(env=[secret_env("OAUTH2_PROXY_CLIENT_SECRET", "mlflow-bridge", "nokey")]))
        assert "client_secret: Secret mlflow-bridge has no key nokey" in nokey["problems"]

    def test_flag_overrides_env_and_drops_its_secret_reference(self):
        dep = deployment(
            ["--client-secret=literal"], env=[secret_env("OAUTH2_PROXY_CLIENT_SECRET", "oauth2-proxy", "client-secret")]
        )
        got = run(dep)
        assert got["client_secret"] == "literal"
        assert got["sources"]["client_secret"] == "flag --client-secret"
        assert "client_secret" not in got["secret_refs"]


class TestConfigFile:
    CFG = "\n".join(
        [
            'provider = "github"',
            'github_org = "cfg-org"',
            'github_team = "ml"',
            'github_users = ["alice", "bob"]',
            'email_domains = ["acme.com"]',
            'upstreams = ["http://mlflow:80"]',
            "pass_basic_auth = true",
            'basic_auth_password = "cfg pw"',
            "prefer_email_to_user = true",
            'redirect_url = "https://ml.acme.com:8443/oauth2/callback"',
            'cookie_name = "cfg-cookie"',
        ]
    )

    def test_directory_mount_with_items(self):
        dep = deployment(
            ["--config", "/etc/o2p/proxy.cfg"],
            mounts=[{"name": "cfg", "mountPath": "/etc/o2p"}],
            volumes=[{"name": "cfg", "configMap": {"name": "o2p", "items": [{"key": "main", "path": "proxy.cfg"}]}}],
        )
        got = run(dep, configmaps=[configmap("o2p", {"main": self.CFG})])
        assert got["problems"] == []
        assert got["github_org"] == "cfg-org"
        assert got["github_teams"] == ["ml"]
        assert got["github_users"] == ["alice", "bob"]
        assert got["email_domains"] == ["acme.com"]
        assert got["upstreams"] == ["http://mlflow:80"]
        assert got["basic_auth_password"] == "cfg pw"
        assert got["ui_host"] == "ml.acme.com:8443"
        assert got["sources"]["github_org"] == "config file /etc/o2p/proxy.cfg (ConfigMap o2p key main) github_org"

    def test_secret_volume_and_config_path_from_env(self):
        dep = deployment(
            env=[{"name": "OAUTH2_PROXY_CONFIG", "value": "/cfg/oauth2_proxy.cfg"}],
            mounts=[{"name": "cfg", "mountPath": "/cfg"}],
            volumes=[{"name": "cfg", "secret": {"secretName": "o2p-cfg"}}],
        )
        got = run(dep, secrets=[secret("o2p-cfg", {"oauth2_proxy.cfg": self.CFG})])
        assert got["basic_auth_password"] == "cfg pw"
        assert got["config_file"] == "/cfg/oauth2_proxy.cfg"

    def test_precedence_flags_over_env_over_config(self):
        dep = deployment(
            ["--config=/c/oauth2_proxy.cfg", "--github-org=flag-org"],
            env=[
                {"name": "OAUTH2_PROXY_GITHUB_ORG", "value": "env-org"},
                {"name": "OAUTH2_PROXY_COOKIE_NAME", "value": "env-cookie"},
            ],
            mounts=[{"name": "c", "mountPath": "/c"}],
            volumes=[{"name": "c", "configMap": {"name": "c"}}],
        )
        got = run(dep, configmaps=[configmap("c", {"oauth2_proxy.cfg": self.CFG})])
        assert got["github_org"] == "flag-org"
        assert got["cookie_name"] == "env-cookie"
        assert got["github_teams"] == ["ml"]

    def test_unreadable_config_is_a_problem(self):
        dep = deployment(
            ["--config=/nowhere/x.cfg", "--provider=github", "--basic-auth-password=p", "--prefer-email-to-user"]
        )
        assert run(dep)["problems"] == [
            "config file /nowhere/x.cfg not read: no ConfigMap or Secret volume is mounted at /nowhere/x.cfg"
        ]
        broken = chart(["--provider=github", "--basic-auth-password=p", "--prefer-email-to-user"])
        bad = configmap("oauth2-proxy", {"oauth2_proxy.cfg": "email_domains = [ unterminated"})
        problems = run(broken, configmaps=[bad])["problems"]
        assert len(problems) == 1
        assert problems[0].startswith(
            "config file %s (ConfigMap oauth2-proxy key oauth2_proxy.cfg) is not valid TOML" % CFG_PATH
        )
        missing = run(broken, configmaps=[])["problems"]
        assert missing == ["config file %s not read: ConfigMap oauth2-proxy does not exist" % CFG_PATH]


class TestProblems:
    def test_defaults_are_oauth2_proxys(self):
        got = run(deployment([]))
        assert got["provider"] == "google"
        assert got["pass_basic_auth"] is True
        assert got["prefer_email_to_user"] is False
        assert got["identity"] == "login"
        assert (got["client_secret"], got["basic_auth_password"], got["redirect_url"], got["ui_host"]) == (
            None,
            None,
            None,
            None,
        )
        assert got["problems"] == [
            "provider is google, not github",
            "no basic auth password is sent: --basic-auth-password is not set",
            "identity is login: without --prefer-email-to-user the user name sent to MLflow is the GitHub login, "
            "the new oauth2-proxy sends the e-mail address",
        ]

    def test_login_identity_is_the_only_problem(self):
        args = [a for a in TUTORIAL_ARGS if not a.startswith("--prefer-email-to-user")] + ["--basic-auth-password=x"]
        got = run(chart(args))
        assert got["identity"] == "login"
        assert [p.split(":")[0] for p in got["problems"]] == ["identity is login"]

    def test_empty_password_is_none(self):
        got = run(deployment(["--provider=github", "--prefer-email-to-user", "--basic-auth-password="]))
        assert got["basic_auth_password"] is None
        assert got["problems"] == [
            "no basic auth password is sent: --basic-auth-password is empty or unreadable (flag --basic-auth-password)"
        ]

    def test_alpha_config_is_reported_and_nothing_claimed(self):
        got = run(
            chart([*TUTORIAL_ARGS, "--basic-auth-password=x", "--alpha-config=/etc/oauth2_proxy/oauth2_proxy.yml"])
        )
        assert got["basic_auth_password"] is None
        assert got["problems"] == [
            "alpha config /etc/oauth2_proxy/oauth2_proxy.yml is in use and not read: its upstreams, injected headers "
            "and providers replace the legacy settings"
        ]

    def test_secret_files(self):
        got = run(deployment(["--client-secret-file=/s/client", "--client-secret=ignored"]))
        assert got["client_secret"] is None
        assert got["sources"]["client_secret"] == "file /s/client (flag --client-secret-file)"
        assert "client_secret_file" not in got

    def test_bad_boolean(self):
        got = run(
            deployment(
                ["--provider=github", "--basic-auth-password=x"],
                env=[{"name": "OAUTH2_PROXY_PREFER_EMAIL_TO_USER", "value": "yes"}],
            )
        )
        assert "env OAUTH2_PROXY_PREFER_EMAIL_TO_USER is not a boolean" in got["problems"]

    def test_input_is_not_changed_and_types_are_checked(self):
        dep = chart(TUTORIAL_ARGS)
        before = copy.deepcopy(dep)
        run(dep)
        assert dep == before
        with pytest.raises(AnsibleFilterError, match="must be a Deployment"):
            oauth2_proxy_settings([])
        with pytest.raises(AnsibleFilterError, match="secrets must be a list"):
            oauth2_proxy_settings(dep, secrets={})
        with pytest.raises(AnsibleFilterError, match="has no containers"):
            oauth2_proxy_settings({"spec": {}})
