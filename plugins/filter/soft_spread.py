# -*- coding: utf-8 -*-
# Copyright: contributors to mlflow_k8s.platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The soft topology spread every replicated workload of the collection gets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

# Zones first, then nodes: losing a zone hurts more than losing a node.
_TOPOLOGY_KEYS = ("topology.kubernetes.io/zone", "kubernetes.io/hostname")


def soft_spread(labels):
    """Return topologySpreadConstraints that spread the pods with these labels over zones and nodes.

    Soft (ScheduleAnyway): a pod the scheduler cannot spread still runs. pod-template-hash in
    matchLabelKeys spreads a rollout's new pods among themselves instead of counting the old
    ReplicaSet's pods, which are about to go.
    """
    if not isinstance(labels, dict) or not labels:
        raise AnsibleFilterError("soft_spread expects a non-empty mapping of pod labels, got %r" % (labels,))
    return [
        {
            "topologyKey": key,
            "maxSkew": 1,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(labels)},
            "matchLabelKeys": ["pod-template-hash"],
        }
        for key in _TOPOLOGY_KEYS
    ]


class FilterModule(object):
    """Pod scheduling filters."""

    def filters(self):
        return {"soft_spread": soft_spread}
