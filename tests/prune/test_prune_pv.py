"""playbooks/prune_pv.yml against the real local cluster.

Each test builds its own volumes (Released, Bound, Available, Failed) through the real
kube-controller-manager, runs the playbook as a user or AWX would, and checks which volumes
the API server still has afterwards.
"""

from __future__ import annotations

import re
import time

from conftest import PLAYBOOK, REPO, Volume, ansible_env
from terminal import run_on_terminal


def _mixed(cluster, tag: str, cls: str | None = None, ns: str | None = None) -> dict[str, Volume]:
    """Two Released volumes, one Bound, one Available, in one class."""
    cls = cls or cluster.classes[0]
    ns = ns or cluster.namespaces[0]
    vols = {
        "released1": Volume(cluster.pv_name(f"{tag}-rel1"), cls, ns, release=True),
        "released2": Volume(cluster.pv_name(f"{tag}-rel2"), cls, ns, release=True),
        "bound": Volume(cluster.pv_name(f"{tag}-bound"), cls, ns),
        "available": Volume(cluster.pv_name(f"{tag}-avail"), cls),
    }
    cluster.create(list(vols.values()))
    return vols


def _names(vols, *keys):
    return {vols[k].name for k in keys}


def test_lists_and_stops_without_confirmation(cluster, play):
    vols = _mixed(cluster, "noconf")
    result = play({"prune_pv_storage_classes": [cluster.classes[0]]})
    assert result.rc == 0, result.stdout + result.stderr
    assert result.listed_names() == _names(vols, "released1", "released2")
    assert result.changed == 0
    confirm_msgs = result.task_results("Report that nothing is deleted without confirmation")
    assert confirm_msgs and confirm_msgs[0]["msg"].startswith("Nothing deleted: no confirmation")
    assert cluster.existing(_names(vols, *vols)) == _names(vols, *vols)


def test_listing_shows_every_column(cluster, play):
    vols = _mixed(cluster, "cols")
    lines = play({"prune_pv_storage_classes": cluster.classes[0]}).listing()
    assert re.split(r"\s{2,}", lines[0]) == ["NAME", "PHASE", "SIZE", "CLASS", "FORMER CLAIM", "AGE", "RECLAIM POLICY"]
    row = next(line for line in lines if line.startswith(vols["released1"].name + " "))
    name, phase, size, cls, claim, age, policy = re.split(r"\s{2,}", row)
    assert (name, phase, size, cls, policy) == (vols["released1"].name, "Released", "1Gi", cluster.classes[0], "Retain")
    assert claim == f"{cluster.namespaces[0]}/claim-{vols['released1'].name}"
    assert re.fullmatch(r"[0-9]+[smhd]", age)
    assert lines[-1].startswith("2 PersistentVolume(s) selected (phases Released;")


def test_check_mode_deletes_nothing(cluster, play):
    vols = _mixed(cluster, "check")
    result = play({"prune_pv_storage_classes": [cluster.classes[0]], "prune_pv_confirm": True}, "--check")
    assert result.rc == 0, result.stdout + result.stderr
    report = result.task_results("Report what was deleted")[0]["msg"]
    assert sorted(report) == sorted(
        f"PersistentVolume would delete (check mode): {n}" for n in _names(vols, "released1", "released2")
    )
    assert cluster.existing(_names(vols, *vols)) == _names(vols, *vols)


def test_confirmed_run_deletes_exactly_the_released(cluster, play):
    vols = _mixed(cluster, "conf")
    extra = {"prune_pv_storage_classes": [cluster.classes[0]], "prune_pv_confirm": True}
    result = play(extra)
    assert result.rc == 0, result.stdout + result.stderr
    assert result.changed == 1
    assert cluster.existing(_names(vols, *vols)) == _names(vols, "bound", "available")
    report = result.task_results("Report what was deleted")[0]["msg"]
    assert sorted(report) == sorted(f"PersistentVolume deleted: {n}" for n in _names(vols, "released1", "released2"))
    # Nothing is left to prune: a second run selects nothing and changes nothing.
    again = play(extra)
    assert again.rc == 0 and again.changed == 0
    assert again.listed_names() == set()
    assert cluster.existing(_names(vols, *vols)) == _names(vols, "bound", "available")


