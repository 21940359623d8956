"""Unit tests of the generated-Secret planner: generate what is missing, keep what exists,
set static values, and never put a value in the diff."""

import base64
import json
import re

import pytest

from ansible_collections.mlflow_k8s.platform.plugins.module_utils import generated_secret as gs


def b64(value):
    return base64.b64encode(value.encode()).decode()


def counter():
    """Deterministic stand-in for random_value: gen1, gen2, ..."""
    calls = []

    def make(length):
        calls.append(length)
        return "gen%d" % len(calls)

    make.calls = calls
    return make


def test_random_value_is_letters_and_digits_of_the_given_length():
    values = {gs.random_value(48) for _index in range(20)}
    assert all(re.fullmatch(r"[A-Za-z0-9]{48}", v) for v in values)
    assert len(values) == 20


def test_absent_secret_gets_every_key_generated_and_static():
    make = counter()
    plan = gs.plan_secret({}, ["a", "b"], {"username": "admin"}, 32, make_value=make)
    assert plan.changed
    assert make.calls == [32, 32]
    assert plan.data == {"a": "gen1", "b": "gen2", "username": "admin"}
    assert plan.patch == {"a": b64("gen1"), "b": b64("gen2"), "username": b64("admin")}
    assert plan.generated == ["a", "b"]
    assert plan.updated == ["username"]


def test_existing_values_are_kept_whatever_their_length():
    make = counter()
    existing = {"a": b64("short"), "username": b64("admin")}
    plan = gs.plan_secret(existing, ["a"], {"username": "admin"}, 64, make_value=make)
    assert not plan.changed
    assert plan.patch == {}
    assert make.calls == []
    assert plan.data == {"a": "short", "username": "admin"}


def test_only_the_missing_key_is_generated():
    plan = gs.plan_secret({"a": b64("keep")}, ["a", "b"], {}, 16, make_value=counter())
    assert plan.patch == {"b": b64("gen1")}
    assert plan.generated == ["b"]
    assert plan.data == {"a": "keep", "b": "gen1"}


def test_an_empty_existing_value_counts_as_present():
    plan = gs.plan_secret({"a": ""}, ["a"], {}, 16, make_value=counter())
    assert not plan.changed
    assert plan.data == {"a": ""}


def test_a_changed_static_value_patches_that_key_only():
    existing = {"password": b64("p"), "username": b64("old"), "foreign": b64("x")}
    plan = gs.plan_secret(existing, ["password"], {"username": "new"}, 32, make_value=counter())
    assert plan.patch == {"username": b64("new")}
    assert plan.updated == ["username"]
    assert plan.generated == []
    assert plan.data == {"password": "p", "username": "new", "foreign": "x"}


def test_static_values_compare_decoded_not_as_base64_text():
    # Same bytes, base64 with a trailing newline as some tools write it: not a change.
    plan = gs.plan_secret({"u": "YWRtaW4=\n"}, [], {"u": "admin"}, 32, make_value=counter())
    assert not plan.changed


def test_non_string_static_values_are_stored_as_text():
    plan = gs.plan_secret({}, [], {"port": 5432}, 32, make_value=counter())
    assert plan.patch == {"port": b64("5432")}
    assert plan.data == {"port": "5432"}


def test_foreign_keys_are_returned_and_binary_ones_do_not_break_json():
    existing = {"blob": base64.b64encode(b"\xff\x00ok").decode()}
    plan = gs.plan_secret(existing, [], {}, 32, make_value=counter())
    assert not plan.changed
    assert plan.data["blob"].endswith("\x00ok")
    json.dumps(plan.data)


def test_none_existing_is_an_absent_secret():
    plan = gs.plan_secret(None, ["a"], {}, 8, make_value=counter())
    assert plan.data == {"a": "gen1"}


@pytest.mark.parametrize(
    ("generate", "static", "length", "fragment"),
    [
        (["a"], {}, 0, "length must be 1 or more"),
        (["bad key"], {}, 32, "'bad key' is not a valid Secret key"),
        ([], {"sl/ash": "v"}, 32, "'sl/ash' is not a valid Secret key"),
        (["k" * 254], {}, 32, "not a valid Secret key"),
        (["a"], {"a": "v"}, 32, "keys both generated and static: a"),
        (["a", "a"], {}, 32, "listed more than once in generate: a"),
        ([], {"n": {"nested": "v"}}, 32, "static value of 'n' must be a string or a number"),
        ([], {"n": None}, 32, "static value of 'n' must be a string or a number"),
    ],
)
def test_request_problems_name_the_key(generate, static, length, fragment):
    problems = gs.request_problems(generate, static, length)
    assert any(fragment in p for p in problems), problems


def test_request_problems_never_contain_static_values():
    problems = gs.request_problems(["x"], {"x": "s3cr3t-value"}, 32)
    assert problems
    assert "s3cr3t-value" not in " ".join(problems)


def test_valid_request_has_no_problems():
    assert gs.request_problems(["a.b", "c-d", "E_9"], {"username": "u"}, 64) == []


def test_label_patch_sets_missing_and_different_labels_only():
    existing = {"keep": "1", "same": "x", "other": "old"}
    assert gs.label_patch(existing, {"same": "x", "other": "new", "added": "y"}) == {"other": "new", "added": "y"}
    assert gs.label_patch(None, {}) == {}
    assert gs.label_patch(None, {"a": "b"}) == {"a": "b"}


def test_diff_of_a_new_secret_names_keys_with_placeholders():
    plan = gs.plan_secret({}, ["password"], {"username": "admin"}, 32, make_value=counter())
    before, after = gs.diff_view({}, plan, {}, {"app": "mlflow"}, exists=False)
    assert before == {}
    assert after == {
        "metadata": {"labels": {"app": "mlflow"}},
        "data": {"password": gs.GENERATED, "username": gs.NEW_VALUE},
    }


def test_diff_of_an_existing_secret_shows_which_keys_change_but_no_value():
    existing = {"password": b64("pw-value"), "username": b64("old-user"), "foreign": b64("f-value")}
    plan = gs.plan_secret(existing, ["password", "extra"], {"username": "new-user"}, 32, make_value=counter())
    before, after = gs.diff_view(existing, plan, {"l": "1"}, {"l": "1"}, exists=True)
    assert before["data"] == {"password": gs.HIDDEN, "username": gs.OLD_VALUE, "foreign": gs.HIDDEN}
    assert after["data"] == {
        "password": gs.HIDDEN,
        "username": gs.NEW_VALUE,
        "foreign": gs.HIDDEN,
        "extra": gs.GENERATED,
    }
    text = json.dumps([before, after])
    for value in ("pw-value", "old-user", "new-user", "f-value", "gen1"):
        assert value not in text
        assert b64(value) not in text
