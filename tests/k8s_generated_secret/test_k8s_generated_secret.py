"""mlflow_k8s.platform.k8s_generated_secret against a real API server: creates once, keeps
every value on re-runs, patches only what differs, keeps what other tools added, writes nothing
in check mode and never prints a value (diff, -vvv)."""

from __future__ import annotations

import base64
import re

MODULE = "k8s_generated_secret"
LABELS = {"app.kubernetes.io/part-of": "mlflow", "app.kubernetes.io/managed-by": "mlflow_k8s.platform"}


def args(namespace, **extra):
    base = {
        "name": "app-secret",
        "namespace": namespace,
        "generate": ["password", "api-token"],
        "length": 40,
        "static": {"username": "admin"},
        "labels": LABELS,
    }
    base.update(extra)
    return base


def test_creates_the_secret_with_generated_and_static_values(runner, namespace, cluster_secrets):
    result = runner.task(MODULE, args(namespace))
    assert result["changed"] is True
    assert result["created"] is True
    assert result["generated_keys"] == ["api-token", "password"]
    assert result["updated_keys"] == ["username"]
    stored = cluster_secrets.data("app-secret")
    assert set(stored) == {"password", "api-token", "username"}
    for key in ("password", "api-token"):
        assert re.fullmatch(r"[A-Za-z0-9]{40}", stored[key]), key
    assert stored["password"] != stored["api-token"]
    assert stored["username"] == "admin"
    assert result["data"] == stored
    secret = cluster_secrets.read("app-secret")
    assert secret.type == "Opaque"
    assert secret.metadata.labels == LABELS


def test_rerun_keeps_every_value_and_reports_no_change(runner, namespace, cluster_secrets):
    runner.task(MODULE, args(namespace))
    before = cluster_secrets.read("app-secret")
    # Another length does not regenerate what exists.
    result = runner.task(MODULE, args(namespace, length=12))
    assert result["changed"] is False
    assert result["generated_keys"] == [] and result["updated_keys"] == [] and result["updated_labels"] == []
    after = cluster_secrets.read("app-secret")
    assert after.metadata.resource_version == before.metadata.resource_version
    assert result["data"] == cluster_secrets.data("app-secret")


def test_a_changed_static_value_patches_that_key_only(runner, namespace, cluster_secrets):
    runner.task(MODULE, args(namespace))
    before = cluster_secrets.data("app-secret")
    result = runner.task(MODULE, args(namespace, static={"username": "root"}))
    assert result["changed"] is True
    assert result["updated_keys"] == ["username"]
    assert result["generated_keys"] == []
    after = cluster_secrets.data("app-secret")
    assert after == dict(before, username="root")
    assert result["data"] == after


def test_keys_and_labels_added_by_others_are_kept(runner, namespace, cluster_secrets):
    runner.task(MODULE, args(namespace))
    foreign = base64.b64encode(b"from-another-tool").decode()
    cluster_secrets.patch("app-secret", {"metadata": {"labels": {"team": "data"}}, "data": {"foreign": foreign}})
    before = cluster_secrets.data("app-secret")
    result = runner.task(MODULE, args(namespace, generate=["password", "api-token", "new-key"]))
    assert result["changed"] is True
    assert result["generated_keys"] == ["new-key"]
    after = cluster_secrets.data("app-secret")
    assert {k: after[k] for k in before} == before
    assert after["foreign"] == "from-another-tool"
    assert re.fullmatch(r"[A-Za-z0-9]{40}", after["new-key"])
    assert result["data"] == after
    assert cluster_secrets.read("app-secret").metadata.labels == dict(LABELS, team="data")


def test_a_missing_or_different_label_is_set_without_touching_data(runner, namespace, cluster_secrets):
    runner.task(MODULE, args(namespace))
    before = cluster_secrets.data("app-secret")
    result = runner.task(MODULE, args(namespace, labels=dict(LABELS, tier="backend")))
    assert result["changed"] is True
    assert result["updated_labels"] == ["tier"]
    assert cluster_secrets.data("app-secret") == before
    assert cluster_secrets.read("app-secret").metadata.labels == dict(LABELS, tier="backend")


