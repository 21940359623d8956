# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AnsibleModule wiring shared by the mlflow_* modules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_client import (
    MlflowAuthClient,
    MlflowAuthError,
    connection_argument_spec,
    format_version,
)
from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_reconcile import PlanError


def mlflow_module(argument_spec, **kwargs):
    spec = connection_argument_spec()
    spec.update(argument_spec)
    kwargs.setdefault("supports_check_mode", True)
    return AnsibleModule(argument_spec=spec, **kwargs)


def run(module, body):
    """Call ``body(module, client) -> result dict`` and turn MLflow/plan errors into fail_json."""
    client = MlflowAuthClient.from_module(module)
    try:
        client.connect()
        result = body(module, client)
    except (MlflowAuthError, PlanError) as exc:
        extra = {}
        if client._version is not None:  # pylint: disable=protected-access
            extra["mlflow_version"] = format_version(client.version)
        module.fail_json(msg=getattr(exc, "message", None) or str(exc), **extra)
    result.setdefault("mlflow_version", format_version(client.version))
    result.setdefault("api_flavor", client.flavor)
    result.setdefault("http_requests", client.calls)
    module.exit_json(**result)
