"""deploy/k8s without a cluster: each overlay renders with kustomize (kubectl's), every
object is valid against the Kubernetes 1.37 schemas (kubernetes-validate, strict) or
KEDA's models (cloudcoil-models-keda), checkov fails no check that is not skipped with
a reason, and the objects do what the README says: hardened pods, probes, the worker
scaled on each priority queue's list, Redis reachable only by the service's pods.

The tools live in .venv-deploy (requirements-deploy.txt), which `make test` installs."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.config import Settings
from service.store.jobs import PRIORITIES, queue_name
from tests.helpers import DEPLOY_BIN, ROOT, tool

OVERLAYS = ("dev", "production")
# Validates the KEDA objects of a rendered overlay (stdin) with KEDA's models, unknown
# fields refused; prints one line per invalid object.
KEDA_CHECK = """
import sys, yaml
from cloudcoil.models.keda import v1alpha1
for doc in yaml.safe_load_all(sys.stdin):
    if doc["apiVersion"].startswith("keda.sh/"):
        try:
            getattr(v1alpha1, doc["kind"]).model_validate(doc, extra="forbid")
        except Exception as exc:
            print(doc["kind"], doc["metadata"]["name"], exc)
"""


def run(*command: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=600)


@cache
def rendered(overlay: str) -> str:
    result = run(
        tool("kubectl", DEPLOY_BIN),
        "kustomize",
        str(ROOT / "deploy" / "k8s" / "overlays" / overlay),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def objects(overlay: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(rendered(overlay))}


def pod_specs(overlay: str) -> dict[str, dict[str, Any]]:
    return {
        name: d["spec"]["template"]["spec"]
        for (kind, name), d in objects(overlay).items()
        if kind in ("Deployment", "StatefulSet")
    }


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return request.param


def test_every_object_is_valid_against_the_kubernetes_schemas(overlay: str, tmp_path: Path) -> None:
    manifest = tmp_path / f"{overlay}.yaml"
    manifest.write_text(rendered(overlay))
    result = run(
        tool("kubernetes-validate", DEPLOY_BIN), "--strict", "--quiet", "--no-warn", str(manifest)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    kinds = {kind for kind, _ in objects(overlay)}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds


def test_the_keda_objects_are_valid_against_kedas_models(overlay: str) -> None:
    result = run(tool("python", DEPLOY_BIN), "-c", KEDA_CHECK, stdin=rendered(overlay))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    kinds = {kind for kind, _ in objects(overlay)}
    assert {"ScaledObject", "TriggerAuthentication"} <= kinds


def test_the_keda_check_refuses_an_unknown_field() -> None:
    # The check itself: a misspelt field of a ScaledObject is reported.
    broken = rendered("dev").replace("minReplicaCount:", "minReplicas:")
    result = run(tool("python", DEPLOY_BIN), "-c", KEDA_CHECK, stdin=broken)
    assert "ScaledObject worker" in result.stdout
    assert "minReplicas" in result.stdout


def test_checkov_fails_no_check_and_each_skip_says_why(overlay: str, tmp_path: Path) -> None:
    manifest = tmp_path / f"{overlay}.yaml"
    manifest.write_text(rendered(overlay))
    result = run(
        tool("checkov", DEPLOY_BIN), "-f", str(manifest), "--framework", "kubernetes",
        "--output", "json", "--quiet",
    )  # fmt: skip
    report = json.loads(result.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == [], failed
    assert report["summary"]["passed"] > 300
    for (_, name), document in objects(overlay).items():
        for key, value in document["metadata"].get("annotations", {}).items():
            if key.startswith("checkov.io/skip"):
                check, _, reason = value.partition("=")
                assert check.startswith("CKV"), (name, value)
                assert len(reason) > 20, (name, value)


def test_every_pod_runs_unprivileged_on_a_read_only_root_with_limits(overlay: str) -> None:
    for name, spec in pod_specs(overlay).items():
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert context["runAsUser"] >= 10000, name
            assert {"requests", "limits"} <= set(container["resources"]), name


def test_the_apps_write_only_to_their_volumes(overlay: str) -> None:
    # With a read-only root, every directory the processes write is a volume: /tmp
    # (Prometheus' multiprocess files, temporary files), HOME, the artifact cache, and
    # the artifacts themselves unless they are on S3.
    found = objects(overlay)
    settings = found[("ConfigMap", "keras-training-service")]["data"]
    for name in ("api", "serving", "worker", "scheduler"):
        spec = found[("Deployment", name)]["spec"]["template"]["spec"]
        mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
        assert {"/tmp", settings["HOME"], settings["ARTIFACT_CACHE"]} <= mounts, name
        if overlay == "dev" and name != "scheduler":
            assert "/data/artifacts" in mounts, name


def test_the_apis_are_probed_on_healthz_and_readyz(overlay: str) -> None:
    found = objects(overlay)
    for name in ("api", "serving"):
        (container,) = found[("Deployment", name)]["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        hpa = found[("HorizontalPodAutoscaler", name)]["spec"]
        assert hpa["scaleTargetRef"]["name"] == name
        assert hpa["metrics"][0]["resource"]["name"] == "cpu"
        assert ("PodDisruptionBudget", name) in found
    (serving,) = found[("Deployment", "serving")]["spec"]["template"]["spec"]["containers"]
    assert serving["image"].startswith("keras-training-service-serving:")


def test_workers_scale_on_every_priority_queue_and_keep_their_fits(overlay: str) -> None:
    found = objects(overlay)
    settings = Settings.from_env(
        {"QUEUE_NAME": found[("ConfigMap", "keras-training-service")]["data"]["QUEUE_NAME"]}
    )
    scaled = found[("ScaledObject", "worker")]["spec"]
    assert scaled["scaleTargetRef"]["name"] == "worker"
    lists = [t["metadata"]["listName"] for t in scaled["triggers"] if t["type"] == "redis"]
    assert sorted(lists) == sorted(f"rq:queue:{queue_name(settings, p)}" for p in PRIORITIES)
    for trigger in scaled["triggers"]:
        assert int(trigger["metadata"]["listLength"]) >= 1
        assert trigger["authenticationRef"]["name"] == "redis"
    # A worker stays for the maintenance that queues a killed fit again, and one that is
    # scaled down has time to finish its fit (else it resumes from its checkpoint).
    assert scaled["minReplicaCount"] >= 1
    worker = found[("Deployment", "worker")]["spec"]["template"]["spec"]
    assert worker["terminationGracePeriodSeconds"] >= 600
    assert worker["containers"][0]["command"] == ["python", "-m", "worker.main"]
    secret_refs = found[("TriggerAuthentication", "redis")]["spec"]["secretTargetRef"]
    assert {r["parameter"] for r in secret_refs} >= {"address"}


def test_dev_runs_redis_with_append_only_persistence_reachable_only_by_the_service() -> None:
    found = objects("dev")
    redis = found[("StatefulSet", "redis")]["spec"]
    args = redis["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert redis["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    secret = found[("Secret", "keras-training-service")]
    assert secret["metadata"]["namespace"] == "keras-dev"
    # Every pod that talks to Redis carries the label its NetworkPolicy admits.
    policy = found[("NetworkPolicy", "redis")]["spec"]
    assert policy["podSelector"]["matchLabels"] == redis["selector"]["matchLabels"]
    admitted = policy["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    for name in ("api", "serving", "worker", "scheduler"):
        labels = found[("Deployment", name)]["spec"]["template"]["metadata"]["labels"]
        assert admitted.items() <= labels.items(), name
    redis_labels = redis["template"]["metadata"]["labels"]
    assert not admitted.items() <= redis_labels.items()


def test_production_takes_redis_and_s3_from_a_secret_it_does_not_hold() -> None:
    found = objects("production")
    assert not [key for key in found if key[0] in ("Secret", "StatefulSet")]
    for name in ("api", "serving", "worker", "scheduler"):
        container = found[("Deployment", name)]["spec"]["template"]["spec"]["containers"][0]
        assert {"secretRef": {"name": "keras-training-service"}} in container["envFrom"], name
    parameters = {
        r["parameter"] for r in found[("TriggerAuthentication", "redis")]["spec"]["secretTargetRef"]
    }
    assert parameters == {"address", "password"}
