"""image_version reads the release from an image reference's tag, or returns '' when it cannot."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mlflow_k8s.platform.plugins.filter.image_version import image_version

DIGEST = "@sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("reference", "version"),
    [
        ("ghcr.io/mlflow/mlflow:v3.17.2-full", "3.17.2"),
        ("ghcr.io/mlflow/mlflow:v3.17.2", "3.17.2"),
        ("quay.io/oauth2-proxy/oauth2-proxy:v7.15.6" + DIGEST, "7.15.6"),
        ("quay.io/oauth2-proxy/oauth2-proxy:v7.15.6-alpine", "7.15.6"),
        ("localhost/mlflow-k8s/mlflow:v3.17.2", "3.17.2"),
        ("registry.local:5000/mlflow:3.16.1", "3.16.1"),
        # A registry port is not a tag; nor is a digest.
        ("registry.local:5000/mlflow", ""),
        ("ghcr.io/mlflow/mlflow" + DIGEST, ""),
        ("ghcr.io/mlflow/mlflow:latest", ""),
        ("ghcr.io/mlflow/mlflow:v3.17", ""),
        ("ghcr.io/mlflow/mlflow:nightly-3.17.2", ""),
        ("mlflow", ""),
    ],
)
def test_image_version(reference, version):
    assert image_version(reference) == version


def test_a_non_string_is_an_error():
    with pytest.raises(AnsibleFilterError, match="image reference string"):
        image_version(["ghcr.io/mlflow/mlflow:v3.17.2"])
