"""In-memory state of the stand-in: one project, its buckets, service accounts, keys, tokens.

A single lock serialises every API call, like the strongly consistent metadata operations the
real services offer for these resources.
"""

import base64
import os
import threading


def new_etag():
    return base64.b64encode(os.urandom(8)).decode()


class Policy:
    """An IAM policy with the etag Google uses for optimistic concurrency."""

    def __init__(self, bindings=None, etag=None):
        self.bindings = bindings or []
        self.version = 1
        self.etag = etag or new_etag()

    def to_json(self):
        body = {"version": self.version, "etag": self.etag}
        if self.bindings:
            body["bindings"] = [dict(b, members=list(b["members"])) for b in self.bindings]
        return body


class State:
    def __init__(self, project_id, project_number, workload_identity_pools=None):
        self.lock = threading.RLock()
        self.project_id = project_id
        self.project_number = project_number
        # GKE creates PROJECT.svc.id.goog in the project of a cluster with Workload Identity
        # (which need not be the bucket's project); IAM rejects members of a pool that does not exist.
        self.workload_identity_pools = set(workload_identity_pools or [project_id])
        self.buckets = {}
        self.bucket_policies = {}
        self.service_accounts = {}
        self.sa_policies = {}
        self.keys = {}  # key id -> dict(email, public_key, json metadata)
        # Accounts holding roles/owner on the project (the deployer): they may manage buckets,
        # service accounts and IAM. Everyone else gets only what bucket policies grant.
        self.project_owners = set()
        self.objects = {}  # (bucket, name) -> bytes
        # IAM is eventually consistent: a new service account is unknown to Cloud Storage's
        # policy checks for a while. Each new account fails this many bucket policy writes.
        self.propagation_writes = 1
        self.pending_propagation = {}
        # Bucket names are global: these exist in someone else's project.
        self.foreign_buckets = {"mlflow-artifacts-taken"}
        self.tokens = {}  # access token -> dict(email, scopes, expires)
        self.requests = []  # (method, host, path) of every API call, for tests
        self.faults = []  # queued injected failures, e.g. {"op": "setIamPolicy", "code": 409}

    def take_fault(self, op):
        for fault in self.faults:
            if fault["op"] == op:
                self.faults.remove(fault)
                return fault
        return None
