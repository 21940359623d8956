"""Run a command on a pseudo-terminal that is its controlling terminal, answering one prompt.

Playbooks that ask for confirmation with ansible.builtin.pause prompt only when stdin is a TTY
and they are the terminal's foreground process group; this is how the tests exercise that path.

    rc, output = run_on_terminal(argv, cwd=..., env=..., prompt=b"Type yes", answer="yes")
"""

import fcntl
import os
import pty
import select
import signal
import subprocess
import termios
import time


def _take_terminal():
    # In the child, after setsid and after stdin became the pty slave: make that pty the
    # controlling terminal, so the child is its foreground process group.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_on_terminal(argv, *, cwd, env, prompt, answer, timeout=240):
    """Returns (exit code, output). Types ``answer`` (unless None) once ``prompt`` (bytes) shows;
    fails the test if the command has not finished within ``timeout`` seconds."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=_take_terminal,
    )
    os.close(slave)
    output, answered, deadline = b"", False, time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise AssertionError(f"{argv[0]} did not finish in {timeout}s:\n{output.decode(errors='replace')}")
            if not select.select([master], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every process closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if answer is not None and not answered and prompt in output:
                time.sleep(0.5)
                os.write(master, answer.encode() + b"\r")
                answered = True
    finally:
        os.close(master)
    return proc.wait(timeout=60), output.decode(errors="replace")
