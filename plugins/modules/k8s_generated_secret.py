#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_generated_secret
short_description: Keep a Kubernetes Secret whose values are generated once and never rotated
version_added: 1.0.0
description:
  - Makes sure the Secret O(name) in O(namespace) holds every key of O(generate) and every key
    of O(static), and returns the decoded data of the Secret, so later tasks can build
    connection strings or config files from it.
  - A key of O(generate) that the Secret lacks gets a random value of O(length) ASCII letters
    and digits from Python's C(secrets) module. A key it already has keeps its value, whatever
    it is, because running the module again must never rotate a secret. To rotate one, delete its key (or
    the Secret) and run the module again.
  - A key of O(static) is set to its value when it is missing or holds another value.
  - Creates the Secret when it does not exist. Otherwise sends one JSON merge patch with only the
    keys and labels that are missing or different, guarded by the C(resourceVersion) that was
    read, so keys and labels another tool added are kept and a concurrent writer is never
    overwritten (the module re-reads and plans again after a conflict).
  - Never shows a value, neither in the diff nor in messages. Its result does contain the
    decoded values in RV(data); see the notes.
author:
  - mlflow_k8s.platform contributors (@mlflow-k8s)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
requirements:
  - "python >= 3.9"
  - "kubernetes >= 24.2.0"
  - "PyYAML >= 3.11"
attributes:
  check_mode:
    support: full
    description:
      - Reads the Secret and reports the change a real run would make; the create or patch is
        sent as a server-side dry run, so nothing is written.
      - RV(data) then holds the values that would be generated, which a real run replaces with
        new random ones.
  diff_mode:
    support: full
    description:
      - Shows the labels and the key names before and after. Values are replaced by
        C(<hidden>), C(<generated>), C(<old value>) and C(<new value>).
options:
  name:
    description:
      - Name of the Secret.
    type: str
    required: true
  namespace:
    description:
      - Namespace of the Secret. It must exist.
    type: str
    required: true
  generate:
    description:
      - Keys that get a random value when the Secret lacks them.
    type: list
    elements: str
    default: []
  length:
    description:
      - Number of characters (ASCII letters and digits) of a generated value.
      - Applies to newly generated values only; existing values are never changed.
    type: int
    default: 32
  static:
    description:
      - Keys set to the given values. The values are treated as secrets (C(no_log)).
      - A key cannot be both in O(generate) and in O(static).
    type: dict
    default: {}
  labels:
    description:
      - Labels the Secret must carry. Missing or different ones are set; other labels are kept.
    type: dict
    default: {}
  type:
    description:
      - Type of the Secret when it is created. An existing Secret of another type is an error,
        because Kubernetes cannot change the type of a Secret.
    type: str
    default: Opaque
notes:
  - The result holds the decoded values of every key of the Secret in RV(data), which a
    registered variable needs. The module's action plugin marks the result so that Ansible's
    default-style callbacks do not print it at any verbosity; it is printed only when asked
    for, for example with M(ansible.builtin.debug). Callbacks that write whole results (such as
    C(ansible.posix.json)) and C(ANSIBLE_KEEP_REMOTE_FILES) debugging do not honour that mark,
    so set C(no_log) to V(true) on the task, as the roles of this collection do.
  - Values of O(static) are module parameters marked C(no_log), so they are masked in the module
    invocation and in error messages. RV(data) returns them unmasked, like every other value of
    the Secret, so that no generated value that happens to contain one is garbled.
  - The connection options and their C(K8S_AUTH_*) environment variables are those of
    kubernetes.core. This module is not in the C(kubernetes.core.k8s) action group, so
    C(module_defaults) for C(group/kubernetes.core.k8s) do not reach it.
seealso:
  - module: kubernetes.core.k8s
  - module: kubernetes.core.k8s_info
"""

EXAMPLES = r"""
- name: Database passwords, generated once
  mlflow_k8s.platform.k8s_generated_secret:
    name: mlflow-postgres
    namespace: mlflow
    generate: [postgres-password, tracking-password, auth-password]
    labels:
      app.kubernetes.io/part-of: mlflow
  register: db_secret
  no_log: true

