"""IAM API v1: service accounts, their keys and their IAM policies."""

import base64
import datetime
import json
import random

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from errors import platform_error
from naming import account_id_ok, member_ok, workload_identity_member
from state import Policy, new_etag

TOKEN_URI = "https://oauth2.googleapis.com/token"
_MAX_USER_KEYS = 10
_CONCURRENT = "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff."


def _ts(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class IamApi:
    host = "iam.googleapis.com"
    scopes = {"https://www.googleapis.com/auth/iam", "https://www.googleapis.com/auth/cloud-platform"}

    def __init__(self, state):
        self.state = state

    def route(self, method, parts, query, body, caller):
        """parts: path split after /v1."""
        if caller not in self.state.project_owners:
            raise platform_error(403, "Permission 'iam.serviceAccounts.get' denied on resource (or it may not exist).")
        if len(parts) < 3 or parts[0] != "projects" or parts[2] != "serviceAccounts":
            return None
        project = parts[1]
        if project not in ("-", self.state.project_id, str(self.state.project_number)):
            raise platform_error(403, "Permission 'iam.serviceAccounts.get' denied on resource (or it may not exist).")
        if len(parts) == 3:
            if method == "POST" and project != "-":
                return self.create(body)
            if method == "GET":
                return 200, {"accounts": list(self.state.service_accounts.values())}
            return None
        account, verb = [*parts[3].split(":", 1), ""][:2]
        if verb:
            if method != "POST" or len(parts) != 4:
                return None
            if verb == "getIamPolicy":
                return self.get_iam(account)
            if verb == "setIamPolicy":
                return self.set_iam(account, body)
            return None
        if len(parts) == 4:
            if method == "GET":
                return 200, self._account(account)
            if method == "DELETE":
                return self.delete(account)
            return None
        if parts[4] == "keys":
            if len(parts) == 5 and method == "POST":
                return self.create_key(account, body)
            if len(parts) == 5 and method == "GET":
                return self.list_keys(account, query)
            if len(parts) == 6 and method == "GET":
                return 200, self._key(account, parts[5])["meta"]
            if len(parts) == 6 and method == "DELETE":
                self._key(account, parts[5])
                del self.state.keys[parts[5]]
                return 200, {}
        return None

    def _account(self, ref):
        for account in self.state.service_accounts.values():
            if ref in (account["email"], account["uniqueId"]):
                return account
        raise platform_error(404, "Unknown service account")

    def _key(self, ref, key_id):
        account = self._account(ref)
        key = self.state.keys.get(key_id)
        if key is None or key["email"] != account["email"]:
            raise platform_error(404, "Unknown service account key")
        return key

    def create(self, body):
        account_id = body.get("accountId", "")
        if not account_id_ok(account_id):
            raise platform_error(
                400,
                "Invalid account ID: '%s'. Account IDs must be 6 to 30 lowercase letters, digits or hyphens, "
                "starting with a letter." % account_id,
            )
        email = "%s@%s.iam.gserviceaccount.com" % (account_id, self.state.project_id)
        if email in self.state.service_accounts:
            raise platform_error(
                409,
                "Service account %s already exists within project projects/%s." % (account_id, self.state.project_id),
            )
        return 200, self.add_account(account_id, (body.get("serviceAccount") or {}).get("displayName"))

    def add_account(self, account_id, display_name=None):
        email = "%s@%s.iam.gserviceaccount.com" % (account_id, self.state.project_id)
        unique_id = str(random.randint(10**20, 10**21 - 1))
        account = {
            "name": "projects/%s/serviceAccounts/%s" % (self.state.project_id, email),
            "projectId": self.state.project_id,
            "uniqueId": unique_id,
            "email": email,
            "etag": "MDEwMjE5MjA=",
            "oauth2ClientId": unique_id,
        }
        if display_name:
            account["displayName"] = display_name
        self.state.service_accounts[email] = account
        self.state.pending_propagation[email] = self.state.propagation_writes
        # The real API answers an empty policy with this fixed etag.
        self.state.sa_policies[email] = Policy(etag="ACAB")
        return account

    def delete(self, ref):
        account = self._account(ref)
        del self.state.service_accounts[account["email"]]
        del self.state.sa_policies[account["email"]]
        for key_id in [k for k, v in self.state.keys.items() if v["email"] == account["email"]]:
            del self.state.keys[key_id]
        return 200, {}

    def get_iam(self, ref):
        account = self._account(ref)
        return 200, self.state.sa_policies[account["email"]].to_json()

    def set_iam(self, ref, body):
        account = self._account(ref)
        policy = self.state.sa_policies[account["email"]]
        new = (body or {}).get("policy")
        if not isinstance(new, dict):
            raise platform_error(400, "Request contains an invalid argument.")
        if self.state.take_fault("serviceAccount.setIamPolicy") or (new.get("etag") and new["etag"] != policy.etag):
            raise platform_error(409, _CONCURRENT, "ABORTED")
        for binding in new.get("bindings") or []:
            members = binding.get("members") or []
            if not str(binding.get("role", "")).startswith("roles/") or not members:
                raise platform_error(400, "Request contains an invalid argument.")
            for member in members:
                if not member_ok(member):
                    raise platform_error(400, "Invalid member: %s" % member)
                pool = workload_identity_member(member)
                if pool and pool[0] not in self.state.workload_identity_pools:
                    raise platform_error(
                        400,
                        "Identity Pool does not exist (%s.svc.id.goog). Please check that "
                        "you specified a valid resource name as returned in the `name` attribute "
                        "in the configuration API." % pool[0],
                    )
        stored = Policy(
            [{k: v for k, v in b.items() if k in ("role", "members", "condition")} for b in new.get("bindings") or []],
            etag=new_etag(),
        )
        stored.version = new.get("version", 1)
        self.state.sa_policies[account["email"]] = stored
        return 200, stored.to_json()

    def create_key(self, ref, body):
        account = self._account(ref)
        user_keys = [k for k in self.state.keys.values() if k["email"] == account["email"]]
        if len(user_keys) >= _MAX_USER_KEYS:
            raise platform_error(400, "Precondition check failed.", "FAILED_PRECONDITION")
        key_type = (body or {}).get("privateKeyType", "TYPE_GOOGLE_CREDENTIALS_FILE")
        algorithm = (body or {}).get("keyAlgorithm", "KEY_ALG_RSA_2048")
        if key_type != "TYPE_GOOGLE_CREDENTIALS_FILE" or algorithm not in ("KEY_ALG_RSA_2048", "KEY_ALG_RSA_1024"):
            raise platform_error(400, "Request contains an invalid argument.")
        key_file, meta = self.issue_key(account, algorithm)
        data = base64.b64encode(json.dumps(key_file).encode()).decode()
        meta = dict(meta, privateKeyType=key_type, privateKeyData=data)
        return 200, meta

    def issue_key(self, account, algorithm="KEY_ALG_RSA_2048"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_id = random.randbytes(20).hex()
        now = datetime.datetime.now(datetime.timezone.utc)
        meta = {
            "name": "projects/%s/serviceAccounts/%s/keys/%s" % (self.state.project_id, account["email"], key_id),
            "validAfterTime": _ts(now),
            "validBeforeTime": "9999-12-31T23:59:59Z",
            "keyAlgorithm": algorithm,
            "keyOrigin": "GOOGLE_PROVIDED",
            "keyType": "USER_MANAGED",
        }
        self.state.keys[key_id] = {"email": account["email"], "public_key": private.public_key(), "meta": meta}
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        key_file = {
            "type": "service_account",
            "project_id": self.state.project_id,
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": account["email"],
            "client_id": account["uniqueId"],
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": TOKEN_URI,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/" + account["email"],
            "universe_domain": "googleapis.com",
        }
        return key_file, meta

    def list_keys(self, ref, query):
        account = self._account(ref)
        types = query.get("keyTypes")
        keys = [k["meta"] for k in self.state.keys.values() if k["email"] == account["email"]]
        if types not in (None, "USER_MANAGED", "KEY_TYPE_UNSPECIFIED"):
            keys = []
        return 200, {"keys": keys} if keys else {}