def test_available_only_with_its_flag_and_bound_never(cluster, play):
    vols = _mixed(cluster, "avail")
    base = {"prune_pv_storage_classes": [cluster.classes[0]], "prune_pv_confirm": True}
    # Failed selected too: even with every phase option on, Bound stays.
    result = play(base | {"prune_pv_include_available": True, "prune_pv_include_failed": True})
    assert result.rc == 0, result.stdout + result.stderr
    assert result.listed_names() == _names(vols, "released1", "released2", "available")
    assert cluster.existing(_names(vols, *vols)) == _names(vols, "bound")


def test_failed_only_with_its_flag(cluster, play):
    cls = cluster.classes[0]
    failed = Volume(cluster.pv_name("failed"), cls, cluster.namespaces[0], release=True, reclaim_policy="Delete")
    released = Volume(cluster.pv_name("failed-rel"), cls, cluster.namespaces[0], release=True)
    cluster.create([failed, released])
    base = {"prune_pv_storage_classes": [cls], "prune_pv_claim_namespaces": [cluster.namespaces[0]]}
    without = play(base | {"prune_pv_confirm": True, "prune_pv_min_age": "0s"})
    assert without.rc == 0, without.stdout + without.stderr
    assert failed.name not in without.listed_names()
    assert cluster.existing([failed.name, released.name]) == {failed.name}
    with_flag = play(base | {"prune_pv_confirm": True, "prune_pv_include_failed": True})
    assert with_flag.rc == 0, with_flag.stdout + with_flag.stderr
    assert failed.name in with_flag.listed_names()
    assert cluster.existing([failed.name]) == set()


def test_storage_class_and_namespace_filters(cluster, play):
    a, b = cluster.classes
    x, y = cluster.namespaces
    in_ax = Volume(cluster.pv_name("flt-ax"), a, x, release=True)
    in_ay = Volume(cluster.pv_name("flt-ay"), a, y, release=True)
    in_bx = Volume(cluster.pv_name("flt-bx"), b, x, release=True)
    cluster.create([in_ax, in_ay, in_bx])
    everything = {in_ax.name, in_ay.name, in_bx.name}

    by_class = play({"prune_pv_storage_classes": f"{b}"})
    assert everything & by_class.listed_names() == {in_bx.name}
    by_both = play({"prune_pv_storage_classes": [a, b], "prune_pv_claim_namespaces": [y]})
    assert everything & by_both.listed_names() == {in_ay.name}

    result = play({"prune_pv_storage_classes": [a], "prune_pv_claim_namespaces": [x], "prune_pv_confirm": True})
    assert result.rc == 0, result.stdout + result.stderr
    assert cluster.existing(everything) == {in_ay.name, in_bx.name}


def test_minimum_age(cluster, play):
    cls = cluster.classes[1]
    old = Volume(cluster.pv_name("age-old"), cls, cluster.namespaces[1], release=True)
    cluster.create([old])
    created = time.monotonic()
    filters = {"prune_pv_storage_classes": [cls], "prune_pv_claim_namespaces": [cluster.namespaces[1]]}
    assert play(filters | {"prune_pv_min_age": "1d"}).listed_names() == set()
    while time.monotonic() - created < 45:
        time.sleep(1)
    young = Volume(cluster.pv_name("age-young"), cls, cluster.namespaces[1], release=True)
    cluster.create([young])
    # old is >= 45 s old, young a few seconds: 30s separates them with a wide margin both ways.
    result = play(filters | {"prune_pv_min_age": "30s", "prune_pv_confirm": True})
    assert result.rc == 0, result.stdout + result.stderr
    assert result.listed_names() == {old.name}
    assert cluster.existing([old.name, young.name]) == {young.name}


def test_awx_survey_answers(cluster, play):
    """Extra vars exactly as AWX sends the survey: strings for booleans and comma lists."""
    vols = _mixed(cluster, "awx")
    survey = {
        "prune_pv_confirm": "false",
        "prune_pv_storage_classes": f" {cluster.classes[0]} , ",
        "prune_pv_claim_namespaces": "",
        "prune_pv_min_age": "0s",
        "prune_pv_include_failed": "false",
        "prune_pv_include_available": "false",
        "prune_pv_delete_disks": "false",
        "prune_pv_gcp_project": "",
        "awx_job_id": 17,
    }
    listed = play(survey)
    assert listed.rc == 0, listed.stdout + listed.stderr
    assert listed.listed_names() == _names(vols, "released1", "released2")
    assert cluster.existing(_names(vols, *vols)) == _names(vols, *vols)
    deleted = play(survey | {"prune_pv_confirm": "true"})
    assert deleted.rc == 0, deleted.stdout + deleted.stderr
    assert cluster.existing(_names(vols, *vols)) == _names(vols, "bound", "available")


