"""The images of tests/cluster/images: what build.sh prints and caches, what each archive holds,
and each image really running under runc the way the roles run it (users, read-only root,
volumes), without a Kubernetes node."""

import hashlib
import json
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from images_lib import CERT_MANAGER, EXPECTED, PACK, VERSIONS, build


def _archive(tar):
    with tarfile.open(tar) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        config_bytes = outer.extractfile(manifest[0]["Config"]).read()
        # The whole member: tarfile's stream reader stops before the end-of-archive padding.
        sha = hashlib.sha256()
        with outer.extractfile(manifest[0]["Layers"][0]) as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                sha.update(chunk)
        with outer.extractfile(manifest[0]["Layers"][0]) as f, tarfile.open(fileobj=f, mode="r|") as layer:
            members = list(layer)
    return manifest, config_bytes, sha.hexdigest(), members


def test_build_prints_local_refs_for_every_image(images):
    for name, image in images.items():
        pattern = EXPECTED[name][0]
        assert re.fullmatch(rf"localhost/mlflow-k8s/{re.escape(name)}:{pattern}", image["ref"]), image["ref"]
        assert image["tar"].name == "image.tar" and image["tar"].is_file()
        directory = image["tar"].parent
        assert (directory / ".done").is_file() and (directory / "build.log").is_file()
        assert re.fullmatch(rf"{re.escape(name)}-.+-[0-9a-f]{{12}}", directory.name), directory.name


@pytest.mark.parametrize("name", list(EXPECTED))
def test_archive_structure_and_config(images, name):
    image = images[name]
    manifest, config_bytes, layer_sha, members = _archive(image["tar"])
    assert len(manifest) == 1 and manifest[0]["RepoTags"] == [image["ref"]]
    assert manifest[0]["Config"] == hashlib.sha256(config_bytes).hexdigest() + ".json"
    config = json.loads(config_bytes)
    assert config["rootfs"]["diff_ids"] == [f"sha256:{layer_sha}"]
    assert config["os"] == "linux" and config["architecture"] == "amd64"
    fields = EXPECTED[name][1]
    for key, value in fields.items():
        assert config["config"].get(key) == value, key
    labels = config["config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == image["ref"].rsplit(":", 1)[1]
    assert labels["org.opencontainers.image.description"].startswith("Built locally by the mlflow-k8s tests")
    if name != "pause":
        assert any(e.startswith("PATH=") for e in config["config"]["Env"])
    assert not [m.name for m in members if m.ischr() or m.isblk() or m.isfifo()]
    assert {m.mtime for m in members} == {0}
    by_name = {m.name: m for m in members}
    entry = (fields.get("Entrypoint") or [None])[0]
    if entry and entry.startswith("/"):
        binary = by_name[entry.lstrip("/")]
        if binary.issym():  # the toolbox's /bin/sh -> busybox
            binary = by_name[str(Path(binary.name).parent / binary.linkname)]
        assert binary.isreg() and binary.mode & 0o111, entry


@pytest.mark.parametrize("name", ["oauth2-proxy", "coredns", *[f"cert-manager-{c}" for c in CERT_MANAGER]])
def test_static_images_are_distroless_like(images, rootfs, name):
    root = rootfs(name)[0]
    assert "nonroot:x:65532:65532:" in (root / "etc/passwd").read_text()
    assert "nonroot:x:65532:" in (root / "etc/group").read_text()
    assert "hosts: files dns" in (root / "etc/nsswitch.conf").read_text()
    assert (root / "tmp").stat().st_mode & 0o7777 == 0o1777
    bundle = (root / "etc/ssl/certs/ca-certificates.crt").read_text()
    assert bundle.count("BEGIN CERTIFICATE") > 100
    # Debian's bundle only: no CA the build host added locally (a TLS proxy's, say).
    for local in Path("/usr/local/share/ca-certificates").glob("**/*.crt"):
        body = "".join(local.read_text().split("-----")[2].split())
        assert body[:200] not in "".join(bundle.split()), f"{local} leaked into {name}"
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [
            "etc",
            "tmp",
            "root",
            "home",
            *(["bin"] if name == "oauth2-proxy" else []),
            *(["coredns"] if name == "coredns" else []),
            *(["ko-app"] if name.startswith("cert-") else []),
        ]
    )


def test_coredns_binary_keeps_its_bind_capability(images, rootfs):
    root = rootfs("coredns")[0]
    caps = subprocess.run(["getcap", str(root / "coredns")], capture_output=True, text=True, check=True).stdout
    assert "cap_net_bind_service=ep" in caps


def test_mlflow_image_has_no_build_leftovers(images, rootfs):
    root = rootfs("mlflow")[0]
    assert (root / "opt/mlflow/bin/mlflow").is_file()
    assert not (root / "root/.cache").exists(), "pip cache in the image"
    assert not list((root / "usr/bin").glob("gcc*")) and not (root / "usr/bin/cc").exists()
    assert not (root / "tmp/build-ca.crt").exists()
    assert (root / "etc/resolv.conf").read_text() == ""
    assert not list((root / "var/log").iterdir())


