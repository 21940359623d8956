# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # Same options and environment variables as google.cloud's modules, so module_defaults
    # and AWX's GCE credential (GCP_AUTH_KIND, GCP_SERVICE_ACCOUNT_FILE) work for both.
    DOCUMENTATION = r"""
options:
  auth_kind:
    description:
      - The type of credential used.
      - V(application) uses Application Default Credentials (C(GOOGLE_APPLICATION_CREDENTIALS), gcloud,
        metadata server).
    type: str
    required: true
    choices: [application, serviceaccount, accesstoken, machineaccount]
  service_account_email:
    description:
      - The e-mail of a service account attached to the machine, with O(auth_kind=machineaccount).
    type: str
  service_account_file:
    description:
      - Path to a service account JSON key file, with O(auth_kind=serviceaccount).
    type: path
  service_account_contents:
    description:
      - The contents of a service account JSON key, with O(auth_kind=serviceaccount).
    type: jsonarg
  access_token:
    description:
      - An OAuth2 access token, with O(auth_kind=accesstoken).
    type: str
  project:
    description:
      - The Google Cloud project. Accepted for symmetry with google.cloud's modules; the resources
        this collection addresses are globally named, so the API calls do not need it.
    type: str
  scopes:
    description:
      - OAuth2 scopes requested for the access token.
      - Defaults to V(https://www.googleapis.com/auth/cloud-platform).
    type: list
    elements: str
notes:
  - Every option above can come from the environment variables google.cloud uses
    (E(GCP_AUTH_KIND), E(GCP_SERVICE_ACCOUNT_FILE), E(GCP_SERVICE_ACCOUNT_CONTENTS),
    E(GCP_SERVICE_ACCOUNT_EMAIL), E(GCP_ACCESS_TOKEN), E(GCP_PROJECT), E(GCP_SCOPES)).
  - Requests honour E(HTTPS_PROXY) and E(REQUESTS_CA_BUNDLE) like any C(requests) client.
requirements:
  - google-auth >= 2.0
  - requests >= 2.25
"""