def test_gce_disks_are_reported_and_only_deleted_when_asked(cluster, play):
    cls = cluster.classes[1]
    ns = cluster.namespaces[1]
    zone_affinity = {
        "required": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {
                            "key": "topology.gke.io/zone",
                            "operator": "In",
                            "values": ["europe-west1-b", "europe-west1-c"],
                        }
                    ]
                }
            ]
        }
    }
    intree = Volume(
        cluster.pv_name("gce-intree"),
        cls,
        ns,
        release=True,
        source={"gcePersistentDisk": {"pdName": "disk-intree", "fsType": "ext4"}},
        labels={"topology.kubernetes.io/zone": "europe-west1-b"},
    )
    intree_regional = Volume(
        cluster.pv_name("gce-intree-reg"),
        cls,
        ns,
        release=True,
        source={"gcePersistentDisk": {"pdName": "disk-regional"}},
        labels={"topology.kubernetes.io/zone": "europe-west1-b__europe-west1-d"},
    )
    csi_zonal = Volume(
        cluster.pv_name("gce-csi"),
        cls,
        ns,
        release=True,
        source={
            "csi": {
                "driver": "pd.csi.storage.gke.io",
                "volumeHandle": "projects/prune-proj-123/zones/europe-west1-c/disks/pvc-1234",
            }
        },
    )
    csi_regional = Volume(
        cluster.pv_name("gce-regional"),
        cls,
        ns,
        release=True,
        source={
            "csi": {
                "driver": "pd.csi.storage.gke.io",
                "volumeHandle": "projects/prune-proj-123/regions/europe-west1/disks/pvc-5678",
            }
        },
        node_affinity=zone_affinity,
    )
    other_project = Volume(
        cluster.pv_name("gce-other"),
        cls,
        ns,
        release=True,
        source={
            "csi": {
                "driver": "pd.csi.storage.gke.io",
                "volumeHandle": "projects/someone-else-9/zones/europe-west1-b/disks/theirs",
            }
        },
    )
    vols = [intree, intree_regional, csi_zonal, csi_regional, other_project]
    cluster.create(vols)
    names = {v.name for v in vols}
    filters = {"prune_pv_storage_classes": [cls], "prune_pv_claim_namespaces": [ns]}
    asked = filters | {"prune_pv_delete_disks": True, "prune_pv_gcp_project": "prune-proj-123"}

    listing = play(asked).listing()
    disks = sorted(line for line in listing if line.startswith("GCE disk: "))
    assert disks == sorted(
        [
            f"GCE disk: {intree.name} | projects/prune-proj-123/zones/europe-west1-b/disks/disk-intree | delete",
            f"GCE disk: {intree_regional.name} | projects/prune-proj-123/regions/europe-west1/disks/disk-regional"
            " | delete",
            f"GCE disk: {csi_zonal.name} | projects/prune-proj-123/zones/europe-west1-c/disks/pvc-1234 | delete",
            f"GCE disk: {csi_regional.name} | projects/prune-proj-123/regions/europe-west1/disks/pvc-5678 | delete",
            f"GCE disk: {other_project.name} | projects/someone-else-9/zones/europe-west1-b/disks/theirs"
            " | kept: project someone-else-9 is not prune_pv_gcp_project prune-proj-123",
        ]
    )

    # Check mode: the Google modules cannot run in check mode, so Ansible skips them; the
    # report names each disk the real run would delete, and no volume is deleted.
    checked = play(asked | {"prune_pv_confirm": True}, "--check")
    assert checked.rc == 0, checked.stdout + checked.stderr
    report = checked.task_results("Report what was deleted")[0]["msg"]
    assert sorted(line for line in report if line.startswith("GCE disk")) == sorted(
        [
            f"GCE disk would delete (check mode): projects/prune-proj-123/zones/europe-west1-b/disks/disk-intree"
            f" (PersistentVolume {intree.name})",
            f"GCE disk would delete (check mode): projects/prune-proj-123/regions/europe-west1/disks/disk-regional"
            f" (PersistentVolume {intree_regional.name})",
            f"GCE disk would delete (check mode): projects/prune-proj-123/zones/europe-west1-c/disks/pvc-1234"
            f" (PersistentVolume {csi_zonal.name})",
            f"GCE disk would delete (check mode): projects/prune-proj-123/regions/europe-west1/disks/pvc-5678"
            f" (PersistentVolume {csi_regional.name})",
        ]
    )
    regional = checked.task_results("Delete the regional Google disks behind deleted Retain volumes")[0]
    assert sorted(r["item"]["zones"] for r in regional["results"]) == [
        ["europe-west1-b", "europe-west1-c"],
        ["europe-west1-b", "europe-west1-d"],
    ]
    assert cluster.existing(names) == names

    # Not asked: volumes go, disks stay, and no Google module runs.
    result = play(filters | {"prune_pv_confirm": True})
    assert result.rc == 0, result.stdout + result.stderr
    kept = [line for line in result.listing() if line.startswith("GCE disk: ")]
    assert len(kept) == 5 and all(line.endswith("| kept: prune_pv_delete_disks is false") for line in kept)
    for task in (
        "Delete the zonal Google disks behind deleted Retain volumes",
        "Delete the regional Google disks behind deleted Retain volumes",
    ):
        assert result.task_results(task)[0]["results"] == []
    assert cluster.existing(names) == set()


