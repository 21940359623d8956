#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gcp_iam_member
short_description: Grant or revoke one role for one member on a bucket or a service account
version_added: 1.0.0
description:
  - Adds or removes one member of one role binding in the IAM policy of a Cloud Storage bucket
    or of a Google service account, leaving every other binding untouched.
  - Reads the policy, changes the binding and writes it back with the policy's etag, so a
    concurrent change is never overwritten; on an etag conflict it re-reads and retries.
  - google.cloud has no module for IAM policy bindings; this one fills that gap with the same
    authentication options.
author:
  - mlflow_k8s.platform contributors (@mlflow-k8s)
extends_documentation_fragment:
  - mlflow_k8s.platform.gcp
attributes:
  check_mode:
    support: full
    description: Reads the policy and reports the change it would make; writes nothing.
  diff_mode:
    support: full
    description: Shows the members of O(role) before and after.
options:
  bucket:
    description:
      - Name of the Cloud Storage bucket whose policy is changed.
      - Exactly one of O(bucket) and O(service_account) is required.
    type: str
  service_account:
    description:
      - E-mail (or unique id) of the service account whose policy is changed, for grants such
        as C(roles/iam.workloadIdentityUser) that act on the account itself.
    type: str
  role:
    description:
      - The role, such as V(roles/storage.objectAdmin), or a custom role
        (C(projects/PROJECT/roles/NAME)).
    type: str
    required: true
  member:
    description:
      - The principal, in IAM's member syntax, such as
        V(serviceAccount:mlflow@my-project.iam.gserviceaccount.com) or
        V(serviceAccount:my-project.svc.id.goog[mlflow/mlflow]).
    type: str
    required: true
  state:
    description:
      - V(present) makes sure O(member) holds O(role) through an unconditional binding;
        V(absent) removes it from the unconditional binding(s) of O(role).
      - Conditional bindings are never changed.
    type: str
    choices: [present, absent]
    default: present
  retries:
    description:
      - How many times to re-read and re-apply the change after an etag conflict
        (another writer changed the policy between the read and the write).
    type: int
    default: 5
  propagation_timeout:
    description:
      - Seconds to keep retrying while IAM answers that the O(member) service account does not
        exist, which happens for a while after the account was created (IAM is eventually
        consistent). V(0) fails at once.
    type: int
    default: 120
notes:
  - The caller needs C(storage.buckets.getIamPolicy)/C(setIamPolicy) on the bucket, or
    C(iam.serviceAccounts.getIamPolicy)/C(setIamPolicy) on the service account.
  - In check mode a resource that does not exist yet (created by an earlier task that check
    mode skipped) counts as having an empty policy, with a warning.
seealso:
  - module: google.cloud.gcp_storage_bucket
  - module: google.cloud.gcp_iam_service_account
"""

EXAMPLES = r"""
- name: Let MLflow's service account read and write objects in the artifact bucket only
  mlflow_k8s.platform.gcp_iam_member:
    bucket: my-mlflow-artifacts
    role: roles/storage.objectAdmin
    member: serviceAccount:mlflow@my-project.iam.gserviceaccount.com
    auth_kind: serviceaccount
    service_account_file: /secrets/deployer.json

- name: Let the Kubernetes service account mlflow/mlflow act as the Google service account
  mlflow_k8s.platform.gcp_iam_member:
    service_account: mlflow@my-project.iam.gserviceaccount.com
    role: roles/iam.workloadIdentityUser
    member: serviceAccount:my-project.svc.id.goog[mlflow/mlflow]
    auth_kind: application

- name: Revoke a grant
  mlflow_k8s.platform.gcp_iam_member:
    bucket: my-mlflow-artifacts
    role: roles/storage.objectViewer
    member: user:former-colleague@example.com
    state: absent
    auth_kind: application
"""

RETURN = r"""
members:
  description: Members of the unconditional binding(s) of O(role) after the task (predicted in check mode).
  returned: always
  type: list
  elements: str
  sample: ["serviceAccount:mlflow@my-project.iam.gserviceaccount.com"]