def test_second_run_rebuilds_nothing(images):
    names = [n for n in ("pause", "oauth2-proxy", "mlflow") if n in images]
    before = {n: images[n]["tar"].stat().st_mtime_ns for n in names}
    start = time.monotonic()
    again = build(*names)
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == [w for n in names for w in (images[n]["ref"], str(images[n]["tar"]))]
    assert {n: images[n]["tar"].stat().st_mtime_ns for n in names} == before
    assert "building" not in again.stderr
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("name", ["pause", "oauth2-proxy", "coredns", "postgres"])
def test_unpacking_and_packing_again_gives_the_same_image(images, rootfs, name, tmp_path):
    """Determinism end to end: the unpacked layer, packed again with the image's own config,
    is the same image (same ID, same archive bytes)."""
    root, config = rootfs(name)
    cfg = config["config"]
    args = ["--rootfs", str(root), "--ref", images[name]["ref"], "--out", str(tmp_path / "again.tar")]
    if "Entrypoint" in cfg:
        args += ["--entrypoint", json.dumps(cfg["Entrypoint"])]
    if "Cmd" in cfg:
        args += ["--cmd", json.dumps(cfg["Cmd"])]
    for env in cfg.get("Env", []):
        args += ["--env", env]
    for port in cfg.get("ExposedPorts", {}):
        args += ["--expose", port]
    for key, value in cfg.get("Labels", {}).items():
        args += ["--label", f"{key}={value}"]
    for option, key in (("--user", "User"), ("--workdir", "WorkingDir"), ("--stop-signal", "StopSignal")):
        if key in cfg:
            args += [option, cfg[key]]
    done = subprocess.run([sys.executable, str(PACK), *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    original = images[name]["tar"]
    assert done.stdout.strip() == "sha256:" + json.load(_open_manifest(original))[0]["Config"].removesuffix(".json")
    assert _sha256(tmp_path / "again.tar") == _sha256(original)


def _open_manifest(tar):
    outer = tarfile.open(tar)  # noqa: SIM115 - the extracted member keeps it open while read
    return outer.extractfile("manifest.json")


def _sha256(path):
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def test_missing_input_binary_is_named_and_other_images_still_build(tmp_path):
    env = {"MLFLOW_K8S_CACHE": str(tmp_path / "cache")}
    done = build("coredns", "pause", "cert-manager-webhook", env=env)
    assert done.returncode != 0
    coredns_bin = tmp_path / f"cache/coredns-v{VERSIONS['COREDNS_VERSION']}/bin/coredns"
    assert f"ERROR: image coredns: input binary {coredns_bin} is missing" in done.stderr
    webhook_bin = tmp_path / f"cache/cert-manager-v{VERSIONS['CERT_MANAGER_VERSION']}/bin/webhook"
    assert f"ERROR: image cert-manager-webhook: input binary {webhook_bin} is missing" in done.stderr
    assert "ERROR: images not built: coredns cert-manager-webhook" in done.stderr
    # Refused before anything is built or cached for them.
    assert "image coredns: building" not in done.stderr and "image cert-manager-webhook: building" not in done.stderr
    cached = sorted(p.name for p in (tmp_path / "cache/images").iterdir() if not p.name.startswith("."))
    assert [c for c in cached if not c.startswith("pause-")] == [], cached
    # The image whose inputs exist is built and printed all the same.
    assert re.fullmatch(r"localhost/mlflow-k8s/pause:\S+ \S+/image\.tar\n", done.stdout), done.stdout


def test_unknown_image_is_refused():
    done = build("nginx")
    assert done.returncode != 0 and "ERROR: image nginx: unknown image" in done.stderr


def test_postgres_image_layout(rootfs):
    root, config = rootfs("postgres")
    major = VERSIONS["POSTGRES_MAJOR"]
    assert "postgres:x:999:999:" in (root / "etc/passwd").read_text()
    assert "postgres:x:999:" in (root / "etc/group").read_text()
    run = (root / "run/postgresql").stat()
    assert (run.st_uid, run.st_gid, run.st_mode & 0o7777) == (999, 999, 0o3777)
    path = dict(e.split("=", 1) for e in config["config"]["Env"])["PATH"].split(":")
    assert path[0] == f"/usr/lib/postgresql/{major}/bin"
    for tool in ("postgres", "initdb", "pg_ctl", "pg_isready", "psql"):
        assert (root / f"usr/lib/postgresql/{major}/bin/{tool}").is_file(), tool
    assert (root / "usr/local/bin/docker-entrypoint.sh").stat().st_mode & 0o111
    # No cluster of the package's own: PGDATA is the entrypoint's to initialise.
    assert not (root / f"etc/postgresql/{major}").exists()
    assert not (root / f"var/lib/postgresql/{major}").exists()
