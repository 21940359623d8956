# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The release version an image reference's tag names, for the roles' security floors."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

# v3.17.2, 3.17.2-full, v7.15.6-alpine: the release is the leading dotted triple of the tag.
_TAG_VERSION = re.compile(r"^v?(\d+\.\d+\.\d+)(?:[-+._][0-9A-Za-z.+_-]*)?$")


def image_version(reference):
    """Return 'X.Y.Z' from the tag of an image reference, or '' when the tag names no release.

    A digest after the tag is allowed (the tag still says what was pinned); a reference with a
    digest and no tag, or a tag such as 'latest', has no readable version.
    """
    if not isinstance(reference, str):
        raise AnsibleFilterError("image_version expects an image reference string, got %s" % type(reference).__name__)
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return ""
    match = _TAG_VERSION.match(last.split(":", 1)[1])
    return match.group(1) if match else ""


class FilterModule(object):
    """Image reference filters."""

    def filters(self):
        return {"image_version": image_version}
