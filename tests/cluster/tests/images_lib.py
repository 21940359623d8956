"""What the image tests share: the pins, the expected image configs, and build.sh."""

import os
import re
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
REPO = HERE.parents[1]
BUILD = HERE / "images" / "build.sh"
PACK = HERE / "images" / "pack.py"
CACHE = Path(os.environ.get("MLFLOW_K8S_CACHE", "/var/cache/mlflow-k8s"))
VERSIONS = dict(
    line.split("=", 1) for line in (HERE / "versions.env").read_text().splitlines() if "=" in line and line[0] != "#"
)
CERT_MANAGER = ["controller", "webhook", "cainjector", "acmesolver", "startupapicheck"]
OAUTH2_PROXY_VERSION = "v" + VERSIONS["OAUTH2_PROXY_VERSION"]


def _expected():
    """name -> (tag pattern, config fields as the upstream image has them)."""
    static = {"User": "65532:65532", "WorkingDir": "/"}
    table = {
        "pause": (r"3\.\d+(\.\d+)?", {"Entrypoint": ["/pause"], "User": "65535:65535"}),
        "oauth2-proxy": (
            re.escape(OAUTH2_PROXY_VERSION),
            {**static, "Entrypoint": ["/bin/oauth2-proxy"], "ExposedPorts": {"4180/tcp": {}}},
        ),
        "coredns": (
            re.escape(VERSIONS["COREDNS_VERSION"]),
            {**static, "Entrypoint": ["/coredns"], "ExposedPorts": {"53/tcp": {}, "53/udp": {}}},
        ),
        "postgres": (
            re.escape(VERSIONS["POSTGRES_MAJOR"]) + r"\.\d+",
            {
                "Entrypoint": ["docker-entrypoint.sh"],
                "Cmd": ["postgres"],
                "User": "999:999",
                "StopSignal": "SIGINT",
                "ExposedPorts": {"5432/tcp": {}},
            },
        ),
        "mlflow": (
            re.escape("v" + VERSIONS["MLFLOW_VERSION"]),
            {"User": "10001:10001", "WorkingDir": "/", "ExposedPorts": {"5000/tcp": {}}},
        ),
        "toolbox": (r"\d+\.\d+\.\d+", {**static, "Entrypoint": ["/bin/sh"]}),
    }
    for c in CERT_MANAGER:
        table[f"cert-manager-{c}"] = (
            re.escape("v" + VERSIONS["CERT_MANAGER_VERSION"]),
            {**static, "Entrypoint": [f"/ko-app/{c}-binary"]},
        )
    return table


EXPECTED = _expected()


def buildable():
    """Every image: build.sh has built every input binary before the suite runs."""
    return [
        "pause",
        "oauth2-proxy",
        "coredns",
        *[f"cert-manager-{c}" for c in CERT_MANAGER],
        "postgres",
        "mlflow",
        "toolbox",
    ]


def build(*names, env=None):
    return subprocess.run(
        ["bash", str(BUILD), *names], capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )
