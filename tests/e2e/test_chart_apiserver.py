"""The Helm chart's manifests against a real kube-apiserver (make test-e2e).

Every manifest `helm template` renders — default values, the evaluation values and the production
values with ServiceMonitors — goes through `kubectl apply --dry-run=server`: the apiserver decodes,
defaults and validates each object (schemas, CRD schemas, admission) without storing it. The release
namespace enforces the `restricted` Pod Security Standard, so every pod the chart defines must meet it.
The ServiceMonitor CRD is the Prometheus Operator's own (scripts/servicemonitor-crd.sh).

Runs under scripts/with-control-plane.sh, which sets KUBECONFIG and KUBECTL; without them it fails.
"""

import json
import os
import pathlib
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts/ci-cd-monitor"
NAMESPACE = "cicd-chart"
WATCHED = ["team-a", "team-b"]  # the production values' operator.watchNamespaces
CASES = {
    "default": ["--set", "database.url=postgres://cicd:pw@db.example.com:5432/cicd"],
    "evaluation": ["-f", str(CHART / "ci/evaluation-values.yaml")],
    "production": [
        "-f",
        str(CHART / "ci/production-values.yaml"),
        "--api-versions",
        "monitoring.coreos.com/v1",
    ],
}


def kubectl(*args, stdin=None):
    if "KUBECONFIG" not in os.environ:
        pytest.fail("KUBECONFIG is not set: run under scripts/with-control-plane.sh (make test-e2e)")
    return subprocess.run(
        [os.environ.get("KUBECTL", "kubectl"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def ok(res):
    assert res.returncode == 0, res.stderr
    return res


@pytest.fixture(scope="module")
def cluster():
    crd = subprocess.run(
        [str(ROOT / "scripts/servicemonitor-crd.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    ok(kubectl("apply", "--server-side", "-f", crd))
    ok(
        kubectl(
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/servicemonitors.monitoring.coreos.com",
        )
    )
    for ns in [NAMESPACE, *WATCHED]:
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": ns,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
        }
        # What kube-controller-manager (absent here) would create in every namespace.
        default_sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}
        ok(kubectl("apply", "-f", "-", stdin=json.dumps(namespace)))
        ok(kubectl("apply", "-n", ns, "-f", "-", stdin=json.dumps(default_sa)))


def helm(*args):
    helm_bin = os.environ.get("HELM") or subprocess.run(
        [str(ROOT / "scripts/helm.sh"), "path", "3"], check=True, capture_output=True, text=True
    ).stdout.strip()
    res = subprocess.run([helm_bin, *args], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.mark.parametrize("case", CASES)
def test_every_manifest_passes_a_server_side_dry_run(cluster, case):
    rendered = helm(
        "template", "cicd", str(CHART), "--namespace", NAMESPACE, "--include-crds", *CASES[case]
    )
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    # Objects that name their namespace (the operator's Roles in the watched namespaces) go there,
    # the others to the release's namespace, as `helm install --namespace` would put them.
    by_namespace = {}
    for doc in docs:
        ns = doc["metadata"].get("namespace", NAMESPACE)
        by_namespace.setdefault(ns, []).append(doc)
    applied = []
    for ns, group in by_namespace.items():
        stdin = "\n---\n".join(json.dumps(d) for d in group)
        res = ok(
            kubectl(
                "apply",
                "--dry-run=server",
                "--validate=strict",
                "--namespace",
                ns,
                "-o",
                "json",
                "-f",
                "-",
                stdin=stdin,
            )
        )
        # The apiserver's warnings (deprecated APIs, unknown fields, Pod Security) reach stderr.
        assert "Warning" not in res.stderr, res.stderr
        out = json.loads(res.stdout)
        applied += out["items"] if out.get("kind") == "List" else [out]
    assert len(applied) == len(docs), f"{len(applied)} objects applied of {len(docs)} rendered"
    kinds = {i["kind"] for i in applied}
    expected = {"Deployment", "Service", "ConfigMap", "ServiceAccount", "CustomResourceDefinition", "Pod"}
    if case == "production":
        expected |= {"Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceMonitor"}
        expected |= {"NetworkPolicy", "Role", "RoleBinding"}
    if case == "evaluation":
        expected |= {"StatefulSet", "Secret"}
    assert expected <= kinds, sorted(kinds)


def test_unknown_fields_are_refused(cluster):
    """The dry-run is strict: a manifest the apiserver would not understand does not pass."""
    bad = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "typo"},
        "spec": {"selector": {}, "endpoints": [{"port": "http", "intervall": "30s"}]},
    }
    res = kubectl(
        "apply",
        "--dry-run=server",
        "--validate=strict",
        "--namespace",
        NAMESPACE,
        "-f",
        "-",
        stdin=json.dumps(bad),
    )
    assert res.returncode != 0 and "intervall" in res.stderr, res.stderr
