"""A playbook run at -vvv that uses every kind of password never prints one."""

import json


def test_vvv_output_has_no_passwords(mlflow):
    secrets = {
        "user": "vvv-user-Passw0rd-1",
        "rotated": "vvv-user-Passw0rd-2",
        "bulk": "vvv-bulk-Passw0rd-3",
        "admin": mlflow.server.admin_password,
    }
    tasks = [
        {
            "name": "create",
            "mlflow_k8s.platform.mlflow_user": {"username": "vvv@example.com", "password": secrets["user"]},
        },
        {
            "name": "rotate",
            "mlflow_k8s.platform.mlflow_user": {"username": "vvv@example.com", "password": secrets["rotated"]},
        },
        {
            "name": "bulk",
            "mlflow_k8s.platform.mlflow_access": {
                "update_password": "always",
                "create_experiments": True,
                "users": [
                    {
                        "username": "vvv%d@example.com" % i,
                        "password": secrets["bulk"],
                        "permissions": [{"experiment_name": "vvv-exp", "permission": "EDIT"}],
                    }
                    for i in range(3)
                ],
            },
        },
        {"name": "info", "mlflow_k8s.platform.mlflow_user_info": {"sso_password": secrets["bulk"]}},
    ]
    rc, out = mlflow.ansible.playbook_text(tasks, ["-vvv", "--diff"])
    assert rc == 0, out[-4000:]
    assert "changed=3" in out, out[-2000:]
    for kind, value in secrets.items():
        assert value not in out, "%s password printed at -vvv" % kind
    # The failure path too: a rejected login must not echo the password it tried.
    wrong = "vvv-wrong-Passw0rd-9"
    runner = mlflow.runner(auth_password=wrong)
    rc, out = runner.playbook_text([tasks[3]], ["-vvv"])
    assert rc != 0 and "MLflow rejected the login" in out
    assert wrong not in out
    assert json.dumps(wrong)[1:-1] not in out
