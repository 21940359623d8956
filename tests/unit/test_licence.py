"""One licence: LICENSE, galaxy.yml and every plugin's header say GPL-3.0-or-later (ansible-test's
validate-modules requires the GPLv3 header in modules, so the collection is GPL-3.0-or-later)."""

import pathlib

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
PLUGINS = sorted((REPO / "plugins").rglob("*.py"))


def test_license_file_and_galaxy_metadata_say_gpl_3_or_later():
    text = (REPO / "LICENSE").read_text()
    assert text.split()[:6] == ["GNU", "GENERAL", "PUBLIC", "LICENSE", "Version", "3,"]
    assert "END OF TERMS AND CONDITIONS" in text
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    assert galaxy["license"] == ["GPL-3.0-or-later"]
    assert "license_file" not in galaxy


def test_there_are_plugins_to_check():
    assert len(PLUGINS) >= 20


@pytest.mark.parametrize("path", PLUGINS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_plugin_header_says_gpl_3_or_later(path):
    head = path.read_text().splitlines()[:6]
    assert "# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)" in head
    assert "# SPDX-License-Identifier: GPL-3.0-or-later" in head
    assert not any("MIT" in line for line in head)