- name: Use a generated password (the task that prints nothing)
  ansible.builtin.set_fact:
    tracking_password: "{{ db_secret.data['tracking-password'] }}"
  no_log: true

- name: An admin password next to a fixed user name, 64 characters
  mlflow_k8s.platform.k8s_generated_secret:
    name: mlflow-admin
    namespace: mlflow
    generate: [password]
    length: 64
    static:
      username: admin
    kubeconfig: /etc/mlflow/kubeconfig
  no_log: true
"""

RETURN = r"""
name:
  description: Name of the Secret.
  returned: always
  type: str
  sample: mlflow-postgres
namespace:
  description: Namespace of the Secret.
  returned: always
  type: str
  sample: mlflow
data:
  description:
    - Decoded data of the Secret after the task, every key included (also keys this module does
      not manage). In check mode, newly generated values are the ones a real run would not use.
    - Secret values in plain text. Not printed by the default callbacks (see the notes); set
      C(no_log) on the task.
    - Bytes that are not UTF-8 are returned as U+FFFD.
  returned: success
  type: dict
  sample: {"username": "admin", "password": "q3Vb8ZkTn0aLw5Yx2RcE7uHj4MpD9sGf"}
generated_keys:
  description: Keys that got a new random value (would get one, in check mode).
  returned: success
  type: list
  elements: str
  sample: [password]
updated_keys:
  description: Keys of O(static) that were missing or held another value.
  returned: success
  type: list
  elements: str
  sample: [username]
updated_labels:
  description: Labels that were missing or held another value.
  returned: success
  type: list
  elements: str
  sample: [app.kubernetes.io/part-of]
created:
  description: Whether the Secret did not exist before the task.
  returned: success
  type: bool
  sample: false
"""

import copy
import json

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (
    AUTH_ARG_SPEC,
    extract_sensitive_values_from_kubeconfig,
)
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
from ansible_collections.mlflow_k8s.platform.plugins.module_utils.generated_secret import (
    diff_view,
    label_patch,
    plan_secret,
    request_problems,
)

try:
    from kubernetes.dynamic.exceptions import ConflictError, DynamicApiError, NotFoundError

    HAS_KUBERNETES = True
except ImportError:
    # AnsibleK8SModule fails with a clear message when the kubernetes library is missing.
    HAS_KUBERNETES = False

# A conflict means another writer changed the Secret between our read and our write: re-read and
# plan again rather than overwrite. More than a few in a row points at a fight, not a race.
MAX_ATTEMPTS = 5


def argspec():
    args = copy.deepcopy(AUTH_ARG_SPEC)
    args.update(
        name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        generate=dict(type="list", elements="str", default=[]),
        length=dict(type="int", default=32),
        static=dict(type="dict", default={}, no_log=True),
        labels=dict(type="dict", default={}),
        type=dict(type="str", default="Opaque"),
    )
    return args


def api_error(exc):
    """Status, reason and the API server's message, which for a Secret names fields, not values."""
    body = getattr(exc, "body", None)
    message = None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if body:
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
    return "%s %s%s" % (
        getattr(exc, "status", ""),
        getattr(exc, "reason", ""),
        ": %s" % message if message else "",
    )


def read_secret(client, resource, name, namespace):
    try:
        return client.get(resource, name=name, namespace=namespace).to_dict()
    except NotFoundError:
        return None


