"""Benchmark: reconciling N users x 3 grants on real MLflow servers (not part of the test suite).

Cases, per MLflow version, each server fresh (PostgreSQL-backed, started here):
  (a) the mlflow_users role from an empty server
  (b) the role re-run with nothing to change
  (c) the common pattern: one module task per user in a loop (re-run, nothing to change);
      with --loop-sample K < N it runs K users and extrapolates linearly to N (printed as such)
  (d) a bare Python script making only the minimum HTTP calls over one keep-alive connection:
      create (users + grants), and a read-only check of the whole state

Run from the repository root:
  python benchmarks/mlflow_access_bench.py [--users 1000] [--versions 3.17.2,3.12.0]
      [--loop-sample 100] [--workers 4] [--auth-cache-ttl 0]
"""

import argparse
import base64
import contextlib
import http.client
import importlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lib"))

mlflow_env = importlib.import_module("mlflow_env")
postgres = importlib.import_module("postgres")

BRIDGE = "bench-Bridge-Passw0rd-1"
EXPERIMENTS = ["bench-exp-0", "bench-exp-1", "bench-exp-2"]


def spec(n):
    """N SSO users, each with two experiment grants and one registered-model grant."""
    users = []
    for i in range(n):
        users.append(
            {
                "email": "user%04d@bench.example.org" % i,
                "permissions": [
                    {"experiment_name": EXPERIMENTS[i % 3], "permission": "READ"},
                    {"experiment_name": EXPERIMENTS[(i + 1) % 3], "permission": "EDIT"},
                    {
                        "resource_type": "registered_model",
                        "resource_id": "bench-model-%d" % (i % 7),
                        "permission": "MANAGE",
                    },
                ],
            }
        )
    return users


class Bare:
    """Minimum HTTP calls over one keep-alive connection."""

    def __init__(self, server):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        token = base64.b64encode(("%s:%s" % (server.admin_username, server.admin_password)).encode()).decode()
        self.headers = {"Authorization": "Basic " + token, "Content-Type": "application/json"}
        self.rbac = tuple(int(p) for p in server.version.split(".")[:2]) >= (3, 13)
        self.calls = 0

    def req(self, method, path, body=None):
        self.calls += 1
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=self.headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError("%s %s -> %s %s" % (method, path, resp.status, data[:300]))
        return json.loads(data) if data else {}

    def experiment_ids(self, create):
        ids = {}
        for name in EXPERIMENTS:
            if create:
                ids[name] = self.req("POST", "/api/2.0/mlflow/experiments/create", {"name": name})["experiment_id"]
            else:
                ids[name] = self.req("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=" + name)[
                    "experiment"
                ]["experiment_id"]
        return ids

    def wanted(self, users, ids):
        out = {}
        for user in users:
            grants = {}
            for perm in user["permissions"]:
                if "experiment_name" in perm:
                    grants[("experiment", str(ids[perm["experiment_name"]]))] = perm["permission"]
                else:
                    grants[("registered_model", perm["resource_id"])] = perm["permission"]
            out[user["email"]] = grants
        return out

    def create(self, users):
        want = self.wanted(users, self.experiment_ids(create=True))
        for name, grants in want.items():
            self.req("POST", "/api/2.0/mlflow/users/create", {"username": name, "password": BRIDGE})
            for (rtype, rid), level in grants.items():
                if self.rbac:
                    self.req(
                        "POST",
                        "/api/3.0/mlflow/users/permissions/grant",
                        {"username": name, "resource_type": rtype, "resource_id": rid, "permission": level},
                    )
                elif rtype == "experiment":
                    self.req(
                        "POST",
                        "/api/2.0/mlflow/experiments/permissions/create",
                        {"experiment_id": rid, "username": name, "permission": level},
                    )
                else:
                    self.req(
                        "POST",
                        "/api/2.0/mlflow/registered-models/permissions/create",
                        {"name": rid, "username": name, "permission": level},
                    )

    def check(self, users):
        """Read the whole state and compare; returns the number of differences."""
        want = self.wanted(users, self.experiment_ids(create=False))
        listed = self.req("GET", "/api/2.0/mlflow/users/list")["users"]
        have = {}
        if self.rbac:
            for user in listed:
                own = "__user_%s__" % user["id"]
                have[user["username"]] = {
                    (p["resource_type"], p["resource_pattern"]): p["permission"]
                    for r in user["roles"]
                    if r["name"] == own
                    for p in r["permissions"]
                }
        else:
            for name in want:
                user = self.req("GET", "/api/2.0/mlflow/users/get?username=" + name)["user"]
                grants = {("experiment", p["experiment_id"]): p["permission"] for p in user["experiment_permissions"]}
                grants.update(
                    {("registered_model", p["name"]): p["permission"] for p in user["registered_model_permissions"]}
                )
                have[name] = grants
        return sum(1 for name, grants in want.items() if have.get(name) != grants)