etag:
  description: Etag of the policy after the task (of the policy read, when nothing was written).
  returned: always
  type: str
  sample: CAI=
attempts:
  description:
    - Read-modify-write attempts made; more than 1 means etag conflicts or a not yet propagated
      service account were retried.
  returned: always
  type: int
  sample: 1
resource:
  description: The bucket or service account the policy belongs to.
  returned: always
  type: str
  sample: my-mlflow-artifacts
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mlflow_k8s.platform.plugins.module_utils.gcp_iam import (
    GCP_AUTH_MUTUALLY_EXCLUSIVE,
    BucketPolicy,
    GcpApiError,
    GcpClient,
    ServiceAccountPolicy,
    apply_member,
    gcp_auth_argument_spec,
    is_propagation_error,
    member_problem,
    retry_delay,
    role_members,
    role_problem,
)


def run(module, resource):
    params = module.params
    attempts = 0
    conflicts = 0
    deadline = time.time() + params.get("propagation_timeout", 0)
    while True:
        attempts += 1
        try:
            policy = resource.get()
        except GcpApiError as exc:
            if exc.status != 404:
                raise
            if params["state"] == "absent":
                return dict(changed=False, members=[], etag="", attempts=attempts, before=[])
            if not module.check_mode:
                raise
            module.warn("%s %s does not exist yet; check mode assumes an empty policy" % (resource.kind, resource.name))
            policy = {}
        before = role_members(policy, params["role"])
        new_policy, changed = apply_member(policy, params["role"], params["member"], params["state"])
        if not changed or module.check_mode:
            return dict(
                changed=changed,
                members=role_members(new_policy, params["role"]),
                etag=policy.get("etag", ""),
                attempts=attempts,
                before=before,
            )
        try:
            written = resource.set(new_policy)
        except GcpApiError as exc:
            if exc.status in resource.conflict_statuses and conflicts < params["retries"]:
                conflicts += 1
                time.sleep(retry_delay(conflicts - 1))
                continue
            if is_propagation_error(exc, params["member"]) and time.time() < deadline:
                time.sleep(min(retry_delay(attempts, base=2.0, cap=10.0), max(0.0, deadline - time.time())))
                continue
            raise
        return dict(
            changed=True,
            members=role_members(written, params["role"]),
            etag=written.get("etag", ""),
            attempts=attempts,
            before=before,
        )


def main():
    argument_spec = gcp_auth_argument_spec()
    argument_spec.update(
        bucket=dict(type="str"),
        service_account=dict(type="str"),
        role=dict(type="str", required=True),
        member=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        retries=dict(type="int", default=5),
        propagation_timeout=dict(type="int", default=120),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[*GCP_AUTH_MUTUALLY_EXCLUSIVE, ["bucket", "service_account"]],
        required_one_of=[["bucket", "service_account"]],
        supports_check_mode=True,
    )
    params = module.params
    for problem in (role_problem(params["role"]), member_problem(params["member"])):
        if problem:
            module.fail_json(msg=problem)
    if params["retries"] < 0 or params["propagation_timeout"] < 0:
        module.fail_json(msg="retries and propagation_timeout must be 0 or more")

    client = GcpClient(module)
    if params["bucket"]:
        resource = BucketPolicy(client, params["bucket"])
    else:
        resource = ServiceAccountPolicy(client, params["service_account"])
    try:
        result = run(module, resource)
    except GcpApiError as exc:
        module.fail_json(
            msg="Google API error on %s %s: %s" % (resource.kind, resource.name, exc.message),
            status=exc.status,
            reason=exc.reason,
        )
    before = result.pop("before")
    result["resource"] = resource.name
    if module._diff:
        header = "%s %s: %s" % (resource.kind, resource.name, params["role"])
        result["diff"] = dict(
            before={"members": before},
            after={"members": result["members"]},
            before_header=header,
            after_header=header,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
