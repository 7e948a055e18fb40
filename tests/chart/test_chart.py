"""The Helm chart, checked with the real Helm 3 and Helm 4 binaries (scripts/helm.sh installs them).

Every test runs once per Helm major version. Rendering is `helm template`; nothing here needs a
cluster (the kube-apiserver dry-run of the same manifests lives with the control-plane tests).
"""

import functools
import hashlib
import pathlib
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts/ci-cd-monitor"
PRODUCTION = CHART / "ci/production-values.yaml"
EVALUATION = CHART / "ci/evaluation-values.yaml"
MONITORING = ["--api-versions", "monitoring.coreos.com/v1"]
MINIMAL = ["--set", "database.url=postgres://cicd:pw@db.example.com:5432/cicd"]
CHART_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text())
APP_VERSION = CHART_VERSION["appVersion"]

# What operator/README.md says the operator needs, and nothing more.
OPERATOR_RULES = {
    ("cicd-monitor.dev", "alertrules"): {"get", "list", "watch", "patch"},
    ("cicd-monitor.dev", "integrations"): {"get", "list", "watch", "patch"},
    ("cicd-monitor.dev", "alertrules/status"): {"patch"},
    ("cicd-monitor.dev", "integrations/status"): {"patch"},
    ("cicd-monitor.dev", "alertrules/finalizers"): {"update"},
    ("cicd-monitor.dev", "integrations/finalizers"): {"update"},
    ("", "secrets"): {"get", "list", "watch"},
    ("events.k8s.io", "events"): {"create", "patch"},
}
LEASE_VERBS = {"get", "create", "patch", "update"}


@functools.cache
def helm_path(major):
    out = subprocess.run(
        [str(ROOT / "scripts/helm.sh"), "path", major], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


@pytest.fixture(params=["3", "4"], ids=["helm3", "helm4"])
def helm(request):
    return request.param


def run_helm(major, *args):
    return subprocess.run([helm_path(major), *args], capture_output=True, text=True)


@functools.cache
def _render(major, args):
    res = run_helm(major, "template", "cicd", str(CHART), "--namespace", "cicd", *args)
    assert res.returncode == 0, res.stderr
    return [d for d in yaml.safe_load_all(res.stdout) if d]


def render(major, *args):
    return _render(major, tuple(args))


def render_fails(major, *args):
    res = run_helm(major, "template", "cicd", str(CHART), "--namespace", "cicd", *args)
    assert res.returncode != 0, "helm template should have failed"
    return res.stderr


def of_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind, name):
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def pod_specs(docs):
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            yield d["metadata"]["name"], d["spec"]["template"]["spec"]
        elif d["kind"] == "Pod":
            yield d["metadata"]["name"], d["spec"]


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


ALL_RENDERS = {
    "minimal": MINIMAL,
    "evaluation": ["-f", str(EVALUATION)],
    "production": ["-f", str(PRODUCTION), *MONITORING],
}


# --- lint -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values", [[], ["-f", str(PRODUCTION)], ["-f", str(EVALUATION)]], ids=["default", "production", "evaluation"]
)
def test_lint_strict_passes(helm, values):
    res = run_helm(helm, "lint", "--strict", str(CHART), *values)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 chart(s) failed" in res.stdout


def test_default_values_ask_for_a_database(helm):
    err = render_fails(helm)
    assert "set database.url or database.existingSecret" in err


def test_helm_3_and_helm_4_render_the_same_manifests():
    assert render("3", "-f", str(PRODUCTION), *MONITORING) == render("4", "-f", str(PRODUCTION), *MONITORING)


def test_the_kubernetes_version_floor_is_enforced(helm):
    err = render_fails(helm, *MINIMAL, "--kube-version", "1.24.0")
    assert "kubeVersion" in err or "incompatible" in err


# --- schema -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, complaint",
    [
        ("backend.replicaCont=3", "replicaCont"),  # a typo'd key
        ("ingress.enabled=true", "ingress"),  # a key at the wrong level
        ("backend.logFormat=xml", "logFormat"),
        ("operator.watchNamespaces[0]=Team_A", "watchNamespaces"),
        ("backend.autoscaling.targetCPUUtilizationPercentage=170", "targetCPUUtilizationPercentage"),
        ("backend.image.pullPolicy=Sometimes", "pullPolicy"),
        ("secrets.secretKey=too-short", "secretKey"),
    ],
)
def test_the_schema_rejects_bad_values(helm, bad, complaint):
    err = render_fails(helm, *MINIMAL, "--set", bad)
    assert "schema" in err and complaint in err, err


