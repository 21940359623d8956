# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    """Connection options of the mlflow_* modules."""

    DOCUMENTATION = r"""
options:
  tracking_uri:
    description:
      - URL of the MLflow tracking server, for example C(http://mlflow.mlflow.svc.cluster.local:5000).
      - Point it at the server itself (internal Service or API host), never at the oauth2-proxy UI host.
      - Falls back to the E(MLFLOW_TRACKING_URI) environment variable.
    type: str
    required: true
  auth_username:
    description:
      - MLflow user the module logs in as; it must be an MLflow admin.
      - Falls back to E(MLFLOW_TRACKING_USERNAME).
    type: str
    required: true
  auth_password:
    description:
      - Password of O(auth_username).
      - Falls back to E(MLFLOW_TRACKING_PASSWORD).
    type: str
    required: true
  validate_certs:
    description:
      - Verify the server's TLS certificate. Only disable for tests.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificates that sign the server certificate.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP request.
    type: float
    default: 30.0
  workspace:
    description:
      - MLflow workspace (sent as the C(X-MLFLOW-WORKSPACE) header, MLflow 3.10+ with workspaces enabled).
      - Direct grants and roles are read and written in this workspace; C(default) when not set.
    type: str
  api_flavor:
    description:
      - Which permission API to use.
      - V(auto) reads the server version once; below 3.13 the per-resource permission endpoints (V(legacy)),
        from 3.13 the role/grant endpoints (V(rbac)).
    type: str
    default: auto
    choices: [auto, legacy, rbac]
  option_names:
    description:
      - >-
        How error messages name options, for callers whose users never see the module's options,
        for example V({tracking_uri: mlflow_users_tracking_uri, auth_password: mlflow_users_admin_password})
        in a role, or the Kubernetes Secret a password was read from.
      - Keys are option names of the module; options not listed are named as themselves. When
        O(auth_username) and O(auth_password) have the same name, a rejected login names it once,
        as the place both came from.
      - Changes only messages, never what the module does.
    type: dict
    default: {}
notes:
  - Talks to MLflow's REST API directly; the C(mlflow) Python package is not needed on the controller
    or in an execution environment.
  - The module connects and logs in first (one C(GET /version)), so a wrong O(tracking_uri), TLS
    setting or password fails before anything else is checked, read or written.
  - Every authenticated MLflow request costs the server one password hash (about 250 ms unless the
    server's C(auth_cache_ttl_seconds) is set), so the modules read state in as few requests as the
    server version allows.
"""
