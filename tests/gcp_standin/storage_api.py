"""Cloud Storage JSON API v1: the bucket and bucket-IAM operations the role uses."""

import datetime
import random

from errors import storage_error
from naming import bucket_name_problem, member_ok
from state import Policy, new_etag

_MUTABLE = (
    "storageClass",
    "versioning",
    "lifecycle",
    "labels",
    "cors",
    "website",
    "logging",
    "defaultEventBasedHold",
    "billing",
    "retentionPolicy",
    "autoclass",
)
_ACTIONS = {"Delete", "SetStorageClass", "AbortIncompleteMultipartUpload"}
_CLASSES = {"STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE", "MULTI_REGIONAL", "REGIONAL", "DURABLE_REDUCED_AVAILABILITY"}
_PUBLIC = {"allUsers", "allAuthenticatedUsers"}
# Object permissions of the predefined roles a bucket policy can grant (subset used here).
_ROLE_PERMISSIONS = {
    "roles/storage.objectAdmin": {
        "storage.objects.create",
        "storage.objects.get",
        "storage.objects.list",
        "storage.objects.delete",
        "storage.objects.update",
    },
    "roles/storage.objectUser": {
        "storage.objects.create",
        "storage.objects.get",
        "storage.objects.list",
        "storage.objects.delete",
        "storage.objects.update",
    },
    "roles/storage.objectCreator": {"storage.objects.create"},
    "roles/storage.objectViewer": {"storage.objects.get", "storage.objects.list"},
}


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _ts(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


class StorageApi:
    host = "storage.googleapis.com"
    scopes = {
        "https://www.googleapis.com/auth/devstorage.full_control",
        "https://www.googleapis.com/auth/devstorage.read_write",
        "https://www.googleapis.com/auth/cloud-platform",
    }

    def __init__(self, state):
        self.state = state

    def _require(self, caller, bucket, permission):
        if caller in self.state.project_owners:
            return
        policy = self.state.bucket_policies.get(bucket)
        granted = set()
        principals = {"serviceAccount:" + caller, "user:" + caller}
        for binding in policy.bindings if policy else []:
            if not binding.get("condition") and principals & set(binding["members"]):
                granted |= _ROLE_PERMISSIONS.get(binding["role"], set())
        if permission not in granted:
            raise storage_error(
                403,
                "forbidden",
                "%s does not have %s access to the Google Cloud Storage bucket. Permission '%s' denied on resource "
                "(or it may not exist)." % (caller, permission, permission),
            )

    def upload(self, caller, parts, query, raw):
        """Simple media upload: POST /upload/storage/v1/b/{bucket}/o?uploadType=media&name=..."""
        if len(parts) != 3 or parts[0] != "b" or parts[2] != "o" or query.get("uploadType") != "media":
            return None
        self._require(caller, parts[1], "storage.objects.create")
        self._bucket(parts[1])
        name = query.get("name")
        if not name:
            raise storage_error(400, "required", "Required")
        self.state.objects[(parts[1], name)] = raw
        return 200, {"kind": "storage#object", "bucket": parts[1], "name": name, "size": str(len(raw))}

    def route(self, method, parts, query, body, caller):
        """parts: path split after /storage/v1."""
        if len(parts) == 4 and parts[0] == "b" and parts[2] == "o" and method == "GET":
            self._require(caller, parts[1], "storage.objects.get")
            data = self.state.objects.get((parts[1], parts[3]))
            if data is None:
                raise storage_error(404, "notFound", "No such object: %s/%s" % (parts[1], parts[3]))
            if query.get("alt") == "media":
                return 200, data
            return 200, {"kind": "storage#object", "bucket": parts[1], "name": parts[3], "size": str(len(data))}
        bucket = parts[1] if len(parts) > 1 else body.get("name", "")
        if bucket in self.state.foreign_buckets:
            if parts == ["b"]:
                raise storage_error(
                    409,
                    "conflict",
                    "The requested bucket name is not available. The bucket namespace is shared by all users of the "
                    "system. Please select a different name and try again.",
                )
            caller_owns = False
        else:
            caller_owns = caller in self.state.project_owners
        if not caller_owns:
            permission = "storage.buckets.getIamPolicy" if parts[-1] == "iam" else "storage.buckets.get"
            raise storage_error(
                403,
                "forbidden",
                "%s does not have %s access to the Google Cloud Storage bucket %s. Permission '%s' denied on "
                "resource (or it may not exist)." % (caller, permission, bucket, permission),
            )
        if parts == ["b"] and method == "POST":
            return self.insert(query, body)
        if len(parts) == 2 and parts[0] == "b":
            if method == "GET":
                return 200, self._bucket(parts[1])
            if method in ("PUT", "PATCH"):
                return self.update(parts[1], body, replace=method == "PUT")
            if method == "DELETE":
                return self.delete(parts[1])
        if len(parts) == 3 and parts[0] == "b" and parts[2] == "iam":
            if method == "GET":
                return self.get_iam(parts[1], query)
            if method == "PUT":
                return self.set_iam(parts[1], body)
        return None

    def _bucket(self, name):
        bucket = self.state.buckets.get(name)
        if bucket is None:
            raise storage_error(404, "notFound", "The specified bucket does not exist.")
        return bucket

    def _check_fields(self, body, bucket):
        storage_class = body.get("storageClass")
        if storage_class is not None and storage_class not in _CLASSES:
            raise storage_error(400, "invalid", "Invalid argument.")
        for rule in (body.get("lifecycle") or {}).get("rule", []):
            action = rule.get("action") or {}
            if action.get("type") not in _ACTIONS or not rule.get("condition"):
                raise storage_error(400, "invalid", "Invalid argument.")
            if action["type"] == "SetStorageClass" and action.get("storageClass") not in _CLASSES:
                raise storage_error(400, "invalid", "Invalid argument.")
        iam = body.get("iamConfiguration") or {}
        if iam.get("publicAccessPrevention") not in (None, "inherited", "enforced", "unspecified"):
            raise storage_error(400, "invalid", "Invalid argument.")
        if bucket is not None:
            ubla = (iam.get("uniformBucketLevelAccess") or {}).get("enabled")
            current = bucket["iamConfiguration"]["uniformBucketLevelAccess"]
            if (
                ubla is False
                and current["enabled"]
                and _now() > datetime.datetime.fromisoformat(current["lockedTime"].replace("Z", "+00:00"))
            ):
                raise storage_error(400, "invalid", "Uniform bucket-level access is locked.")

    def _apply_iam_configuration(self, bucket, iam):
        config = bucket["iamConfiguration"]
        if "uniformBucketLevelAccess" in iam:
            enabled = bool((iam["uniformBucketLevelAccess"] or {}).get("enabled"))
            if enabled and not config["uniformBucketLevelAccess"]["enabled"]:
                value = {"enabled": True, "lockedTime": _ts(_now() + datetime.timedelta(days=90))}
            elif enabled:
                value = config["uniformBucketLevelAccess"]
            else:
                value = {"enabled": False}
            config["uniformBucketLevelAccess"] = value
            config["bucketPolicyOnly"] = dict(value)
        if iam.get("publicAccessPrevention"):
            pap = iam["publicAccessPrevention"]
            config["publicAccessPrevention"] = "inherited" if pap == "unspecified" else pap

    def insert(self, query, body):
        project = query.get("project")
        if not project:
            raise storage_error(400, "required", "Required parameter: project")
        if project not in (self.state.project_id, str(self.state.project_number)):
            raise storage_error(400, "invalid", "Unknown project id: %s" % project)
        name = body.get("name")
        if not name:
            raise storage_error(400, "required", "Required")
        problem = bucket_name_problem(name)
        if problem:
            raise storage_error(400, "invalid", problem)
        if name in self.state.buckets:
            raise storage_error(
                409,
                "conflict",
                "Your previous request to create the named bucket succeeded and you already own it.",
            )
        self._check_fields(body, None)
        now = _ts(_now())
        location = (body.get("location") or "US").upper()
        bucket = {
            "kind": "storage#bucket",
            "selfLink": "https://www.googleapis.com/storage/v1/b/" + name,
            "id": name,
            "name": name,
            "projectNumber": str(self.state.project_number),
            "generation": str(random.randint(10**15, 10**16 - 1)),
            "metageneration": "1",
            "location": location,
            "locationType": "multi-region" if location in ("US", "EU", "ASIA") else "region",
            "storageClass": "STANDARD",
            "etag": "CAE=",
            "timeCreated": now,
            "updated": now,
            "rpo": "DEFAULT",
            "softDeletePolicy": {"retentionDurationSeconds": "604800", "effectiveTime": now},
            "iamConfiguration": {
                "bucketPolicyOnly": {"enabled": False},
                "uniformBucketLevelAccess": {"enabled": False},
                "publicAccessPrevention": "inherited",
            },
        }
        for field in _MUTABLE:
            if body.get(field) is not None:
                bucket[field] = body[field]
        self._apply_iam_configuration(bucket, body.get("iamConfiguration") or {})
        self.state.buckets[name] = bucket
        self.state.bucket_policies[name] = Policy(
            [
                {
                    "role": "roles/storage.legacyBucketOwner",
                    "members": ["projectEditor:%s" % self.state.project_id, "projectOwner:%s" % self.state.project_id],
                },
                {"role": "roles/storage.legacyBucketReader", "members": ["projectViewer:%s" % self.state.project_id]},
            ],
            etag="CAE=",
        )
        return 200, bucket

    def update(self, name, body, replace):
        bucket = self._bucket(name)
        if body.get("name") not in (None, name):
            raise storage_error(400, "invalid", "Invalid argument.")
        if body.get("location") and body["location"].upper() != bucket["location"]:
            raise storage_error(400, "invalid", "Cannot change the location of an existing bucket.")
        self._check_fields(body, bucket)
        for field in _MUTABLE:
            if field in body and body[field] is not None:
                bucket[field] = body[field]
            elif replace and field != "storageClass":
                # buckets.update replaces the resource: fields left out are cleared.
                bucket.pop(field, None)
        self._apply_iam_configuration(bucket, body.get("iamConfiguration") or {})
        bucket["metageneration"] = str(int(bucket["metageneration"]) + 1)
        bucket["etag"] = new_etag()
        bucket["updated"] = _ts(_now())
        return 200, bucket

    def delete(self, name):
        self._bucket(name)
        del self.state.buckets[name]
        del self.state.bucket_policies[name]
        return 204, None

    def get_iam(self, name, query):
        self._bucket(name)
        policy = self.state.bucket_policies[name]
        body = policy.to_json()
        body.update({"kind": "storage#policy", "resourceId": "projects/_/buckets/" + name})
        requested = int(query.get("optionsRequestedPolicyVersion", "1"))
        if requested not in (1, 3):
            raise storage_error(400, "invalid", "Invalid argument.")
        return 200, body

    def set_iam(self, name, body):
        bucket = self._bucket(name)
        policy = self.state.bucket_policies[name]
        fault = self.state.take_fault("bucket.setIamPolicy")
        if fault or (body.get("etag") and body["etag"] != policy.etag):
            raise storage_error(412, "conditionNotMet", "Precondition Failed")
        bindings = body.get("bindings") or []
        for binding in bindings:
            role = binding.get("role", "")
            members = binding.get("members") or []
            if not role.startswith("roles/") or not members or not all(member_ok(m) for m in members):
                raise storage_error(400, "invalid", "Invalid argument.")
            for member in members:
                email = member.partition(":")[2]
                if not member.startswith("serviceAccount:") or not email.endswith(".iam.gserviceaccount.com"):
                    continue
                if email.endswith("@%s.iam.gserviceaccount.com" % self.state.project_id) and (
                    email not in self.state.service_accounts or self.state.pending_propagation.get(email, 0) > 0
                ):
                    if email in self.state.pending_propagation:
                        self.state.pending_propagation[email] -= 1
                    raise storage_error(400, "invalid", "Service account %s does not exist." % email)
            if binding.get("condition") and not bucket["iamConfiguration"]["uniformBucketLevelAccess"]["enabled"]:
                raise storage_error(
                    400,
                    "invalid",
                    "IAM conditions can only be used on buckets with uniform bucket-level access enabled.",
                )
            if bucket["iamConfiguration"]["publicAccessPrevention"] == "enforced" and _PUBLIC & set(members):
                raise storage_error(
                    412,
                    "conditionNotMet",
                    "The member bindings allUsers and allAuthenticatedUsers are not allowed since public "
                    "access prevention is enforced.",
                )
        new = Policy([{k: v for k, v in b.items() if k in ("role", "members", "condition")} for b in bindings])
        new.version = body.get("version", 1)
        self.state.bucket_policies[name] = new
        out = new.to_json()
        out.update({"kind": "storage#policy", "resourceId": "projects/_/buckets/" + name})
        return 200, out
