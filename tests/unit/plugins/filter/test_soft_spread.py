"""soft_spread renders the zone-then-node ScheduleAnyway spread the roles give their workloads."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mlflow_k8s.platform.plugins.filter.soft_spread import soft_spread

LABELS = {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": "mlflow"}


def test_zone_then_node_soft_and_per_rollout():
    assert soft_spread(LABELS) == [
        {
            "topologyKey": key,
            "maxSkew": 1,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": LABELS},
            "matchLabelKeys": ["pod-template-hash"],
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def test_each_constraint_owns_its_labels():
    spread = soft_spread(LABELS)
    spread[0]["labelSelector"]["matchLabels"]["extra"] = "x"
    assert "extra" not in spread[1]["labelSelector"]["matchLabels"]
    assert "extra" not in LABELS


@pytest.mark.parametrize("labels", [{}, None, ["app"], "app=mlflow"])
def test_refuses_what_selects_no_pods(labels):
    with pytest.raises(AnsibleFilterError, match="non-empty mapping of pod labels"):
        soft_spread(labels)