# --- security ---------------------------------------------------------------------------------


@pytest.mark.parametrize("render_name", ALL_RENDERS)
def test_every_container_runs_locked_down(helm, render_name):
    docs = render(helm, *ALL_RENDERS[render_name])
    checked = 0
    for name, spec in pod_specs(docs):
        pod_sc = spec.get("securityContext", {})
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c.get("securityContext", {})
            where = f"{name}/{c['name']}"
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not sc.get("capabilities", {}).get("add"), where
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
            assert seccomp.get("type") == "RuntimeDefault", where
            assert not sc.get("privileged"), where
            checked += 1
    assert checked >= 3


def test_the_backend_gets_no_service_account_token(helm):
    docs = render(helm, *MINIMAL)
    spec = one(docs, "Deployment", "cicd-ci-cd-monitor")["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert one(docs, "ServiceAccount", "cicd-ci-cd-monitor")["automountServiceAccountToken"] is False


def test_the_operator_pod_sees_only_the_operator_token(helm):
    docs = render(helm, *MINIMAL)
    spec = one(docs, "Deployment", "cicd-ci-cd-monitor-operator")["spec"]["template"]["spec"]
    (vol,) = [v for v in spec["volumes"] if "secret" in v]
    assert vol["secret"]["items"] == [{"key": "operator-token", "path": "operator-token"}]
    env = env_of(spec["containers"][0])
    assert env["CICD_OPERATOR_TOKEN_FILE"]["value"] == "/var/run/secrets/cicd-monitor/operator-token"
    assert not any("secretKeyRef" in e.get("valueFrom", {}) for e in env.values())


# --- secrets ----------------------------------------------------------------------------------


def test_existing_secrets_replace_every_rendered_secret(helm):
    docs = render(helm, "-f", str(PRODUCTION), *MONITORING)
    assert of_kind(docs, "Secret") == []
    backend = one(docs, "Deployment", "cicd-ci-cd-monitor")["spec"]["template"]["spec"]
    env = env_of(backend["containers"][0])
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "cicd-monitor-database", "key": "database-url"}
    for var in ("CICD_ADMIN_TOKEN", "CICD_OPERATOR_TOKEN", "CICD_SECRET_KEY"):
        ref = env[var]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "cicd-monitor-tokens" and not ref.get("optional"), var
    assert env["SLACK_WEBHOOK_URL"]["valueFrom"]["secretKeyRef"]["optional"] is True
    migrate = env_of(backend["initContainers"][0])
    assert migrate["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "cicd-monitor-database"
    operator = one(docs, "Deployment", "cicd-ci-cd-monitor-operator")["spec"]["template"]["spec"]
    assert operator["volumes"][0]["secret"]["secretName"] == "cicd-monitor-tokens"


def test_a_direct_url_behind_pgbouncer_serves_migrations_and_listen(helm):
    import base64

    docs = render(helm, *MINIMAL, "--set", "database.directUrl=postgres://u:p@db:5432/cicd")
    data = one(docs, "Secret", "cicd-ci-cd-monitor-database")["data"]
    assert base64.b64decode(data["direct-url"]) == b"postgres://u:p@db:5432/cicd"
    backend = one(docs, "Deployment", "cicd-ci-cd-monitor")["spec"]["template"]["spec"]
    env = env_of(backend["containers"][0])
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    assert env["DATABASE_DIRECT_URL"]["valueFrom"]["secretKeyRef"]["key"] == "direct-url"
    # Migrations hold a session lock: not through the pooler.
    migrate = env_of(backend["initContainers"][0])
    assert migrate["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "direct-url"
    # From an existing Secret, under the key given; without one, no direct URL at all.
    docs = render(
        helm, *MINIMAL, "--set", "database.existingSecret=db,database.existingSecretDirectKey=direct"
    )
    backend = one(docs, "Deployment", "cicd-ci-cd-monitor")["spec"]["template"]["spec"]
    assert env_of(backend["containers"][0])["DATABASE_DIRECT_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "db",
        "key": "direct",
    }
    backend = one(render(helm, *MINIMAL), "Deployment", "cicd-ci-cd-monitor")["spec"]["template"]["spec"]
    assert "DATABASE_DIRECT_URL" not in env_of(backend["containers"][0])
    migrate = env_of(backend["initContainers"][0])
    assert migrate["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"


def test_a_read_replica_url_reaches_the_backend_only(helm):
    import base64

    docs = render(helm, *MINIMAL, "--set", "database.readUrl=postgres://u:p@db-replica:5432/cicd")
    data = one(docs, "Secret", "cicd-ci-cd-monitor-database")["data"]
    assert base64.b64decode(data["read-url"]) == b"postgres://u:p@db-replica:5432/cicd"
    backend = one(docs, "Deployment", "cicd-ci-cd-monitor")["spec"]["template"]["spec"]
    assert env_of(backend["containers"][0])["DATABASE_READ_URL"]["valueFrom"]["secretKeyRef"]["key"] == "read-url"
    # Migrations write: never on the replica.
    migrate = env_of(backend["initContainers"][0])
    assert migrate["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    docs = render(helm, *MINIMAL, "--set", "database.existingSecret=db,database.existingSecretReadKey=replica")
    backend = one(docs, "Deployment", "cicd-ci-cd-monitor")["spec"]["template"]["spec"]
    assert env_of(backend["containers"][0])["DATABASE_READ_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "db",
        "key": "replica",
    }
    backend = one(render(helm, *MINIMAL), "Deployment", "cicd-ci-cd-monitor")["spec"]["template"]["spec"]
    assert "DATABASE_READ_URL" not in env_of(backend["containers"][0])


def test_generated_tokens_are_in_the_chart_secret(helm):
    docs = render(helm, *MINIMAL)
    secret = one(docs, "Secret", "cicd-ci-cd-monitor")
    assert set(secret["data"]) == {"admin-token", "operator-token", "secret-key"}
    db = one(docs, "Secret", "cicd-ci-cd-monitor-database")
    assert set(db["data"]) == {"database-url"}


def test_given_values_land_in_the_secret(helm):
    import base64

    docs = render(helm, *MINIMAL, "--set", "secrets.adminToken=adm,secrets.slackWebhookUrl=https://hooks.example/x")
    data = one(docs, "Secret", "cicd-ci-cd-monitor")["data"]
    assert base64.b64decode(data["admin-token"]) == b"adm"
    assert base64.b64decode(data["slack-webhook-url"]) == b"https://hooks.example/x"
    assert len(base64.b64decode(data["secret-key"])) >= 32


def test_the_bundled_postgresql_gets_a_url_the_chart_makes(helm):
    import base64

    docs = render(helm, "-f", str(EVALUATION))
    sts = one(docs, "StatefulSet", "cicd-ci-cd-monitor-postgresql")
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/library/postgres:16-alpine"
    data = one(docs, "Secret", "cicd-ci-cd-monitor-database")["data"]
    password = base64.b64decode(data["postgres-password"]).decode()
    url = base64.b64decode(data["database-url"]).decode()
    assert url == f"postgres://cicd:{password}@cicd-ci-cd-monitor-postgresql:5432/cicd"
    err = render_fails(helm, "-f", str(EVALUATION), "--set", "database.existingSecret=mine")
    assert "exclude each other" in err


def test_postgresql_is_off_by_default(helm):
    assert of_kind(render(helm, *MINIMAL), "StatefulSet") == []


# --- rolling on change ------------------------------------------------------------------------


def checksums(docs, name):
    return one(docs, "Deployment", name)["spec"]["template"]["metadata"]["annotations"]


def test_checksum_annotations_roll_pods_when_config_or_secrets_change(helm):
    fixed = [*MINIMAL, "--set", "secrets.adminToken=a,secrets.operatorToken=o,secrets.secretKey=" + "k" * 32]
    base = checksums(render(helm, *fixed), "cicd-ci-cd-monitor")
    assert {"checksum/config", "checksum/secret", "checksum/database"} <= set(base)
    assert base == checksums(render(helm, *fixed), "cicd-ci-cd-monitor"), "stable for the same values"
    env_changed = checksums(render(helm, *fixed, "--set", "backend.environment=staging"), "cicd-ci-cd-monitor")
    assert env_changed["checksum/config"] != base["checksum/config"]
    assert env_changed["checksum/secret"] == base["checksum/secret"]
    token_changed = checksums(render(helm, *fixed, "--set", "secrets.adminToken=b"), "cicd-ci-cd-monitor")
    assert token_changed["checksum/secret"] != base["checksum/secret"]
    assert token_changed["checksum/config"] == base["checksum/config"]
    operator = checksums(render(helm, *fixed), "cicd-ci-cd-monitor-operator")
    assert operator["checksum/secret"] == base["checksum/secret"]


def test_generated_values_are_made_once_per_render(helm):
    # Backend and operator hash the same generated tokens, and those are the ones in the Secret.
    docs = render(helm, *MINIMAL)
    backend = checksums(docs, "cicd-ci-cd-monitor")["checksum/secret"]
    assert checksums(docs, "cicd-ci-cd-monitor-operator")["checksum/secret"] == backend
    import base64

    data = one(docs, "Secret", "cicd-ci-cd-monitor")["data"]
    plain = {k: base64.b64decode(v).decode() for k, v in data.items()}
    again = render(
        helm,
        *MINIMAL,
        "--set",
        f"secrets.adminToken={plain['admin-token']},secrets.operatorToken={plain['operator-token']},"
        f"secrets.secretKey={plain['secret-key']}",
    )
    assert checksums(again, "cicd-ci-cd-monitor")["checksum/secret"] == backend


# --- workloads --------------------------------------------------------------------------------


def test_images_default_to_the_app_version(helm):
    docs = render(helm, *MINIMAL)
    backend = one(docs, "Deployment", "cicd-ci-cd-monitor")["spec"]["template"]["spec"]
    assert backend["containers"][0]["image"] == f"ghcr.io/ci-cd-monitor/ci-cd-monitor:{APP_VERSION}"
    assert backend["initContainers"][0]["image"] == backend["containers"][0]["image"]
    assert backend["initContainers"][0]["command"] == ["cicd-monitor", "migrate"]
    operator = one(docs, "Deployment", "cicd-ci-cd-monitor-operator")["spec"]["template"]["spec"]
    assert operator["containers"][0]["image"] == f"ghcr.io/ci-cd-monitor/ci-cd-monitor-operator:{APP_VERSION}"
    digest = "sha256:" + "a" * 64
    pinned = render(helm, *MINIMAL, "--set", f"backend.image.digest={digest},backend.image.tag=9.9.9")
    spec = one(pinned, "Deployment", "cicd-ci-cd-monitor")["spec"]["template"]["spec"]
    assert spec["containers"][0]["image"] == f"ghcr.io/ci-cd-monitor/ci-cd-monitor@{digest}"


def test_backend_probes_and_config(helm):
    docs = render(helm, *MINIMAL)
    c = one(docs, "Deployment", "cicd-ci-cd-monitor")["spec"]["template"]["spec"]["containers"][0]
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["startupProbe"]["httpGet"]["path"] == "/health"
    cm = one(docs, "ConfigMap", "cicd-ci-cd-monitor")["data"]
    assert cm["CICD_PUBLIC_READ"] == "false" and cm["CICD_LOG_FORMAT"] == "json"
    assert "CICD_PUBLIC_URL" not in cm
    assert "CICD_TRUSTED_PROXIES" not in cm and "CICD_CORS_ORIGINS" not in cm
    assert (cm["CICD_RATE_LIMIT_INGEST"], cm["CICD_RATE_LIMIT_AUTH_FAILURES"]) == ("10000", "30")
    assert cm["CICD_RETENTION_INTERVAL"] == "3600"
    prod = one(render(helm, "-f", str(PRODUCTION), *MONITORING), "ConfigMap", "cicd-ci-cd-monitor")["data"]
    assert prod["CICD_PUBLIC_URL"] == "https://cicd.example.com"
    assert prod["CICD_TRUSTED_PROXIES"] == "10.244.0.0/16"
    both = render(helm, *MINIMAL, "--set", "backend.corsOrigins={https://a.example.com,https://b.example.com}")
    cors = one(both, "ConfigMap", "cicd-ci-cd-monitor")["data"]["CICD_CORS_ORIGINS"]
    assert cors == "https://a.example.com,https://b.example.com"
    # An address without its prefix length is not a CIDR the backend accepts.
    assert "trustedProxies" in render_fails(helm, *MINIMAL, "--set", "backend.trustedProxies={10.0.0.1}")
    # The outbound allow-list and host restriction: unset by default, joined when given.
    assert "CICD_OUTBOUND_ALLOW" not in cm and "CICD_OUTBOUND_HOSTS" not in cm
    guarded = one(
        render(
            helm, *MINIMAL,
            "--set", "backend.outbound.allow={10.20.0.0/16,*.hooks.internal.example}",
            "--set", "backend.outbound.hosts={hooks.slack.com}",
        ),
        "ConfigMap", "cicd-ci-cd-monitor",
    )["data"]
    assert guarded["CICD_OUTBOUND_ALLOW"] == "10.20.0.0/16,*.hooks.internal.example"
    assert guarded["CICD_OUTBOUND_HOSTS"] == "hooks.slack.com"
    assert "outbound" in render_fails(helm, *MINIMAL, "--set", "backend.outbound.hosts={https://hooks.slack.com}")


def test_hpa_targets_cpu_and_memory_and_owns_the_replica_count(helm):
    docs = render(helm, "-f", str(PRODUCTION), *MONITORING)
    (hpa,) = of_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cicd-ci-cd-monitor"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 12)
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in spec["metrics"]}
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": 70},
        "memory": {"type": "Utilization", "averageUtilization": 80},
    }
    assert "replicas" not in one(docs, "Deployment", "cicd-ci-cd-monitor")["spec"]
    # No HPA by default, and never one for the operator.
    default = render(helm, *MINIMAL)
    assert of_kind(default, "HorizontalPodAutoscaler") == []
    assert one(default, "Deployment", "cicd-ci-cd-monitor")["spec"]["replicas"] == 2
    err = render_fails(helm, *MINIMAL, "--set", "backend.autoscaling.enabled=true,backend.autoscaling.minReplicas=5,backend.autoscaling.maxReplicas=2")
    assert "minReplicas is above maxReplicas" in err


def test_pod_disruption_budget(helm):
    (pdb,) = of_kind(render(helm, *MINIMAL), "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1" and pdb["spec"]["maxUnavailable"] == 1
    (pdb,) = of_kind(render(helm, "-f", str(PRODUCTION), *MONITORING), "PodDisruptionBudget")
    assert pdb["spec"] == {
        "minAvailable": 2,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "ci-cd-monitor", "app.kubernetes.io/instance": "cicd", "app.kubernetes.io/component": "backend"}},
    }


def test_ingress_class_tls_and_annotations(helm):
    assert of_kind(render(helm, *MINIMAL), "Ingress") == []
    (ing,) = of_kind(render(helm, "-f", str(PRODUCTION), *MONITORING), "Ingress")
    assert ing["apiVersion"] == "networking.k8s.io/v1"
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["tls"] == [{"hosts": ["cicd.example.com"], "secretName": "cicd-example-com-tls"}]
    assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    path = ing["spec"]["rules"][0]["http"]["paths"][0]
    assert path["backend"]["service"] == {"name": "cicd-ci-cd-monitor", "port": {"name": "http"}}


def test_one_operator_replica_is_replaced_not_overlapped(helm):
    docs = render(helm, *MINIMAL)
    dep = one(docs, "Deployment", "cicd-ci-cd-monitor-operator")
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"]["type"] == "Recreate"
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert "--leader-election" not in c.get("args", [])
    assert not [r for r in of_kind(docs, "Role") if "leases" in str(r["rules"])]


def test_several_operator_replicas_elect_a_leader_through_a_lease(helm):
    docs = render(helm, "-f", str(PRODUCTION), *MONITORING)
    dep = one(docs, "Deployment", "cicd-ci-cd-monitor-operator")
    assert dep["spec"]["replicas"] == 2
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["args"] == ["--leader-election"]
    env = env_of(c)
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["LEASE_NAME"]["value"] == "cicd-ci-cd-monitor-operator"
    assert env["WATCH_NAMESPACES"]["value"] == "team-a,team-b"
    assert env["CICD_BACKEND_URL"]["value"] == "http://cicd-ci-cd-monitor.cicd.svc:8080"
    role = one(docs, "Role", "cicd-ci-cd-monitor-operator-leader-election")
    assert role["metadata"]["namespace"] == "cicd"
    verbs = set()
    for rule in role["rules"]:
        assert rule["apiGroups"] == ["coordination.k8s.io"] and rule["resources"] == ["leases"]
        if "create" not in rule["verbs"]:
            assert rule["resourceNames"] == ["cicd-ci-cd-monitor-operator"]
        verbs |= set(rule["verbs"])
    assert verbs == LEASE_VERBS


# --- RBAC -------------------------------------------------------------------------------------


def granted(rules):
    out = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def test_rbac_is_a_cluster_role_with_exactly_the_needed_verbs_when_watching_all_namespaces(helm):
    docs = render(helm, *MINIMAL)
    (cr,) = of_kind(docs, "ClusterRole")
    assert granted(cr["rules"]) == OPERATOR_RULES
    (crb,) = of_kind(docs, "ClusterRoleBinding")
    assert crb["roleRef"]["name"] == cr["metadata"]["name"]
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "cicd-ci-cd-monitor-operator", "namespace": "cicd"}]
    assert of_kind(docs, "RoleBinding") == []


