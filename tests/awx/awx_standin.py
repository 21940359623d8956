"""A small stateful stand-in for the parts of the AWX 24.6.1 REST API that awx.awx uses here.

No AWX server can run in CI, so playbooks/awx_configure.yml is run against this instead. It
keeps state like AWX does: objects with ids, list views filtered by query parameters (name,
or__id/or__name, foreign keys), PATCH updates, secret credential inputs returned as
``$encrypted$``, job template surveys and credential associations on their related endpoints,
and a project update started (and finished) when a project is created or changed. It checks
the bearer token and rejects what AWX would reject for these calls: unknown foreign keys,
duplicate names in one organization, unknown credential types and unknown credential inputs.
Every request is logged so tests can assert on what was sent.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

API = "/api/v2/"
SECRET = "$encrypted$"
# Managed credential types of AWX 24.6.1 and their inputs (secret ones marked).
CREDENTIAL_TYPES = {
    "OpenShift or Kubernetes API Bearer Token": (
        "kubernetes",
        {"host": False, "bearer_token": True, "verify_ssl": False, "ssl_ca_cert": False},
    ),
    "Google Compute Engine": ("cloud", {"username": False, "project": False, "ssh_key_data": True}),
    "Vault": ("vault", {"vault_password": True, "vault_id": False}),
}
COLLECTIONS = {
    "organizations": "organization",
    "execution_environments": "execution_environment",
    "projects": "project",
    "inventories": "inventory",
    "hosts": "host",
    "inventory_sources": "inventory_source",
    "credentials": "credential",
    "credential_types": "credential_type",
    "job_templates": "job_template",
    "project_updates": "project_update",
}
# Foreign keys the stand-in resolves, so a wrong id fails like it would in AWX.
FOREIGN_KEYS = {
    "organization": "organizations",
    "default_environment": "execution_environments",
    "execution_environment": "execution_environments",
    "project": "projects",
    "inventory": "inventories",
    "credential_type": "credential_types",
    "source_project": "projects",
}
# Names are unique per organization (or per inventory for hosts), as in AWX.
UNIQUE_WITHIN = {"hosts": "inventory"}


class AwxState:
    def __init__(self, token: str):
        self.token = token
        self.lock = threading.Lock()
        self.objects: dict[str, dict[int, dict]] = {name: {} for name in COLLECTIONS}
        self.surveys: dict[int, dict] = {}
        self.associations: dict[int, list[int]] = {}
        self.secrets: dict[int, dict] = {}
        self.requests: list[tuple[str, str, object]] = []
        self.next_id = 1
        for name, definition in CREDENTIAL_TYPES.items():
            self._store("credential_types", {"name": name, "kind": definition[0], "managed": True})

    # -- helpers -------------------------------------------------------------------------------
    def _store(self, collection: str, fields: dict) -> dict:
        item_id = self.next_id
        self.next_id += 1
        item = dict(fields, id=item_id, type=COLLECTIONS[collection], url=f"{API}{collection}/{item_id}/")
        item["related"] = {}
        item["summary_fields"] = {}
        if collection == "job_templates":
            item["related"]["survey_spec"] = f"{API}job_templates/{item_id}/survey_spec/"
            item["related"]["credentials"] = f"{API}job_templates/{item_id}/credentials/"
            self.associations[item_id] = []
        if collection == "projects":
            item["related"]["update"] = f"{API}projects/{item_id}/update/"
            item.setdefault("scm_revision", "")
        self.objects[collection][item_id] = item
        return item

    def public(self, collection: str, item: dict) -> dict:
        if collection != "credentials":
            return item
        shown = dict(item)
        shown["inputs"] = {
            k: (SECRET if k in self.secrets.get(item["id"], {}) else v) for k, v in item["inputs"].items()
        }
        return shown

    def check(self, collection: str, fields: dict, item_id: int | None = None) -> str | None:
        for key, target in FOREIGN_KEYS.items():
            if fields.get(key) is not None and int(fields[key]) not in self.objects[target]:
                return f"{key}: no {COLLECTIONS[target]} with id {fields[key]}"
        if "name" in fields:
            scope = UNIQUE_WITHIN.get(collection, "organization")
            for other in self.objects[collection].values():
                if (
                    other["id"] != item_id
                    and other.get("name") == fields["name"]
                    and other.get(scope) == fields.get(scope, self.objects[collection].get(item_id, {}).get(scope))
                ):
                    return f"{COLLECTIONS[collection]} with this name already exists"
        if collection == "credentials":
            type_id = fields.get("credential_type", self.objects[collection].get(item_id, {}).get("credential_type"))
            type_name = self.objects["credential_types"][int(type_id)]["name"]
            allowed = CREDENTIAL_TYPES[type_name][1]
            unknown = set(fields.get("inputs", {})) - set(allowed)
            if unknown:
                return f"inputs: {sorted(unknown)} are not fields of {type_name}"
        return None

    def save_credential_inputs(self, item: dict, inputs: dict) -> None:
        type_name = self.objects["credential_types"][int(item["credential_type"])]["name"]
        secret_fields = {k for k, secret in CREDENTIAL_TYPES[type_name][1].items() if secret}
        stored = dict(item.get("inputs", {}))
        for key, value in inputs.items():
            if value == SECRET:
                continue  # AWX keeps the stored secret when it gets its placeholder back
            stored[key] = value
            if key in secret_fields:
                self.secrets.setdefault(item["id"], {})[key] = value
        item["inputs"] = stored

    def start_project_update(self, project: dict) -> None:
        update = self._store(
            "project_updates", {"name": project["name"], "status": "successful", "project": project["id"]}
        )
        project["scm_revision"] = "0123456789abcdef0123456789abcdef01234567"
        project["summary_fields"]["current_update"] = {"id": update["id"], "status": "successful"}


class Handler(BaseHTTPRequestHandler):
    server_version = "awx-standin"
    state: AwxState

    def log_message(self, *args):
        return

    def _send(self, status: int, body: object = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-API-Product-Name", "AWX")
        self.send_header("X-API-Product-Version", "24.6.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def _route(self, method: str) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.state.token}":
            self._send(401, {"detail": "Authentication credentials were not provided."})
            return
        url = urlsplit(self.path)
        body = self._body() if method in ("POST", "PATCH") else None
        with self.state.lock:
            self.state.requests.append((method, url.path, body))
            if not url.path.startswith(API):
                self._send(404, {"detail": "Not found."})
                return
            parts = [p for p in url.path[len(API) :].split("/") if p]
            status, payload = self._dispatch(method, parts, parse_qs(url.query), body)
        self._send(status, payload)

    def _dispatch(self, method, parts, query, body):
        state = self.state
        if not parts or parts[0] not in COLLECTIONS:
            return 404, {"detail": "Not found."}
        collection = parts[0]
        items = state.objects[collection]
        if len(parts) == 1 and method == "GET":
            found = [state.public(collection, i) for i in items.values() if _matches(i, query)]
            return 200, {"count": len(found), "next": None, "previous": None, "results": found}
        if len(parts) == 1 and method == "POST":
            error = state.check(collection, body)
            if error:
                return 400, {"detail": error}
            fields = {k: v for k, v in body.items() if k != "inputs"}
            item = state._store(collection, fields)
            if collection == "credentials":
                item["inputs"] = {}
                state.save_credential_inputs(item, body.get("inputs", {}))
            if collection == "projects":
                state.start_project_update(item)
            return 201, state.public(collection, item)
        try:
            item = items[int(parts[1])]
        except (ValueError, KeyError):
            return 404, {"detail": "Not found."}
        if len(parts) == 2 and method == "GET":
            return 200, state.public(collection, item)
        if len(parts) == 2 and method == "PATCH":
            error = state.check(collection, body, item["id"])
            if error:
                return 400, {"detail": error}
            item.update({k: v for k, v in body.items() if k != "inputs"})
            if collection == "credentials" and "inputs" in body:
                state.save_credential_inputs(item, body["inputs"])
            if collection == "projects":
                state.start_project_update(item)
            return 200, state.public(collection, item)
        if collection == "job_templates" and parts[2:] == ["survey_spec"]:
            if method == "GET":
                return 200, state.surveys.get(item["id"], {})
            if method == "POST":
                state.surveys[item["id"]] = body
                return 200, {}
        if collection == "job_templates" and parts[2:] == ["credentials"]:
            linked = state.associations[item["id"]]
            if method == "GET":
                results = [state.public("credentials", state.objects["credentials"][i]) for i in linked]
                return 200, {"count": len(results), "next": None, "previous": None, "results": results}
            if method == "POST":
                cred_id = int(body["id"])
                if cred_id not in state.objects["credentials"]:
                    return 400, {"detail": f"no credential with id {cred_id}"}
                if body.get("disassociate"):
                    linked.remove(cred_id)
                elif cred_id not in linked:
                    linked.append(cred_id)
                return 204, None
        return 405, {"detail": f"Method {method} not allowed."}


def _matches(item: dict, query: dict[str, list[str]]) -> bool:
    plain = {k: v[0] for k, v in query.items() if not k.startswith("or__") and k not in ("page_size", "page")}
    alternatives = {k[4:]: v[0] for k, v in query.items() if k.startswith("or__")}
    if any(str(item.get(k)) != v for k, v in plain.items()):
        return False
    return not alternatives or any(str(item.get(k)) == v for k, v in alternatives.items())


for _method in ("GET", "POST", "PATCH"):
    setattr(Handler, f"do_{_method}", lambda self, m=_method: self._route(m))


class AwxStandin:
    """Runs the stand-in on a free loopback port in a background thread."""

    def __init__(self):
        self.state = AwxState(secrets.token_hex(16))
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AwxStandin:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def one(self, collection: str, name: str) -> dict:
        found = [i for i in self.state.objects[collection].values() if i.get("name") == name]
        assert len(found) == 1, (collection, name, found)
        return found[0]
