"""Fill a legacy (MLflow 3.3.x, basic-auth) server the way its users did.

Runs inside the MLflow virtualenv of the legacy version, so runs, metrics and artifacts
are written by that version's own client. Users and grants go through the legacy REST
API with UTF-8 Basic auth (see mlflow_rest). Prints a JSON manifest of what it created.

usage: python seed_legacy.py URL WORKDIR   (admin credentials in MLFLOW_TRACKING_USERNAME/PASSWORD)
"""

import json
import math
import os
import pathlib
import random
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import dataset
import mlflow_rest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag


def main(url, workdir):
    admin = mlflow_rest.Rest(url, os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"])
    for username, password, is_admin in dataset.USERS:
        admin.post("/api/2.0/mlflow/users/create", {"username": username, "password": password})
        if is_admin:
            admin.patch("/api/2.0/mlflow/users/update-admin", {"username": username, "is_admin": True})

    # The artifact repository resolves mlflow-artifacts:/ URIs against the global tracking URI.
    os.environ["MLFLOW_TRACKING_URI"] = url
    client = MlflowClient(tracking_uri=url)
    exp = {}
    for key, (name, creator) in dataset.EXPERIMENTS.items():
        if creator == "admin":
            exp[key] = client.create_experiment(name, tags={"team": "ml ✓", "key": key})

    run_ids = {}
    base_ts = 1_700_000_000_000
    run = client.create_run(exp["main"], run_name="baseline ✓", tags={"stage": "adoption", "ünï": "cødé"})
    rid = run.info.run_id
    run_ids["baseline"] = rid
    client.log_batch(
        rid,
        metrics=[Metric("loss", 1.0 / (step + 1), base_ts + step * 1000, step) for step in range(50)]
        + [Metric("accuracy", 0.5 + step / 100.0, base_ts + step, step) for step in range(5)],
        params=[Param("lr", "0.01"), Param("optimizer", "adam"), Param("ünï param", "välue with spaces %")],
        tags=[RunTag("note", 'it\'s "quoted"')],
    )
    art_dir = pathlib.Path(workdir) / "seed-artifacts"
    (art_dir / "notes").mkdir(parents=True, exist_ok=True)
    (art_dir / "model").mkdir(parents=True, exist_ok=True)
    # ASCII file name: gunicorn (the 3.3.x server) rejects the non-Latin-1
    # Content-Disposition header such a download needs, so the old server could not serve it.
    (art_dir / "notes" / "readme notes.txt").write_text("adoption test — ünïcødé\nline 2\n", encoding="utf-8")
    rng = random.Random(20251126)
    (art_dir / "model" / "weights.bin").write_bytes(rng.randbytes(4096))
    client.log_artifacts(rid, str(art_dir))
    client.set_terminated(rid, "FINISHED", end_time=base_ts + 60_000)

    run = client.create_run(exp["main"], run_name="failed run")
    run_ids["failed"] = run.info.run_id
    client.log_metric(run.info.run_id, "edge", math.nan, timestamp=base_ts, step=0)
    client.log_metric(run.info.run_id, "edge", 1e308, timestamp=base_ts + 1, step=1)
    client.log_metric(run.info.run_id, "edge", -0.0, timestamp=base_ts + 2, step=2)
    client.set_terminated(run.info.run_id, "FAILED")

    run = client.create_run(exp["quotes"], run_name="to be deleted")
    run_ids["deleted"] = run.info.run_id
    client.log_param(run.info.run_id, "p", "v")
    client.set_terminated(run.info.run_id)
    client.delete_run(run.info.run_id)

    client.create_registered_model(dataset.MODELS[0], description="adopted model 模型")
    client.create_model_version(dataset.MODELS[0], "%s/model" % client.get_run(rid).info.artifact_uri, run_id=rid)
    client.create_registered_model(dataset.MODELS[1])

    # A plain user creates an experiment: the server grants its creator MANAGE.
    os.environ["MLFLOW_TRACKING_USERNAME"] = dataset.SPACE
    os.environ["MLFLOW_TRACKING_PASSWORD"] = dataset.PASSWORDS[dataset.SPACE]
    exp["by_user"] = client.create_experiment(dataset.EXPERIMENTS["by_user"][0])
    run = client.create_run(exp["by_user"], run_name="user run")
    run_ids["by_user"] = run.info.run_id
    client.log_metric(run.info.run_id, "m", 3.25, step=7)
    client.log_param(run.info.run_id, "who", dataset.SPACE)
    client.set_terminated(run.info.run_id)

    for key, username, permission in dataset.EXPERIMENT_GRANTS:
        admin.post(
            "/api/2.0/mlflow/experiments/permissions/create",
            {"experiment_id": exp[key], "username": username, "permission": permission},
        )
    for name, username, permission in dataset.MODEL_GRANTS:
        admin.post(
            "/api/2.0/mlflow/registered-models/permissions/create",
            {"name": name, "username": username, "permission": permission},
        )

    json.dump({"experiments": exp, "runs": run_ids}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
