"""The test servers ride out a stalled worker, as a loaded machine stalls them: uvicorn's
supervisor killed a worker that missed its ping for 5 s (its default), and the module call it
was serving failed with "dropped the connection" (cold and side-by-side runs, MLflow 3.12.0)."""

import contextlib
import os
import pathlib
import signal
import time


def _workers(pid):
    """The server's worker processes (uvicorn's multiprocessing children), any depth below pid."""
    children = {}
    for proc in pathlib.Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            children.setdefault(ppid, []).append((int(proc.name), cmdline))
    found, todo = [], [pid]
    while todo:
        for child, cmdline in children.get(todo.pop(), []):
            todo.append(child)
            if "multiprocessing" in cmdline and "spawn_main" in cmdline:
                found.append(child)
    return found


def test_a_worker_stalled_for_8_seconds_keeps_serving(mlflow):
    workers = _workers(mlflow.server.pid)
    assert len(workers) == 2, workers
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(8)
    finally:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):  # killed by the supervisor: asserted below
                os.kill(pid, signal.SIGCONT)
    time.sleep(1)
    assert sorted(_workers(mlflow.server.pid)) == sorted(workers), "the supervisor replaced a stalled worker"
    assert "died" not in mlflow.server.log_path.read_text(errors="replace")
    assert mlflow.ansible.task("mlflow_user_info", {})["users"]