def reconcile(module, client, resource):
    params = module.params
    name, namespace = params["name"], params["namespace"]
    for _attempt in range(MAX_ATTEMPTS):
        current = read_secret(client, resource, name, namespace)
        exists = current is not None
        metadata = (current or {}).get("metadata") or {}
        existing_data = (current or {}).get("data") or {}
        existing_labels = metadata.get("labels") or {}
        if exists and (current.get("type") or "Opaque") != params["type"]:
            module.fail_json(
                msg="Secret %s/%s has type %s, not %s; Kubernetes cannot change the type of a Secret"
                % (namespace, name, current.get("type"), params["type"])
            )
        plan = plan_secret(existing_data, params["generate"], params["static"], params["length"])
        labels = label_patch(existing_labels, params["labels"])
        result = dict(
            changed=plan.changed or bool(labels) or not exists,
            name=name,
            namespace=namespace,
            data=plan.data,
            generated_keys=plan.generated,
            updated_keys=plan.updated,
            updated_labels=sorted(labels),
            created=not exists,
        )
        if module._diff:
            new_labels = dict(existing_labels)
            new_labels.update(labels)
            before, after = diff_view(existing_data, plan, existing_labels, new_labels, exists)
            result["diff"] = dict(before=before, after=after)
        if not result["changed"]:
            return result
        try:
            if not exists:
                body = {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "type": params["type"],
                    "metadata": {"name": name, "namespace": namespace, "labels": dict(params["labels"])},
                    "data": plan.patch,
                }
                client.create(resource, body, namespace=namespace)
            else:
                patch = {"metadata": {"resourceVersion": metadata.get("resourceVersion")}}
                if labels:
                    patch["metadata"]["labels"] = labels
                if plan.patch:
                    patch["data"] = plan.patch
                client.patch(
                    resource,
                    patch,
                    name=name,
                    namespace=namespace,
                    content_type="application/merge-patch+json",
                )
        except ConflictError:
            # Created or changed by someone else since the read (409, including AlreadyExists).
            continue
        except NotFoundError as exc:
            if module.check_mode and not exists:
                module.warn(
                    "Namespace %s does not exist; check mode cannot dry-run the create of Secret %s" % (namespace, name)
                )
                return result
            if not exists:
                module.fail_json(msg="Cannot create Secret %s/%s: %s" % (namespace, name, api_error(exc)))
            # Deleted since the read: plan again from nothing.
            continue
        return result
    module.fail_json(
        msg="Secret %s/%s changed under us %d times in a row; another writer keeps changing it"
        % (namespace, name, MAX_ATTEMPTS)
    )


def exit_with_data(module, result):
    """Return ``result`` with ``data`` intact.

    AnsibleModule masks every value of a no_log parameter wherever it occurs in the result,
    substrings included: a static value such as "ml" would turn part of a generated password
    into "********" and make ``data`` wrong. The static values are the caller's own and ``data``
    is secret anyway, so they are unmasked for this one return; values of the other no_log
    parameters (tokens, kubeconfig contents) stay masked, and so do the static values in the
    module invocation.
    """
    params = module.params
    protected = set()
    for option, spec in argspec().items():
        if spec.get("no_log") and option != "static" and params.get(option) not in (None, "", {}, []):
            protected.add(to_native(params[option], nonstring="simplerepr"))
    if isinstance(params.get("kubeconfig"), dict):
        protected.update(extract_sensitive_values_from_kubeconfig(params["kubeconfig"]))
    static_values = set(to_native(value, nonstring="simplerepr") for value in params["static"].values())
    module._module.no_log_values.difference_update(static_values - protected)
    module_args = copy.deepcopy(params)
    module_args["static"] = dict((key, "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER") for key in params["static"])
    module.exit_json(invocation=dict(module_args=module_args), **result)


def main():
    module = AnsibleK8SModule(argument_spec=argspec(), supports_check_mode=True)
    params = module.params
    problems = request_problems(params["generate"], params["static"], params["length"])
    if problems:
        module.fail_json(msg="Invalid request for Secret %s: %s" % (params["name"], "; ".join(problems)))
    try:
        client = get_api_client(module=module)
        resource = client.resource("Secret", "v1")
        result = reconcile(module, client, resource)
    except CoreException as exc:
        module.fail_json(msg="Cannot reach the Kubernetes API: %s" % exc)
    except DynamicApiError as exc:
        module.fail_json(
            msg="Kubernetes API error on Secret %s/%s: %s" % (params["namespace"], params["name"], api_error(exc))
        )
    exit_with_data(module, result)


if __name__ == "__main__":
    main()
