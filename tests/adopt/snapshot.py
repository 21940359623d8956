"""Everything a user of a tracking server can see, read through the REST API.

The same function reads the legacy server before the adoption and the current server
after it, so the comparison is between what each MLflow version serves, not between
database rows.
"""

import hashlib
import json
import math
import urllib.parse

RUN_INFO_FIELDS = (
    "run_id",
    "run_name",
    "experiment_id",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
    "artifact_uri",
)
EXPERIMENT_FIELDS = (
    "experiment_id",
    "name",
    "artifact_location",
    "lifecycle_stage",
    "creation_time",
    "last_update_time",
)


def _value(value):
    # NaN != NaN, and the JSON encoders of the versions may differ on +-0.0 and inf spelling.
    value = float(value)
    return "nan" if math.isnan(value) else repr(value)


def _pairs(items):
    return sorted((item["key"], item.get("value", "")) for item in items or [])


def _artifacts(rest, artifact_uri, path=""):
    listing = rest.get("/api/2.0/mlflow/artifacts/list", **_artifact_query(artifact_uri, path))
    files = {}
    for entry in listing.get("files", []):
        if entry.get("is_dir"):
            files.update(_artifacts(rest, artifact_uri, entry["path"]))
        else:
            files[entry["path"]] = hashlib.sha256(_download(rest, artifact_uri, entry["path"])).hexdigest()
    return files


def _artifact_query(artifact_uri, path):
    # artifact_uri is mlflow-artifacts:/<exp>/<run>/artifacts; list by run id instead.
    run_id = artifact_uri.rstrip("/").split("/")[-2]
    query = {"run_id": run_id}
    if path:
        query["path"] = path
    return query


def _download(rest, artifact_uri, path):
    assert artifact_uri.startswith("mlflow-artifacts:/"), artifact_uri
    rel = artifact_uri[len("mlflow-artifacts:/") :].strip("/") + "/" + path
    return rest.request("GET", "/api/2.0/mlflow-artifacts/artifacts/" + urllib.parse.quote(rel))


def _metric_history(rest, run_id, key):
    history = rest.get("/api/2.0/mlflow/metrics/get-history", run_id=run_id, metric_key=key, max_results=25000).get(
        "metrics", []
    )
    return sorted((int(m.get("step", 0)), int(m["timestamp"]), _value(m["value"])) for m in history)


def tracking_snapshot(rest):
    """Experiments, runs (info, params, tags, full metric histories, artifact digests), models."""
    experiments = rest.post("/api/2.0/mlflow/experiments/search", {"max_results": 1000, "view_type": "ALL"}).get(
        "experiments", []
    )
    snap = {"experiments": {}, "runs": {}, "models": {}}
    for exp in experiments:
        snap["experiments"][exp["experiment_id"]] = {
            **{f: exp.get(f) for f in EXPERIMENT_FIELDS},
            "tags": _pairs(exp.get("tags")),
        }
        runs = rest.post(
            "/api/2.0/mlflow/runs/search",
            {
                "experiment_ids": [exp["experiment_id"]],
                "run_view_type": "ALL",
                "max_results": 1000,
            },
        ).get("runs", [])
        for run in runs:
            info, data = run["info"], run.get("data", {})
            snap["runs"][info["run_id"]] = {
                "info": {f: info.get(f) for f in RUN_INFO_FIELDS},
                "params": _pairs(data.get("params")),
                "tags": _pairs(data.get("tags")),
                "metrics": {m["key"]: _metric_history(rest, info["run_id"], m["key"]) for m in data.get("metrics", [])},
                "artifacts": _artifacts(rest, info["artifact_uri"]),
            }
    models = rest.get("/api/2.0/mlflow/registered-models/search", max_results=1000).get("registered_models", [])
    for model in models:
        versions = rest.get(
            "/api/2.0/mlflow/model-versions/search", filter="name='%s'" % model["name"].replace("'", "\\'")
        ).get("model_versions", [])
        snap["models"][model["name"]] = {
            "description": model.get("description", ""),
            "creation_timestamp": model.get("creation_timestamp"),
            "tags": _pairs(model.get("tags")),
            "versions": sorted(
                (v["version"], v.get("source"), v.get("run_id"), v.get("status"), v.get("current_stage"))
                for v in versions
            ),
        }
    # JSON round trip: tuples and lists compare equal afterwards.
    return json.loads(json.dumps(snap))