def test_bad_input_changes_nothing(cluster, play):
    vols = _mixed(cluster, "bad")
    cls = cluster.classes[0]
    cases = [
        ({"prune_pv_confim": True}, "Unknown variable(s) prune_pv_confim"),
        ({"prune_pv_confirm": "maybe"}, "prune_pv_confirm"),
        ({"prune_pv_min_age": "7 days"}, "prune_pv_min_age must be a number followed by"),
        ({"prune_pv_claim_namespaces": ["Not_A_Namespace"]}, "prune_pv_claim_namespaces holds names"),
        ({"prune_pv_delete_disks": True}, "prune_pv_delete_disks needs the Google Cloud project"),
        ({"prune_pv_wait_timeout": 0}, "prune_pv_wait_timeout must be a positive"),
    ]
    for extra, message in cases:
        result = play({"prune_pv_storage_classes": [cls], "prune_pv_confirm": True} | extra)
        assert result.rc != 0, extra
        assert message in result.stdout, (extra, result.stdout[-2000:])
        # Validation comes before the cluster is read.
        assert not result.task_results("Read the PersistentVolumes"), extra
    assert cluster.existing(_names(vols, *vols)) == _names(vols, *vols)


def _on_terminal(kubeconfig: str, extra: list[str], answer: str | None, timeout: float = 240) -> tuple[int, str]:
    """Runs the playbook on a pseudo-terminal (stdin is a TTY, foreground process group)."""
    return run_on_terminal(
        ["ansible-playbook", PLAYBOOK, *extra],
        cwd=REPO,
        env=ansible_env(kubeconfig),
        prompt=b"Type yes to delete",
        answer=answer,
        timeout=timeout,
    )


def test_terminal_prompt_yes_deletes(cluster, kubeconfig):
    vols = _mixed(cluster, "ttyyes")
    rc, out = _on_terminal(kubeconfig, ["-e", f"prune_pv_storage_classes={cluster.classes[0]}"], "yes")
    assert rc == 0, out
    assert "Delete the 2 PersistentVolume(s) listed above?" in out
    assert cluster.existing(_names(vols, *vols)) == _names(vols, "bound", "available")


def test_terminal_prompt_other_answer_keeps(cluster, kubeconfig):
    vols = _mixed(cluster, "ttyno")
    rc, out = _on_terminal(kubeconfig, ["-e", f"prune_pv_storage_classes={cluster.classes[0]}"], "no")
    assert rc == 0, out
    assert "Nothing deleted: no confirmation" in out
    assert cluster.existing(_names(vols, *vols)) == _names(vols, *vols)


def test_no_prompt_inside_awx_even_on_a_terminal(cluster, kubeconfig):
    # An AWX job looks interactive to pause (ansible/awx#1897); a prompt would hang until the job timeout.
    vols = _mixed(cluster, "ttyawx")
    extra = ["-e", f"prune_pv_storage_classes={cluster.classes[0]}", "-e", "awx_job_id=99"]
    rc, out = _on_terminal(kubeconfig, extra, None, timeout=180)
    assert rc == 0, out
    assert "Type yes to delete" not in out
    assert "Nothing deleted: no confirmation" in out
    assert cluster.existing(_names(vols, *vols)) == _names(vols, *vols)