def test_check_mode_reports_the_change_and_writes_nothing(runner, namespace, cluster_secrets):
    result = runner.task(MODULE, args(namespace), check=True)
    assert result["changed"] is True and result["created"] is True
    assert cluster_secrets.read("app-secret") is None

    runner.task(MODULE, args(namespace))
    before = cluster_secrets.read("app-secret")
    result = runner.task(MODULE, args(namespace, generate=["password", "extra"], static={"username": "x"}), check=True)
    assert result["changed"] is True
    assert result["generated_keys"] == ["extra"] and result["updated_keys"] == ["username"]
    after = cluster_secrets.read("app-secret")
    assert after.metadata.resource_version == before.metadata.resource_version
    assert after.data == before.data

    assert runner.task(MODULE, args(namespace), check=True)["changed"] is False


def test_diff_shows_key_names_and_never_a_value(runner, namespace, cluster_secrets):
    runner.task(MODULE, args(namespace))
    result = runner.task(
        MODULE, args(namespace, generate=["password", "extra"], static={"username": "root"}), diff=True
    )
    diff = result["diff"]
    assert diff["before"]["data"] == {"password": "<hidden>", "api-token": "<hidden>", "username": "<old value>"}
    assert diff["after"]["data"] == {
        "password": "<hidden>",
        "api-token": "<hidden>",
        "username": "<new value>",
        "extra": "<generated>",
    }
    assert diff["after"]["metadata"]["labels"] == LABELS
    text = repr(diff)
    for value in cluster_secrets.data("app-secret").values():
        assert value not in text
    assert "admin" not in text


def test_no_value_is_printed_at_vvv_with_diff(runner, namespace, cluster_secrets):
    tasks = [
        {
            "name": "generate",
            "mlflow_k8s.platform.k8s_generated_secret": args(namespace, static={"username": "s3cr3t-user-value"}),
            "register": "generated",
        },
        {
            "name": "again with a new key",
            "mlflow_k8s.platform.k8s_generated_secret": args(
                namespace, generate=["password", "api-token", "late"], static={"username": "other-s3cr3t-value"}
            ),
        },
    ]
    rc, output = runner.playbook_text(tasks, extra_args=["-vvv", "--diff"])
    assert rc == 0, output[-4000:]
    assert "<generated>" in output  # the diff was shown
    stored = cluster_secrets.data("app-secret")
    leaked = [k for k, v in stored.items() if v in output or base64.b64encode(v.encode()).decode() in output]
    assert "s3cr3t-user-value" not in output
    assert not leaked, f"values of {leaked} printed"


def test_registered_data_is_usable_and_unmasked(runner, namespace, cluster_secrets):
    # A short static value must not garble generated values that happen to contain it.
    tasks = [
        {
            "name": "generate",
            "mlflow_k8s.platform.k8s_generated_secret": args(namespace, static={"username": "a"}, length=64),
            "register": "generated",
            "no_log": True,
        },
        {"name": "show", "ansible.builtin.debug": {"var": "generated.data"}},
    ]
    rc, doc = runner.playbook_json(tasks)
    assert rc == 0, doc
    shown = doc["plays"][0]["tasks"][1]["hosts"]["localhost"]["generated.data"]
    assert shown == cluster_secrets.data("app-secret")
    assert "********" not in "".join(shown.values())


def test_a_secret_of_another_type_is_an_error_naming_it(runner, namespace, core):
    core.create_namespaced_secret(
        namespace,
        {"metadata": {"name": "app-secret"}, "type": "kubernetes.io/basic-auth", "stringData": {"username": "u"}},
    )
    result = runner.task(MODULE, args(namespace), expect_failure=True)
    assert "has type kubernetes.io/basic-auth, not Opaque" in result["msg"]


def test_invalid_request_fails_before_reaching_the_cluster(runner, namespace, cluster_secrets):
    result = runner.task(
        MODULE, args(namespace, generate=["bad key"], static={"bad key": "hidden-value"}), expect_failure=True
    )
    assert "'bad key' is not a valid Secret key" in result["msg"]
    assert "hidden-value" not in result["msg"]
    assert cluster_secrets.read("app-secret") is None


def test_a_missing_namespace_is_a_clear_error(runner, namespace):
    result = runner.task(MODULE, args(namespace + "-absent"), expect_failure=True)
    assert f"Cannot create Secret {namespace}-absent/app-secret" in result["msg"]
    assert "404" in result["msg"]
