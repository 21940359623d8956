"""Session fixtures of the image tests: the images built once, unpacked on demand."""

from pathlib import Path

import pytest
import runc_bundle
from images_lib import build, buildable


@pytest.fixture(scope="session")
def images():
    names = buildable()
    done = build(*names)
    assert done.returncode == 0, f"build.sh failed:\n{done.stderr[-4000:]}"
    lines = done.stdout.strip().splitlines()
    assert len(lines) == len(names), done.stdout
    built = {}
    for name, line in zip(names, lines, strict=True):
        ref, tar = line.split(" ")
        built[name] = {"ref": ref, "tar": Path(tar)}
    return built


@pytest.fixture(scope="session")
def rootfs(images, tmp_path_factory):
    """(name, use="inspect") -> (unpacked root filesystem, image config), unpacked once per
    session and use: runc creates missing mount points (/proc, /dev) in a root filesystem it
    runs, so running ("run") and inspecting ("inspect") get copies of their own."""
    unpacked = {}

    def get(name, use="inspect"):
        if (name, use) not in unpacked:
            dest = tmp_path_factory.mktemp(f"{name}-{use}")
            config = runc_bundle.unpack(images[name]["tar"], dest)
            unpacked[name, use] = (dest / "rootfs", config)
        return unpacked[name, use]

    return get
