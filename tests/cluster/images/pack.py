"""Packs a root filesystem directory into a docker-archive tar (what `docker save` writes and
`ctr images import` reads): manifest.json, the image config, one uncompressed layer.

Deterministic: entries sorted by name, one fixed mtime, numeric owners (no user or group names
from the build host), modes and security.capability xattrs kept, hard links as links to the
first path in sort order, device nodes, sockets and fifos left out. The same tree and options
give the same bytes, so the same image ID. Standard library only (Python 3.11+).

    python3 pack.py --rootfs DIR --ref localhost/mlflow-k8s/NAME:TAG --out image.tar \\
        --entrypoint '["/bin/x"]' --cmd '["--flag"]' --env PATH=/usr/bin --user 65532:65532 \\
        --workdir / --expose 4180/tcp --label org.opencontainers.image.version=1.0 \\
        [--stop-signal SIGINT] [--mtime 0]

Prints the image ID (sha256 of the config) on stdout.
"""

import argparse
import datetime
import hashlib
import io
import json
import os
import stat
import sys
import tarfile
import tempfile

# The only xattr that changes what a file does in a container (file capabilities, e.g.
# CoreDNS binding port 53 as non-root); SELinux labels and the like belong to the host.
KEPT_XATTRS = ("security.capability",)
CHUNK = 1 << 20


class _HashingWriter(io.RawIOBase):
    """File wrapper that hashes and counts what tarfile writes through it."""

    def __init__(self, raw):
        self.raw, self.sha, self.size = raw, hashlib.sha256(), 0

    def writable(self):
        return True

    def tell(self):
        return self.size

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        return self.raw.write(data)


def _xattrs(path):
    found = {}
    for name in KEPT_XATTRS:
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        # tarfile writes str PAX values; surrogateescape carries the raw bytes through
        # (tarfile then marks the header hdrcharset=BINARY and writes them unchanged).
        found["SCHILY.xattr." + name] = value.decode("utf-8", "surrogateescape")
    return found


def _walk(root, rel=""):
    """Yields (relative path, lstat) for every entry below root in sorted depth-first order."""
    for name in sorted(os.listdir(os.path.join(root, rel) if rel else root)):
        child = f"{rel}/{name}" if rel else name
        st = os.lstat(os.path.join(root, child))
        yield child, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(root, child)


def write_layer(root, out, mtime):
    """Writes the layer tar of root to the binary file out; returns (sha256 hex, skipped)."""
    writer = _HashingWriter(out)
    seen_inodes = {}
    skipped = []
    with tarfile.open(fileobj=writer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, st in _walk(root):
            path = os.path.join(root, rel)
            info = tarfile.TarInfo(rel)
            info.mode = stat.S_IMODE(st.st_mode)
            info.uid, info.gid = st.st_uid, st.st_gid
            info.uname = info.gname = ""
            info.mtime = mtime
            info.pax_headers = _xattrs(path)
            fileobj = None
            if stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
            elif stat.S_ISLNK(st.st_mode):
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in seen_inodes:
                    info.type = tarfile.LNKTYPE
                    info.linkname = seen_inodes[key]
                else:
                    seen_inodes[key] = rel
                    info.size = st.st_size
                    fileobj = open(path, "rb")  # noqa: SIM115 - closed below, after addfile
            else:
                # Device nodes come from the runtime (/dev is a tmpfs there), never from an image.
                skipped.append(rel)
                continue
            try:
                tar.addfile(info, fileobj)
            finally:
                if fileobj:
                    fileobj.close()
    return writer.sha.hexdigest(), skipped


def _add_bytes(tar, name, data, mtime):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, mtime
    tar.addfile(info, io.BytesIO(data))


def _config(args, diff_id, created):
    exposed = {(p if "/" in p else p + "/tcp"): {} for p in args.expose}
    labels = dict(item.split("=", 1) for item in args.label)
    config = {
        "Entrypoint": json.loads(args.entrypoint) if args.entrypoint else None,
        "Cmd": json.loads(args.cmd) if args.cmd else None,
        "Env": list(args.env),
        "User": args.user,
        "WorkingDir": args.workdir,
        "ExposedPorts": exposed or None,
        "Labels": labels or None,
        "StopSignal": args.stop_signal,
    }
    return {
        "architecture": args.arch,
        "os": "linux",
        "created": created,
        "author": "mlflow-k8s tests/cluster/images",
        "config": {k: v for k, v in config.items() if v is not None},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created": created, "created_by": f"tests/cluster/images/build.sh ({args.ref})"}],
    }


def pack(args):
    if not os.path.isdir(args.rootfs):
        raise SystemExit(f"ERROR: pack: root filesystem {args.rootfs} is not a directory")
    for env in args.env:
        if "=" not in env:
            raise SystemExit(f"ERROR: pack: --env {env!r} is not NAME=VALUE")
    created = "1970-01-01T00:00:00Z" if args.mtime == 0 else _rfc3339(args.mtime)
    outdir = os.path.dirname(os.path.abspath(args.out))
    with tempfile.TemporaryFile(dir=outdir) as layer:
        diff_id, skipped = write_layer(args.rootfs, layer, args.mtime)
        for rel in skipped:
            print(f"pack: left out special file /{rel}", file=sys.stderr)
        layer_size = layer.tell()
        config = json.dumps(_config(args, diff_id, created), sort_keys=True, separators=(",", ":")).encode()
        image_id = hashlib.sha256(config).hexdigest()
        manifest = [{"Config": f"{image_id}.json", "RepoTags": [args.ref], "Layers": [f"{diff_id}/layer.tar"]}]
        repo, tag = args.ref.rsplit(":", 1)
        repositories = {repo: {tag: diff_id}}
        tmp_out = args.out + ".tmp"
        with open(tmp_out, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            _add_bytes(tar, f"{image_id}.json", config, args.mtime)
            info = tarfile.TarInfo(f"{diff_id}/")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, args.mtime
            tar.addfile(info)
            _add_bytes(tar, f"{diff_id}/VERSION", b"1.0", args.mtime)
            info = tarfile.TarInfo(f"{diff_id}/layer.tar")
            info.size, info.mode, info.mtime = layer_size, 0o644, args.mtime
            layer.seek(0)
            tar.addfile(info, layer)
            _add_bytes(tar, "manifest.json", json.dumps(manifest, separators=(",", ":")).encode(), args.mtime)
            _add_bytes(tar, "repositories", json.dumps(repositories, separators=(",", ":")).encode(), args.mtime)
        os.replace(tmp_out, args.out)
    return image_id


def _rfc3339(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rootfs", required=True)
    parser.add_argument("--ref", required=True, help="image reference, also the only RepoTag")
    parser.add_argument("--out", required=True)
    parser.add_argument("--entrypoint", help="JSON list")
    parser.add_argument("--cmd", help="JSON list")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE; repeatable")
    parser.add_argument("--user")
    parser.add_argument("--workdir", default="/")
    parser.add_argument("--expose", action="append", default=[], help="PORT[/PROTO]; repeatable")
    parser.add_argument("--label", action="append", default=[], help="KEY=VALUE; repeatable")
    parser.add_argument("--stop-signal")
    parser.add_argument("--arch", default="amd64")
    parser.add_argument("--mtime", type=int, default=int(os.environ.get("SOURCE_DATE_EPOCH", "0")))
    args = parser.parse_args(argv)
    if ":" not in args.ref.rsplit("/", 1)[-1]:
        parser.error(f"--ref {args.ref!r} has no tag")
    print(f"sha256:{pack(args)}")


if __name__ == "__main__":
    main()