def test_rbac_is_a_role_per_watched_namespace_and_nothing_cluster_wide(helm):
    docs = render(helm, "-f", str(PRODUCTION), *MONITORING)
    assert of_kind(docs, "ClusterRole") == [] and of_kind(docs, "ClusterRoleBinding") == []
    roles = {r["metadata"]["namespace"]: r for r in of_kind(docs, "Role") if r["metadata"]["name"] == "cicd-ci-cd-monitor-operator"}
    assert set(roles) == {"team-a", "team-b"}
    for role in roles.values():
        assert granted(role["rules"]) == OPERATOR_RULES
    bindings = [b for b in of_kind(docs, "RoleBinding") if b["metadata"]["name"] == "cicd-ci-cd-monitor-operator"]
    assert {b["metadata"]["namespace"] for b in bindings} == {"team-a", "team-b"}
    for b in bindings:
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": "cicd-ci-cd-monitor-operator", "namespace": "cicd"}]


def test_no_rbac_and_no_operator_when_turned_off(helm):
    docs = render(helm, *MINIMAL, "--set", "operator.rbac.create=false")
    assert not [d for d in docs if d["kind"] in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")]
    docs = render(helm, *MINIMAL, "--set", "operator.enabled=false")
    assert [d["metadata"]["name"] for d in of_kind(docs, "Deployment")] == ["cicd-ci-cd-monitor"]
    assert of_kind(docs, "ClusterRole") == []


# --- monitoring and network -------------------------------------------------------------------


def test_service_monitors_only_where_the_api_is_served(helm):
    assert of_kind(render(helm, "-f", str(PRODUCTION)), "ServiceMonitor") == []
    assert of_kind(render(helm, *MINIMAL, *MONITORING), "ServiceMonitor") == []  # not enabled
    sms = of_kind(render(helm, "-f", str(PRODUCTION), *MONITORING), "ServiceMonitor")
    by_name = {s["metadata"]["name"]: s for s in sms}
    assert set(by_name) == {"cicd-ci-cd-monitor", "cicd-ci-cd-monitor-operator"}
    assert by_name["cicd-ci-cd-monitor"]["spec"]["endpoints"][0]["port"] == "http"
    assert by_name["cicd-ci-cd-monitor-operator"]["spec"]["endpoints"][0]["port"] == "metrics"
    for sm in sms:
        assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert sm["spec"]["endpoints"][0]["path"] == "/metrics"


def test_network_policies(helm):
    assert of_kind(render(helm, *MINIMAL), "NetworkPolicy") == []
    docs = render(helm, "-f", str(PRODUCTION), *MONITORING)
    nps = {n["metadata"]["name"]: n["spec"] for n in of_kind(docs, "NetworkPolicy")}
    assert set(nps) == {"cicd-ci-cd-monitor", "cicd-ci-cd-monitor-operator"}
    backend = nps["cicd-ci-cd-monitor"]
    assert backend["policyTypes"] == ["Ingress", "Egress"]
    peers = backend["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in peers
    db_rule = [r for r in backend["egress"] if r["ports"] == [{"protocol": "TCP", "port": 5432}]]
    assert db_rule and db_rule[0]["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    operator_ports = {p["port"] for r in nps["cicd-ci-cd-monitor-operator"]["egress"] for p in r["ports"]}
    assert {53, 8080, 443, 6443} <= operator_ports
    evaluation = render(helm, "-f", str(EVALUATION), "--set", "networkPolicy.enabled=true")
    pg = one(evaluation, "NetworkPolicy", "cicd-ci-cd-monitor-postgresql")["spec"]
    assert pg["egress"] == [] and pg["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "backend"


# --- labels, tests, CRDs ----------------------------------------------------------------------


@pytest.mark.parametrize("render_name", ALL_RENDERS)
def test_every_resource_has_the_standard_labels(helm, render_name):
    for d in render(helm, *ALL_RENDERS[render_name]):
        labels = d["metadata"].get("labels", {})
        where = f"{d['kind']}/{d['metadata']['name']}"
        assert labels.get("app.kubernetes.io/name") == "ci-cd-monitor", where
        assert labels.get("app.kubernetes.io/instance") == "cicd", where
        assert labels.get("app.kubernetes.io/managed-by") == "Helm", where
        assert labels.get("app.kubernetes.io/version") == APP_VERSION, where
        assert labels.get("helm.sh/chart") == f"ci-cd-monitor-{CHART_VERSION['version']}", where


def test_the_helm_test_pod_checks_health(helm):
    (pod,) = of_kind(render(helm, *MINIMAL), "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["command"][-1]
    assert "http://cicd-ci-cd-monitor:8080/health" in script and '"status":"ok"' in script


def test_the_chart_carries_the_committed_crds(helm):
    for name in ("alertrule.yaml", "integration.yaml"):
        assert (CHART / "crds" / name).read_bytes() == (ROOT / "crds" / name).read_bytes()
    res = run_helm(helm, "template", "cicd", str(CHART), *MINIMAL, "--include-crds")
    kinds = [d["spec"]["names"]["kind"] for d in yaml.safe_load_all(res.stdout) if d and d["kind"] == "CustomResourceDefinition"]
    assert sorted(kinds) == ["AlertRule", "Integration"]


def test_the_chart_readme_values_table_is_current():
    res = subprocess.run(
        [sys.executable, str(ROOT / "scripts/chart-values-table.py"), "--check"], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_chart_packages(helm, tmp_path):
    res = run_helm(helm, "package", str(CHART), "--destination", str(tmp_path))
    assert res.returncode == 0, res.stderr
    (tgz,) = tmp_path.glob("*.tgz")
    assert tgz.name == f"ci-cd-monitor-{CHART_VERSION['version']}.tgz"
    assert hashlib.sha256(tgz.read_bytes()).hexdigest()


def notes(*args):
    # Helm 4 renders NOTES.txt with --dry-run=client and no cluster; Helm 3 wants a cluster for it.
    res = subprocess.run(
        [helm_path("4"), "install", "cicd", str(CHART), "-n", "cicd", "--dry-run=client", *args],
        capture_output=True,
        text=True,
        env={"KUBECONFIG": "/nonexistent", "PATH": "/usr/bin:/bin", "HOME": str(pathlib.Path.home())},
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.split("NOTES:", 1)[1]


def test_notes_say_how_to_reach_it_and_warn_about_what_is_missing():
    prod = notes("-f", str(PRODUCTION))
    assert "https://cicd.example.com/" in prod
    assert "get secret cicd-monitor-tokens -o jsonpath='{.data.admin-token}'" in prod
    assert "does not serve monitoring.coreos.com/v1" in prod
    assert "watched namespaces: team-a, team-b" in prod
    evaluation = notes("-f", str(EVALUATION))
    assert "port-forward svc/cicd-ci-cd-monitor 8080:8080" in evaluation
    assert "evaluation only" in evaluation and "Keep a copy of" in evaluation
    assert "monitoring.coreos.com" not in evaluation


def test_topology_spread_gets_the_component_selector_when_none_is_given(helm):
    docs = render(helm, "-f", str(PRODUCTION), *MONITORING)
    spec = one(docs, "Deployment", "cicd-ci-cd-monitor")["spec"]["template"]["spec"]
    (tsc,) = spec["topologySpreadConstraints"]
    assert tsc["topologyKey"] == "topology.kubernetes.io/zone"
    assert tsc["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "backend"