def ansible(playbook, extra_vars):
    with tempfile.TemporaryDirectory() as tmp:
        play = pathlib.Path(tmp) / "play.yml"
        play.write_text(json.dumps(playbook))
        ev = pathlib.Path(tmp) / "vars.json"
        ev.write_text(json.dumps(extra_vars))
        start = time.monotonic()
        proc = subprocess.run(
            ["ansible-playbook", "-i", "localhost,", str(play), "-e", "@%s" % ev],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError("ansible-playbook failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    recap = [line for line in proc.stdout.splitlines() if line.startswith("localhost")]
    return elapsed, recap[-1] if recap else ""


def play(tasks, server):
    return [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}", "ansible_connection": "local"},
            "module_defaults": {
                "group/mlflow_k8s.platform.mlflow": {
                    "tracking_uri": server.url,
                    "auth_username": server.admin_username,
                    "auth_password": server.admin_password,
                }
            },
            "tasks": tasks,
        }
    ]


def role_vars(server, users):
    return {
        "mlflow_users_tracking_uri": server.url,
        "mlflow_users_admin_username": server.admin_username,
        "mlflow_users_admin_password": server.admin_password,
        "mlflow_users_bridge_password": BRIDGE,
        "mlflow_users_sso_users": users,
    }


@contextlib.contextmanager
def fresh_server(pg, version, tag, args):
    key = ("%s_%s" % (version, tag)).replace(".", "_")
    tracking = pg.create_database("t_" + key, "t_" + key, "bench-tracking-pw")
    auth = pg.create_database("a_" + key, "a_" + key, "bench-auth-pw")
    ini = {"auth_cache_ttl_seconds": str(args.auth_cache_ttl)} if args.auth_cache_ttl else None
    with mlflow_env.mlflow_server(
        version, backend_store_uri=tracking, auth_db_uri=auth, workers=args.workers, ini_extra=ini
    ) as server:
        yield server


def bench_version(pg, version, args):
    users = spec(args.users)
    out = {"version": version}
    with fresh_server(pg, version, "bare", args) as server:
        bare = Bare(server)
        start = time.monotonic()
        bare.create(users)
        out["d_create"] = time.monotonic() - start
        out["d_create_calls"] = bare.calls
        bare.calls = 0
        start = time.monotonic()
        diffs = bare.check(users)
        out["d_check"] = time.monotonic() - start
        out["d_check_calls"] = bare.calls
        assert diffs == 0, "bare check found %d differences after create" % diffs
    role = [{"ansible.builtin.include_role": {"name": "mlflow_k8s.platform.mlflow_users"}}]
    with fresh_server(pg, version, "role", args) as server:
        out["a"], out["a_recap"] = ansible(play(role, server), role_vars(server, users))
        out["b"], out["b_recap"] = ansible(play(role, server), role_vars(server, users))
        assert "changed=0" in out["b_recap"], out["b_recap"]
        sample = users[: args.loop_sample or args.users]
        loop = [
            {
                "mlflow_k8s.platform.mlflow_permission": {
                    "username": "{{ item.email }}",
                    "permissions": "{{ item.permissions }}",
                },
                "loop": "{{ bench_users }}",
                "loop_control": {"label": "{{ item.email }}"},
            }
        ]
        elapsed, recap = ansible(play(loop, server), {"bench_users": sample})
        assert "changed=0" in recap, recap
        out["c_sample"] = len(sample)
        out["c_measured"] = elapsed
        out["c"] = elapsed * args.users / len(sample)
    return out


def report(results, args):
    print(
        "\n%d users x 3 grants, server --workers %d, auth_cache_ttl_seconds=%d"
        % (args.users, args.workers, args.auth_cache_ttl)
    )
    for r in results:
        c_note = (
            ""
            if r["c_sample"] == args.users
            else " (measured %.1f s for %d users, extrapolated)" % (r["c_measured"], r["c_sample"])
        )
        print("\nMLflow %s" % r["version"])
        print("  (a) role from empty            %8.1f s" % r["a"])
        print("  (b) role re-run, no change     %8.1f s" % r["b"])
        print("  (c) one module task per user   %8.1f s%s" % (r["c"], c_note))
        print("  (d) bare script create         %8.1f s  (%d HTTP calls)" % (r["d_create"], r["d_create_calls"]))
        print("  (d) bare script read-only check%8.1f s  (%d HTTP calls)" % (r["d_check"], r["d_check_calls"]))
        print(
            "  ratios: (c)/(b) = %.0fx   (b)/(d check) = %.2f   (a)/(d create) = %.2f"
            % (r["c"] / r["b"], r["b"] / r["d_check"], r["a"] / r["d_create"])
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--versions", default="%s,%s" % (mlflow_env.CURRENT_VERSION, mlflow_env.LEGACY_VERSION))
    parser.add_argument("--loop-sample", type=int, default=100, help="users for case (c); 0 = all")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--auth-cache-ttl", type=int, default=0, help="basic_auth.ini auth_cache_ttl_seconds")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    os.environ.setdefault("ANSIBLE_NOCOLOR", "1")
    results = []
    with postgres.postgres_server() as pg:
        for version in args.versions.split(","):
            results.append(bench_version(pg, version, args))
            print(json.dumps(results[-1]), flush=True)
    report(results, args)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
