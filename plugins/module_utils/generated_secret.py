# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Planning for Secrets whose values are generated once and never rotated.

Pure functions, no cluster: given the data a Secret holds (base64, as the API returns it), the
keys to generate and the static values, work out the complete decoded data, the keys a write
must touch and a diff that names keys but never shows a value. The module only reads, calls
``plan_secret`` and writes the patch, so check mode is the same path without the write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import re
import secrets
import string

from ansible.module_utils.common.text.converters import to_bytes, to_text

# Letters and digits only: such values need no quoting in URIs, ini files or shell, and their
# byte length equals their length (oauth2-proxy wants a cookie secret of exactly 16/24/32 bytes).
ALPHABET = string.ascii_letters + string.digits

# What the API server accepts as a key of Secret.data.
_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
MAX_KEY_LENGTH = 253

# Placeholders in the diff: key names are shown, values never.
HIDDEN = "<hidden>"
GENERATED = "<generated>"
OLD_VALUE = "<old value>"
NEW_VALUE = "<new value>"


class SecretPlan(object):
    """What to do to one Secret.

    ``data``: the complete decoded data after the change (``str`` values).
    ``patch``: base64 values of the keys a write must set; empty when nothing is to be written.
    ``generated``/``updated``: sorted key names that get a new random value / a static value.
    """

    def __init__(self, data, patch, generated, updated):
        self.data = data
        self.patch = patch
        self.generated = generated
        self.updated = updated

    @property
    def changed(self):
        return bool(self.patch)


def random_value(length, alphabet=ALPHABET):
    """A value from the operating system's CSPRNG."""
    return "".join(secrets.choice(alphabet) for _index in range(length))


def encode(value):
    return to_text(base64.b64encode(to_bytes(value, errors="surrogate_or_strict")))


def decode(value):
    """Decoded text of a base64 value. Bytes that are not UTF-8 (binary keys another tool
    stored) become U+FFFD, so the result can always be returned as JSON."""
    return base64.b64decode(value or "").decode("utf-8", "replace")


def request_problems(generate, static, length):
    """Why the request cannot be planned, as messages naming keys (never values)."""
    problems = []
    if length < 1:
        problems.append("length must be 1 or more, not %d" % length)
    for key in list(generate) + list(static):
        if not _KEY_RE.match(key) or len(key) > MAX_KEY_LENGTH:
            problems.append(
                "%r is not a valid Secret key (letters, digits, '-', '_' and '.', at most %d characters)"
                % (key, MAX_KEY_LENGTH)
            )
    for key, value in static.items():
        if isinstance(value, (dict, list)) or value is None:
            problems.append("the static value of %r must be a string or a number" % key)
    both = sorted(set(generate) & set(static))
    if both:
        problems.append("keys both generated and static: %s" % ", ".join(both))
    duplicates = sorted(set(key for key in generate if list(generate).count(key) > 1))
    if duplicates:
        problems.append("keys listed more than once in generate: %s" % ", ".join(duplicates))
    return problems


def plan_secret(existing, generate, static, length, make_value=random_value):
    """Plan the data of a Secret.

    ``existing``: base64 data of the Secret as read (``{}`` when it does not exist). Keys of
    ``generate`` it lacks get ``make_value(length)``; keys it has keep their value whatever its
    length, since re-running must never rotate a secret. Keys of ``static`` are set when missing
    or different. Keys in neither (added by another tool) are kept and returned untouched.
    """
    existing = existing or {}
    patch = {}
    generated = []
    for key in generate:
        if key not in existing:
            patch[key] = encode(make_value(length))
            generated.append(key)
    updated = []
    for key, value in static.items():
        wanted = encode(value)
        if key not in existing or base64.b64decode(existing[key] or "") != base64.b64decode(wanted):
            patch[key] = wanted
            updated.append(key)
    merged = dict(existing)
    merged.update(patch)
    data = dict((key, decode(value)) for key, value in merged.items())
    return SecretPlan(data, patch, sorted(generated), sorted(updated))


def label_patch(existing, wanted):
    """Labels of ``wanted`` that ``existing`` lacks or holds with another value. Labels not in
    ``wanted`` are never removed: other tools may have set them."""
    existing = existing or {}
    return dict((key, value) for key, value in (wanted or {}).items() if existing.get(key) != value)


def diff_view(existing_data, plan, existing_labels, new_labels, exists):
    """``before``/``after`` for Ansible's diff: labels as they are, data keys with placeholders.

    A generated key shows as added, a changed static key as ``<old value>`` -> ``<new value>``,
    every other key as ``<hidden>`` on both sides.
    """
    if exists:
        before_data = dict((key, OLD_VALUE if key in plan.updated else HIDDEN) for key in existing_data or {})
        before = {"metadata": {"labels": dict(existing_labels or {})}, "data": before_data}
    else:
        before = {}
    after_data = {}
    for key in plan.data:
        if key in plan.generated:
            after_data[key] = GENERATED
        elif key in plan.updated:
            after_data[key] = NEW_VALUE
        else:
            after_data[key] = HIDDEN
    after = {"metadata": {"labels": dict(new_labels or {})}, "data": after_data}
    return before, after
