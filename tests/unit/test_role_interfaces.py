"""Where one role's output is another role's input, their defaults agree, so a role used on its
own (without site.yml wiring the facts through) still finds what the other one wrote."""

import pathlib

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]


def _yaml(path):
    return yaml.safe_load((REPO / path).read_text())


def test_mlflow_reads_the_gcs_key_under_the_name_gcp_storage_writes_it():
    written = _yaml("roles/gcp_storage/vars/main.yml")["_gcp_storage_secret_key"]
    assert _yaml("roles/postgres_mlflow/defaults/main.yml")["postgres_mlflow_gcs_credentials_secret_key"] == written
