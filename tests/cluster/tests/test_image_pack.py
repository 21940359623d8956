"""tests/cluster/images/pack.py: a root filesystem becomes a docker-archive whose bytes depend only
on the tree's names, contents, owners, modes, links and file capabilities."""

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

PACK = Path(__file__).resolve().parents[1] / "images" / "pack.py"
CAP_NET_BIND_SERVICE = bytes.fromhex("0100000200040000000000000000000000000000")


def pack(rootfs, out, *extra, ref="localhost/mlflow-k8s/test:1.0"):
    done = subprocess.run(
        [sys.executable, str(PACK), "--rootfs", str(rootfs), "--ref", ref, "--out", str(out), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), done.stderr


def make_tree(root):
    # The modes under test are deliberately unusual (setuid, sticky, group-only).
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/sbin/nologin\n")
    (root / "srv" / "data").mkdir(parents=True)
    os.chown(root / "srv" / "data", 999, 999)
    os.chmod(root / "srv" / "data", 0o750)  # noqa: S103
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)  # noqa: S103
    tool = root / "usr" / "bin" / "tool"
    tool.parent.mkdir(parents=True)
    tool.write_bytes(b"\x7fELF fake")
    os.chmod(tool, 0o4755)  # noqa: S103
    os.link(tool, root / "usr" / "bin" / "tool-alias")
    os.symlink("tool", root / "usr" / "bin" / "link")
    os.symlink("/nonexistent/absolute", root / "usr" / "bin" / "dangling")
    (root / "usr" / "bin" / "ünïcode").write_text("x")
    os.setxattr(tool, "security.capability", CAP_NET_BIND_SERVICE)
    os.mkfifo(root / "tmp" / "fifo")
    (root / "dev").mkdir()
    os.mknod(root / "dev" / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))


@pytest.fixture
def tree(tmp_path):
    assert os.geteuid() == 0, "owners, device nodes and security.capability need root"
    make_tree(tmp_path / "rootfs")
    return tmp_path / "rootfs"


def layer_members(archive):
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        layer_bytes = outer.extractfile(manifest[0]["Layers"][0]).read()
        config_bytes = outer.extractfile(manifest[0]["Config"]).read()
    with tarfile.open(fileobj=io.BytesIO(layer_bytes)) as layer:
        members = layer.getmembers()
    return manifest, config_bytes, layer_bytes, members


def test_same_tree_gives_same_bytes_whatever_the_timestamps(tree, tmp_path):
    first = pack(tree, tmp_path / "a.tar")[0]
    os.utime(tree / "etc" / "passwd", (1_700_000_000, 1_700_000_000))
    os.utime(tree / "srv", (12345, 12345))
    second = pack(tree, tmp_path / "b.tar")[0]
    assert first == second
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    # A change of content is a change of image.
    (tree / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    third = pack(tree, tmp_path / "c.tar")[0]
    assert third != first


def test_layer_keeps_owners_modes_links_and_capabilities(tree, tmp_path):
    stderr = pack(tree, tmp_path / "img.tar")[1]
    members = layer_members(tmp_path / "img.tar")[3]
    by_name = {m.name: m for m in members}
    names = [m.name for m in members]
    assert names == sorted(names, key=lambda n: n.split("/")), "entries are not in sorted depth-first order"
    assert all(m.mtime == 0 and m.uname == "" and m.gname == "" for m in members)
    data = by_name["srv/data"]
    assert data.isdir() and (data.uid, data.gid, data.mode) == (999, 999, 0o750)
    assert by_name["tmp"].mode == 0o1777
    tool = by_name["usr/bin/tool"]
    assert tool.isreg() and tool.mode == 0o4755
    assert tool.pax_headers["SCHILY.xattr.security.capability"].encode("utf-8", "surrogateescape") == (
        CAP_NET_BIND_SERVICE
    )
    alias = by_name["usr/bin/tool-alias"]
    assert alias.islnk() and alias.linkname == "usr/bin/tool"
    assert by_name["usr/bin/link"].issym() and by_name["usr/bin/link"].linkname == "tool"
    assert by_name["usr/bin/dangling"].linkname == "/nonexistent/absolute"
    assert "usr/bin/ünïcode" in by_name
    # Device nodes and fifos are the runtime's business.
    assert "dev/null" not in by_name and "tmp/fifo" not in by_name and "dev" in by_name
    assert "left out special file /dev/null" in stderr


def test_archive_names_config_and_layer_by_their_digests(tree, tmp_path):
    image_id = pack(
        tree,
        tmp_path / "img.tar",
        "--entrypoint",
        '["/usr/bin/tool"]',
        "--cmd",
        '["--serve"]',
        "--env",
        "PATH=/usr/bin",
        "--user",
        "65532:65532",
        "--workdir",
        "/srv",
        "--expose",
        "4180",
        "--expose",
        "53/udp",
        "--label",
        "org.opencontainers.image.version=1.0",
        "--stop-signal",
        "SIGINT",
    )[0]
    manifest, config_bytes, layer_bytes = layer_members(tmp_path / "img.tar")[:3]
    assert manifest[0]["RepoTags"] == ["localhost/mlflow-k8s/test:1.0"]
    assert image_id == "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    assert manifest[0]["Config"] == image_id.removeprefix("sha256:") + ".json"
    config = json.loads(config_bytes)
    assert config["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_bytes).hexdigest()]}
    assert config["os"] == "linux" and config["architecture"] == "amd64"
    assert config["config"] == {
        "Entrypoint": ["/usr/bin/tool"],
        "Cmd": ["--serve"],
        "Env": ["PATH=/usr/bin"],
        "User": "65532:65532",
        "WorkingDir": "/srv",
        "ExposedPorts": {"4180/tcp": {}, "53/udp": {}},
        "Labels": {"org.opencontainers.image.version": "1.0"},
        "StopSignal": "SIGINT",
    }


def test_bad_input_is_refused_with_the_component_named(tmp_path):
    missing = subprocess.run(
        [
            sys.executable,
            str(PACK),
            "--rootfs",
            str(tmp_path / "nope"),
            "--ref",
            "localhost/x:1",
            "--out",
            str(tmp_path / "o.tar"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode != 0 and "ERROR: pack: root filesystem" in missing.stderr
    (tmp_path / "r").mkdir()
    untagged = subprocess.run(
        [
            sys.executable,
            str(PACK),
            "--rootfs",
            str(tmp_path / "r"),
            "--ref",
            "localhost/x",
            "--out",
            str(tmp_path / "o.tar"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert untagged.returncode != 0 and "has no tag" in untagged.stderr
