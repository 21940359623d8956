"""The versions the collection ships are the versions the tests run: the role defaults, the
images the local cluster builds (tests/cluster/versions.env) and the local inventory agree."""

import pathlib
import re

import mlflow_env
import yaml

from ansible_collections.mlflow_k8s.platform.plugins.filter.image_version import image_version

REPO = pathlib.Path(__file__).resolve().parents[2]
PINS = dict(
    line.split("=", 1)
    for line in (REPO / "tests/cluster/versions.env").read_text().splitlines()
    if "=" in line and not line.startswith("#")
)


def _var(path, name):
    return yaml.safe_load((REPO / path).read_text())[name]


def test_the_mlflow_tests_run_the_version_of_the_default_image():
    shipped = image_version(_var("roles/postgres_mlflow/defaults/main.yml", "postgres_mlflow_image"))
    assert shipped == mlflow_env.CURRENT_VERSION
    assert shipped == PINS["MLFLOW_VERSION"]
    local = _var("inventories/local/group_vars/all/postgres_mlflow.yml", "postgres_mlflow_image")
    assert image_version(local) == shipped


def test_the_local_oauth2_proxy_is_the_version_of_the_default_image():
    shipped = image_version(_var("roles/oauth2_proxy/defaults/main.yml", "oauth2_proxy_image"))
    assert shipped == PINS["OAUTH2_PROXY_VERSION"]
    local = _var("inventories/local/group_vars/all/oauth2_proxy.yml", "oauth2_proxy_image")
    assert image_version(local) == shipped


def test_the_example_gke_inventory_ships_the_tested_mlflow():
    gke = _var("inventories/gke/group_vars/all/postgres_mlflow.yml", "postgres_mlflow_image")
    assert image_version(gke) == mlflow_env.CURRENT_VERSION
    assert re.search(r"-full$", gke), "the GKE example needs the -full image (psycopg, GCS client)"
