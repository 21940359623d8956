"""Run one mlflow_k8s.platform task (or a whole playbook) with ansible-playbook and return its result.

API
---
``AnsibleRunner(repo_root, connection, env=None)``
    ``connection``: dict put into ``module_defaults`` for ``group/mlflow_k8s.platform.mlflow``
    (tracking_uri, auth_username, auth_password), so tasks only carry their own options.
``runner.task(module, args, check=False, diff=False, expect_failure=False) -> dict``
    Runs ``mlflow_k8s.platform.<module>`` once on localhost through the ``ansible.posix.json``
    callback and returns the task result (raises AssertionError when the outcome is not the
    expected success/failure).
``runner.playbook_text(tasks, extra_args=(), env=None, extra_vars=None) -> (rc, output)``
    Runs the tasks with the default callback (e.g. at ``-vvv``) and returns all output.
``runner.playbook_json(tasks, extra_vars=None, check=False, diff=False) -> (rc, doc)``
    Runs the tasks with the ``ansible.posix.json`` callback; ``doc["stats"]["localhost"]`` has
    the recap counters, ``doc["plays"][0]["tasks"]`` every task result.
``runner.playbook_json_hosts(tasks, host_vars, forks=8) -> (rc, doc)``
    The same for many independent runs at once: one local host per key of ``host_vars`` (its
    variables the value), all in one ``ansible-playbook``; results and counters per host name.
"""

import json
import os
import subprocess
import tempfile


class AnsibleRunner:
    """Runs tasks against one MLflow server."""

    def __init__(self, repo_root, connection, env=None):
        self.repo_root = str(repo_root)
        self.connection = dict(connection)
        self.env = dict(os.environ)
        self.env.update(
            {
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_RETRY_FILES_ENABLED": "0",
                "ANSIBLE_LOCALHOST_WARNING": "0",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            }
        )
        for key in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            self.env.pop(key, None)
        self.env.update(env or {})

    def _play(self, tasks, hosts="localhost"):
        return [
            {
                "name": "mlflow test",
                "hosts": hosts,
                "gather_facts": False,
                "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}", "ansible_connection": "local"},
                "module_defaults": {"group/mlflow_k8s.platform.mlflow": self.connection},
                "tasks": tasks,
            }
        ]

    def _run(self, playbook, args, env_extra=None, extra_vars=None, inventory=None):
        env = dict(self.env)
        env.update(env_extra or {})
        paths = []
        try:
            with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
                json.dump(playbook, handle)
                paths.append(handle.name)
            hosts = "localhost,"
            if inventory is not None:
                with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
                    json.dump(inventory, handle)
                    paths.append(handle.name)
                hosts = paths[-1]
            cli = ["ansible-playbook", "-i", hosts, paths[0], *args]
            if extra_vars is not None:
                with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
                    json.dump(extra_vars, handle)
                    paths.append(handle.name)
                cli += ["-e", "@" + paths[-1]]
            return subprocess.run(
                cli, cwd=self.repo_root, env=env, capture_output=True, text=True, check=False, timeout=1800
            )
        finally:
            for path in paths:
                os.unlink(path)

    def task(self, module, args, check=False, diff=False, expect_failure=False, env=None):
        """Run one task and return its result dict."""
        play = self._play([{"name": "under test", "mlflow_k8s.platform.%s" % module: args}])
        cli = []
        if check:
            cli.append("--check")
        if diff:
            cli.append("--diff")
        proc = self._run(play, cli, {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
        try:
            doc = json.loads(proc.stdout)
            result = doc["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError) as exc:
            raise AssertionError(
                "unparsable ansible output (rc=%s):\n%s\n%s"
                % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
            ) from exc
        failed = bool(result.get("failed"))
        if failed != expect_failure:
            raise AssertionError(
                "%s %s: expected %s, got rc=%s result=%s"
                % (
                    module,
                    "failure" if expect_failure else "success",
                    "failure" if expect_failure else "success",
                    proc.returncode,
                    json.dumps(result)[:3000],
                )
            )
        return result

    def playbook_text(self, tasks, extra_args=(), env=None, extra_vars=None):
        """Run tasks with the default callback; return (rc, stdout+stderr)."""
        proc = self._run(self._play(tasks), list(extra_args), env, extra_vars)
        return proc.returncode, proc.stdout + proc.stderr

    def playbook_json(self, tasks, extra_vars=None, check=False, diff=False):
        """Run tasks with the json callback; return (rc, parsed document)."""
        cli = (["--check"] if check else []) + (["--diff"] if diff else [])
        proc = self._run(self._play(tasks), cli, {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}, extra_vars)
        return proc.returncode, _json_output(proc)

    def playbook_json_hosts(self, tasks, host_vars, forks=8):
        """Run tasks once per host of host_vars, in one ansible-playbook; return (rc, doc)."""
        inventory = {"all": {"hosts": {name: dict(variables) for name, variables in host_vars.items()}}}
        env = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
        proc = self._run(self._play(tasks, hosts="all"), ["--forks", str(forks)], env, inventory=inventory)
        return proc.returncode, _json_output(proc)


def _json_output(proc):
    try:
        return json.loads(proc.stdout)
    except ValueError as exc:
        raise AssertionError(
            "unparsable ansible output (rc=%s):\n%s\n%s" % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
        ) from exc
