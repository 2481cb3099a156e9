"""The Helm chart (helm/hookd) and the container image's recipe (deploy/Dockerfile).

No Kafka, no Redis, no cluster: helm lints the chart and renders it (`helm template`) with the
defaults, with each helm/hookd/ci/*.yaml and with values made here; every rendered object is
validated against the Kubernetes schemas (kubernetes-validate, strict), and the tests check what
reaches the worker's container. helm comes from deploy/local/setup ($HOOKD_CACHE/bin/helm).
The alert rules (deploy/prometheus/alerts.yaml, and the chart's PrometheusRule, which must hold
the same) are checked and unit-tested with promtool, from the Debian package prometheus that
deploy/local/setup installs.

Over 700 lines on purpose: one test per operator-facing promise of the chart, each rendering and
validating its own values; they share the render and schema helpers at the top.
"""
import base64
import copy
import fnmatch
import functools
import glob
import importlib.util
import ipaddress
import json
import os
import re
import shutil
import subprocess
import tempfile

import kubernetes_validate
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHART = os.path.join(ROOT, "helm", "hookd")
CI_VALUES = sorted(glob.glob(os.path.join(CHART, "ci", "*.yaml")))
# The README's configuration table carries the contract's (and the settings added since); the
# contract itself lives outside the repository, where a fresh clone cannot see it.
CONFIG_TABLE = os.path.join(ROOT, "README.md")
BUILD = os.environ.get("HOOKD_BUILD_DIR", os.path.join(ROOT, "build"))
RELEASE = "rel"
NAMESPACE = "hookd"
FULLNAME = "rel-hookd"
INGRESS_NAME = "rel-hookd-ingress"
# A version kubernetes-validate bundles and the chart supports (Chart.yaml: >=1.25).
KUBE_VERSION = "1.30.0"
# CRDs, which kubernetes-validate has no schema for: checked by hand below.
CRD_KINDS = {"ScaledObject": "keda.sh/v1alpha1", "TriggerAuthentication": "keda.sh/v1alpha1",
             "ServiceMonitor": "monitoring.coreos.com/v1", "PrometheusRule": "monitoring.coreos.com/v1"}
# HOOKD_TOPIC_PREFIX: the chart sets it (kafka.topicPrefix), and core/config.c reads it.
TOPIC_PREFIX_ENV = "HOOKD_TOPIC_PREFIX"
ALERTS = os.path.join(ROOT, "deploy", "prometheus", "alerts.yaml")
OPERATIONS = os.path.join(ROOT, "docs", "operations.md")
SEVERITIES = {"critical", "warning", "info"}
PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"]
SECRET_ENV = {"HOOKD_API_TOKEN", "HOOKD_REDIS_PASSWORD", "HOOKD_KAFKA_SASL_PASSWORD"}


def find_helm():
    cache = os.environ.get("HOOKD_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hookd")
    for candidate in (os.path.join(cache, "bin", "helm"), shutil.which("helm")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


HELM = find_helm()


@pytest.fixture(scope="module", autouse=True)
def helm_present():
    if not HELM:
        pytest.fail("helm is missing: deploy/local/setup builds it into $HOOKD_CACHE/bin/helm "
                    "(~/.cache/hookd/bin/helm)")


@pytest.fixture(scope="module")
def promtool():
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool is missing: deploy/local/setup installs it with the Debian package "
                    "prometheus (deploy/packages/dev)")
    return path


class RenderError(Exception):
    pass


@functools.lru_cache(maxsize=None)
def _render(args):
    proc = subprocess.run([HELM, "template", RELEASE, CHART, "--namespace", NAMESPACE,
                           "--kube-version", KUBE_VERSION, *args],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RenderError(proc.stderr.strip())
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    # Every render a test makes, not only the defaults and ci/*.yaml, must deploy: each object
    # but the CRDs (check_crd) passes the strict Kubernetes schema.
    for doc in docs:
        if doc["kind"] not in CRD_KINDS:
            validate_strict(doc, f"helm template {' '.join(args)}")
    return docs


def validate_strict(doc, context):
    where = f"{context}: {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        pytest.fail(f"{where}: {e.message} at {'/'.join(map(str, e.path))}")
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as e:
        pytest.fail(f"{where}: no Kubernetes {KUBE_VERSION} schema: {e}")


def render(*args, values=None):
    """The rendered objects for these helm arguments (and a values mapping, if given)."""
    args = list(args)
    if values is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump(values, f)
        try:
            return copy.deepcopy(_render(tuple(args + ["-f", f.name])))
        finally:
            os.unlink(f.name)
    return copy.deepcopy(_render(tuple(args)))


def render_error(*args, values=None):
    with pytest.raises(RenderError) as e:
        render(*args, values=values)
    return str(e.value)


def objects(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind):
    found = objects(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def container(docs):
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == "hookd")


def config(docs):
    return one(docs, "ConfigMap")["data"]


def secret_data(docs):
    return {k: base64.b64decode(v).decode() for k, v in (one(docs, "Secret").get("data") or {}).items()}


def env(docs):
    """The worker container's environment: name -> value, or ("secret", name, key), or
    ("field", path). The ConfigMap's entries come in through envFrom."""
    c = container(docs)
    out = {}
    assert [e["configMapRef"]["name"] for e in c["envFrom"]] == [FULLNAME]
    out.update(config(docs))
    for e in c.get("env", []):
        if "value" in e:
            out[e["name"]] = e["value"]
        elif "secretKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["secretKeyRef"]
            out[e["name"]] = ("secret", ref["name"], ref["key"])
        elif "fieldRef" in e.get("valueFrom", {}):
            out[e["name"]] = ("field", e["valueFrom"]["fieldRef"]["fieldPath"])
    return out


def chart_yaml():
    with open(os.path.join(CHART, "Chart.yaml")) as f:
        return yaml.safe_load(f)


# ----------------------------------------------------------------------------- lint, schemas --


@pytest.mark.parametrize("values", [None] + CI_VALUES,
                         ids=["defaults"] + [os.path.basename(p) for p in CI_VALUES])
def test_lint_strict(values):
    args = [HELM, "lint", "--strict", CHART] + (["-f", values] if values else [])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


def test_ci_values_cover_the_optional_parts():
    names = {os.path.basename(p) for p in CI_VALUES}
    assert {"keda-values.yaml", "hpa-values.yaml", "existing-secret-values.yaml",
            "servicemonitor-values.yaml", "prometheusrule-values.yaml"} <= names
    kinds = {d["kind"] for p in CI_VALUES for d in render("-f", p)}
    assert {"ScaledObject", "HorizontalPodAutoscaler", "ServiceMonitor", "PrometheusRule", "Job"} <= kinds


def check_crd(doc, docs):
    """What the Kubernetes schemas cannot check for the CRDs the chart renders."""
    assert doc["apiVersion"] == CRD_KINDS[doc["kind"]]
    # the workers' objects, hookd-ingress's ServiceMonitor (ingress.enabled) and the chart's
    # TriggerAuthentication for KEDA
    assert doc["metadata"]["name"] == FULLNAME or \
        (doc["kind"] == "ServiceMonitor" and doc["metadata"]["name"] == INGRESS_NAME) or \
        (doc["kind"] == "TriggerAuthentication" and doc["metadata"]["name"] == f"{FULLNAME}-keda")
    if doc["kind"] == "TriggerAuthentication":
        spec = doc["spec"]
        assert set(spec) <= {"env", "secretTargetRef"} and spec
        for ref in spec.get("secretTargetRef", []):
            assert set(ref) == {"parameter", "name", "key"} and all(ref.values()), ref
        for ref in spec.get("env", []):
            assert ref["containerName"] == "hookd" and ref in (
                {"parameter": "username", "name": "HOOKD_KAFKA_SASL_USERNAME", "containerName": "hookd"},
                {"parameter": "password", "name": "HOOKD_KAFKA_SASL_PASSWORD", "containerName": "hookd"})
        # every trigger of the ScaledObject uses it
        for t in one(docs, "ScaledObject")["spec"]["triggers"]:
            assert t["authenticationRef"] == {"name": doc["metadata"]["name"], "kind": "TriggerAuthentication"}
    elif doc["kind"] == "ScaledObject":
        spec = doc["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": FULLNAME}
        assert FULLNAME in [d["metadata"]["name"] for d in objects(docs, "Deployment")]
        assert isinstance(spec["minReplicaCount"], int) and isinstance(spec["maxReplicaCount"], int)
        assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        assert spec["triggers"]
        for t in spec["triggers"]:
            assert t["type"] == "kafka"
            meta = t["metadata"]
            assert {"bootstrapServers", "consumerGroup", "topic", "lagThreshold"} <= set(meta)
            # KEDA takes trigger metadata as strings only
            assert all(isinstance(v, str) for v in meta.values()), meta
            assert int(meta["lagThreshold"]) >= 1
        # KEDA uses trigger names in its metrics and formulas: one each
        assert len({t["name"] for t in spec["triggers"]}) == len(spec["triggers"])
    elif doc["kind"] == "PrometheusRule":
        check_rule_groups(doc["spec"])
    else:
        spec = doc["spec"]
        # the one Service it selects (the workers', or hookd-ingress's)
        selected = [s for s in objects(docs, "Service")
                    if spec["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
        assert len(selected) == 1, [s["metadata"]["name"] for s in selected]
        service = selected[0]
        assert service["metadata"]["name"] == doc["metadata"]["name"]
        assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        assert [e["port"] for e in spec["endpoints"]] == ["http"]
        assert spec["endpoints"][0]["path"] == "/metrics"
        assert [p["name"] for p in service["spec"]["ports"]] == ["http"]


@pytest.mark.parametrize("values", [None] + CI_VALUES,
                         ids=["defaults"] + [os.path.basename(p) for p in CI_VALUES])
def test_rendered_objects_validate_against_kubernetes_schemas(values):
    docs = render(*(["-f", values] if values else []))
    assert docs
    for doc in docs:
        where = f"{doc.get('kind')} {doc.get('metadata', {}).get('name')}"
        if doc["kind"] in CRD_KINDS:
            check_crd(doc, docs)
            continue
        validate_strict(doc, os.path.basename(values) if values else "defaults")
        # the standard labels, on every object
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "hookd", where
        assert labels["app.kubernetes.io/instance"] == RELEASE, where
        assert labels["app.kubernetes.io/managed-by"] == "Helm", where
        assert labels["helm.sh/chart"] == f"hookd-{chart_yaml()['version']}", where
        assert labels["app.kubernetes.io/version"], where
        assert doc["metadata"]["namespace"] == NAMESPACE, where


def test_the_validation_catches_an_invalid_object():
    # the strict schema check above is not a no-op
    deployment = one(render(), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["evnFrom"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


def test_values_schema_refuses_bad_values():
    assert "logLevel" in render_error("--set", "logLevel=verbose")
    assert "threads" in render_error("--set", "threads=0")
    assert "partitions" in render_error("--set", "kafka.partitions=0")
    assert "retryDelays" in render_error("--set", "retryDelays=5s")  # no such value
    assert "delays" in render_error("--set", "retry.delays={5 seconds}")
    assert "token" in render_error("--set", "api.token=short")
    assert "bogus" in render_error(values={"kafka": {"bogus": 1}})
    assert "resources" in render_error(values={"resources": {"request": {"cpu": 1}}})


def test_names_are_trimmed_to_63_characters():
    release = "a-release-name-that-is-long-enough-to-push-every-name-past-the-limit"[:53]
    proc = subprocess.run([HELM, "template", release, CHART, "--kube-version", KUBE_VERSION,
                           "--set", "topicsJob.enabled=true", "--set", "kafka.saslPassword=x"],
                          capture_output=True, text=True, timeout=60, check=True)
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    names = [d["metadata"]["name"] for d in docs]
    assert all(len(n) <= 63 and not n.endswith("-") for n in names), names
    assert len(set((d["kind"], d["metadata"]["name"]) for d in docs)) == len(docs)
    for d in docs:
        assert all(len(str(v)) <= 63 for v in d["metadata"]["labels"].values())


# ------------------------------------------------------------------ settings and environment --


def contract_settings():
    """The HOOKD_* names of the configuration table (README.md, from the contract's)."""
    with open(CONFIG_TABLE) as f:
        text = f.read()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        m = re.match(r"\|\s*`(HOOKD_[A-Z_<>]+)`", line)
        if m:
            names.add(m.group(1))
    assert len(names) >= 14, names
    return names


def help_settings():
    hookd = os.path.join(BUILD, "cmd", "hookd")
    if not os.access(hookd, os.X_OK):
        return set()
    out = subprocess.run([hookd, "--help"], capture_output=True, text=True, timeout=10).stdout
    return set(re.findall(r"^\s+(HOOKD_[A-Z_<>]+)\s", out, re.M))


ALL_SECRETS = ["--set", "api.token=an-api-token-0123456789", "--set", "redis.password=redis-pw",
               "--set", "delivery.httpProxy=http://proxy.internal:3128",
               "--set", "kafka.saslPassword=sasl-pw",
               "--set", "kafka.config.security\\.protocol=SASL_SSL"]


def test_every_contract_setting_is_reachable_from_the_values():
    # the defaults, plus the secrets (unset by default: an unset HOOKD_API_TOKEN is the admin
    # API off) and one librdkafka property
    docs = render(*ALL_SECRETS)
    configured = set(config(docs)) | set(secret_data(docs))
    names = contract_settings() | help_settings()
    for name in sorted(names):
        if name == "HOOKD_KAFKA_<PROPERTY>":
            assert "HOOKD_KAFKA_SECURITY_PROTOCOL" in configured
        elif name.startswith("HOOKD_INGRESS_"):
            # hookd-ingress's own (the contract's Inbound part): its Deployment sets them
            assert name in ingress_env(render(*INGRESS_ON)), f"{name} is not set by the chart"
        else:
            assert name in configured, f"{name} is not set by the chart"
    # and the chart sets nothing hookd does not read (a typo would be silently ignored)
    known = names | {"HOOKD_SHUTDOWN_GRACE_MS", TOPIC_PREFIX_ENV}
    for name in env(docs):
        assert name in known or name.startswith("HOOKD_KAFKA_"), name


def test_default_settings_match_the_worker_defaults():
    data = config(render())
    assert data["HOOKD_TOPICS"] == "job-events"
    assert data["HOOKD_KAFKA_GROUP_ID"] == "hookd"
    assert data["HOOKD_REDIS_PREFIX"] == "hookd:"
    assert data["HOOKD_RETRY_DELAYS"] == "5s,5m,30m,2h,5h,10h"
    assert data["HOOKD_RETRY_MAX_ATTEMPTS"] == "8"
    assert data["HOOKD_HTTP_TIMEOUT_MS"] == "30000"
    assert data["HOOKD_MAX_INFLIGHT"] == "1024"
    assert data["HOOKD_MAX_INFLIGHT_PER_HOST"] == "32"
    assert data["HOOKD_MAX_QUEUE_PER_HOST"] == "256"
    assert data["HOOKD_MAX_WEBHOOKS_PER_FLOW"] == "50"
    assert data["HOOKD_ALLOW_NETWORKS"] == ""
    assert data["HOOKD_LISTEN"] == "0.0.0.0:8080"
    assert data["HOOKD_MAX_BODY_BYTES"] == "1048576"
    assert data["HOOKD_HISTORY_BODIES"] == "on"
    assert config(render("--set", "delivery.historyBodies=false"))["HOOKD_HISTORY_BODIES"] == "off"
    assert data["HOOKD_LOG_LEVEL"] == "info"
    assert data["HOOKD_THREADS"] == "1"
    assert data["HOOKD_TOPIC_PARTITIONS"] == "12"  # kafka.partitions
    assert data["HOOKD_TOPIC_REPLICATION"] == "-1"
    assert all(isinstance(v, str) for v in data.values())


def test_values_reach_the_container_environment():
    e = env(render("--set", "retry.delays={1s,2s}", "--set", "allowNetworks={10.1.0.0/16,192.168.7.7}",
                   "--set", "kafka.topics={job-events,orchestration-events}",
                   "--set", "delivery.maxQueuePerHost=1000000", "--set", "threads=4",
                   "--set", "kafka.topicPartitions=-1", "--set", "logLevel=debug"))
    assert e["HOOKD_RETRY_DELAYS"] == "1s,2s"
    assert e["HOOKD_ALLOW_NETWORKS"] == "10.1.0.0/16,192.168.7.7"
    assert e["HOOKD_TOPICS"] == "job-events,orchestration-events"
    assert e["HOOKD_MAX_QUEUE_PER_HOST"] == "1000000"
    assert e["HOOKD_THREADS"] == "4"
    assert e["HOOKD_TOPIC_PARTITIONS"] == "-1"
    assert e["HOOKD_LOG_LEVEL"] == "debug"


def test_kafka_config_properties_arrive_as_hookd_kafka_variables():
    values = {"kafka": {"config": {"security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512",
                                   "message.max.bytes": 2000000, "enable.ssl.certificate.verification": False}}}
    e = env(render(values=values))
    assert e["HOOKD_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert e["HOOKD_KAFKA_SASL_MECHANISMS"] == "SCRAM-SHA-512"
    assert e["HOOKD_KAFKA_MESSAGE_MAX_BYTES"] == "2000000"  # not 2e+06
    assert e["HOOKD_KAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION"] == "false"
    # hookd reads "_" as "." (the contract): the name maps back to the property
    assert "HOOKD_KAFKA_SECURITY_PROTOCOL"[len("HOOKD_KAFKA_"):].lower().replace("_", ".") == "security.protocol"


def test_secret_values_are_in_the_secret_and_not_in_the_configmap():
    values = {"api": {"token": "api-token-0123456789abcdef"}, "redis": {"password": "redis-pw-4242"},
              "kafka": {"saslPassword": "sasl-pw-4343", "secretConfig": {"ssl.key.password": "key-pw-4444"}}}
    docs = render(values=values)
    assert secret_data(docs) == {"HOOKD_API_TOKEN": "api-token-0123456789abcdef",
                                 "HOOKD_REDIS_PASSWORD": "redis-pw-4242",
                                 "HOOKD_KAFKA_SASL_PASSWORD": "sasl-pw-4343",
                                 "HOOKD_KAFKA_SSL_KEY_PASSWORD": "key-pw-4444"}
    cm = json.dumps(one(docs, "ConfigMap"))
    deployment = json.dumps(one(docs, "Deployment"))
    for secret in ("api-token-0123456789abcdef", "redis-pw-4242", "sasl-pw-4343", "key-pw-4444"):
        assert secret not in cm and secret not in deployment
        assert base64.b64encode(secret.encode()).decode() not in cm
    assert not SECRET_ENV & set(config(docs))
    e = env(docs)
    for name in SECRET_ENV | {"HOOKD_KAFKA_SSL_KEY_PASSWORD"}:
        assert e[name] == ("secret", FULLNAME, name)


def test_unset_secrets_are_left_out():
    docs = render()
    assert secret_data(docs) == {}
    assert not SECRET_ENV & set(env(docs))  # no HOOKD_API_TOKEN: the admin API stays off


def test_the_chart_refuses_secrets_in_the_configmap():
    assert "kafka.config.sasl.password" in render_error(values={"kafka": {"config": {"sasl.password": "x"}}})
    assert "secret" in render_error(values={"kafka": {"config": {"sasl.oauthbearer.client.secret": "x"}}})
    assert "redis.password" in render_error("--set", "redis.url=redis://:hunter2@redis:6379/0")
    assert "kafka.groupId" in render_error(values={"kafka": {"config": {"group.id": "x"}}})


def test_existing_secret_renders_no_secret_and_is_referenced():
    docs = render("--set", "existingSecret=from-vault", "--set", "existingSecretKeys.apiToken=token",
                  "--set", "existingSecretKeys.redisPassword=", "--set", "api.token=ignored-0123456789ab",
                  "--set", "kafka.config.security\\.protocol=SASL_SSL")
    assert not objects(docs, "Secret")
    e = env(docs)
    assert e["HOOKD_API_TOKEN"] == ("secret", "from-vault", "token")
    assert e["HOOKD_KAFKA_SASL_PASSWORD"] == ("secret", "from-vault", "HOOKD_KAFKA_SASL_PASSWORD")
    assert "HOOKD_REDIS_PASSWORD" not in e  # an empty key name skips it
    assert "HOOKD_HTTP_PROXY" not in e  # no proxy key unless one is named
    # no reference is optional: a key the Secret lacks (a typo) stops the pod, rather than
    # starting it without the credential
    c = container(docs)
    refs = [x["valueFrom"]["secretKeyRef"] for x in c["env"] if "secretKeyRef" in x.get("valueFrom", {})]
    assert len(refs) == 2 and not any("optional" in ref for ref in refs)
    # the SASL password is read only when Kafka uses SASL
    assert "HOOKD_KAFKA_SASL_PASSWORD" not in env(render("--set", "existingSecret=from-vault"))
    annotations = one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/secret" not in annotations and "checksum/config" in annotations
    assert "ignored-0123456789ab" not in json.dumps(docs)


def test_static_membership_takes_the_pod_name():
    assert "HOOKD_KAFKA_GROUP_INSTANCE_ID" not in env(render())
    e = env(render("--set", "kafka.staticMembership=true"))
    assert e["HOOKD_KAFKA_GROUP_INSTANCE_ID"] == ("field", "metadata.name")


def test_shutdown_grace_and_termination_grace():
    docs = render()
    assert config(docs)["HOOKD_SHUTDOWN_GRACE_MS"] == "20000"
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 30
    docs = render("--set", "shutdown.graceSeconds=45")
    assert config(docs)["HOOKD_SHUTDOWN_GRACE_MS"] == "45000"
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 55
    docs = render("--set", "terminationGracePeriodSeconds=120")
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 120
    assert "terminationGracePeriodSeconds" in render_error("--set", "terminationGracePeriodSeconds=20")


def test_checksum_annotations_follow_the_settings():
    def checksums(*args):
        return one(render(*args), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    base = checksums()
    assert re.fullmatch(r"[0-9a-f]{64}", base["checksum/config"])
    assert checksums() == base
    changed = checksums("--set", "logLevel=debug")
    assert changed["checksum/config"] != base["checksum/config"]
    assert changed["checksum/secret"] == base["checksum/secret"]
    changed = checksums("--set", "redis.password=another")
    assert changed["checksum/secret"] != base["checksum/secret"]
    assert changed["checksum/config"] == base["checksum/config"]


# -------------------------------------------------------------------------------- the pod --


def test_security_context_is_hardened_by_default():
    docs = render("--set", "topicsJob.enabled=true")
    pods = [one(docs, "Deployment")["spec"]["template"]["spec"], one(docs, "Job")["spec"]["template"]["spec"],
            one(docs, "Pod")["spec"]]
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True
            assert sc["runAsUser"] == 10001 and sc["runAsGroup"] == 10001
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            assert c["resources"]["requests"] and c["resources"]["limits"]


def test_worker_container():
    docs = render()
    c = container(docs)
    assert c["image"] == f"ghcr.io/hookd/hookd:{chart_yaml()['appVersion']}"
    assert "args" not in c and "command" not in c  # the image's entrypoint: hookd, no arguments
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                          {"name": "probes", "containerPort": 8081, "protocol": "TCP"}]
    # the kubelet's probes on a listener of their own, which API clients cannot starve
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "probes"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes"}
    assert config(docs)["HOOKD_LISTEN"] == "0.0.0.0:8080"
    assert config(docs)["HOOKD_PROBE_LISTEN"] == "0.0.0.0:8081"
    service = one(docs, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    pod = one(docs, "Deployment")["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert pod["spec"]["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]
    assert one(docs, "ServiceAccount")["automountServiceAccountToken"] is False
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert container(render("--set", "image.tag=1.2.3"))["image"] == "ghcr.io/hookd/hookd:1.2.3"


def test_the_job_and_test_pods_are_not_behind_the_service():
    docs = render("--set", "topicsJob.enabled=true")
    selector = one(docs, "Service")["spec"]["selector"]
    for labels in (one(docs, "Job")["spec"]["template"]["metadata"]["labels"],
                   one(docs, "Pod")["metadata"]["labels"]):
        assert not selector.items() <= labels.items()


def test_helm_test_pod_checks_readyz():
    pod = one(render(), "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    command = " ".join(pod["spec"]["containers"][0]["command"])
    assert f"http://{FULLNAME}.{NAMESPACE}.svc:8080/readyz" in command
    assert pod["spec"]["restartPolicy"] == "Never"


# ---------------------------------------------------------------------------- autoscaling --


def test_replicas_only_without_autoscaling():
    assert one(render(), "Deployment")["spec"]["replicas"] == 2
    assert not objects(render(), "HorizontalPodAutoscaler") and not objects(render(), "ScaledObject")
    for flag in ("autoscaling.hpa.enabled=true", "autoscaling.keda.enabled=true"):
        assert "replicas" not in one(render("--set", flag), "Deployment")["spec"]


def test_keda_and_hpa_are_mutually_exclusive():
    message = render_error("--set", "autoscaling.hpa.enabled=true", "--set", "autoscaling.keda.enabled=true")
    assert "mutually exclusive" in message


@pytest.mark.parametrize("partitions,asked,expected", [(6, 20, 6), (50, 20, 20), (12, 12, 12)])
def test_autoscalers_are_capped_at_the_partitions(partitions, asked, expected):
    hpa = one(render("--set", "autoscaling.hpa.enabled=true", "--set", f"autoscaling.hpa.maxReplicas={asked}",
                     "--set", f"kafka.partitions={partitions}"), "HorizontalPodAutoscaler")
    assert hpa["spec"]["maxReplicas"] == expected
    assert hpa["spec"]["minReplicas"] <= expected
    assert hpa["spec"]["scaleTargetRef"]["name"] == FULLNAME
    keda = one(render("--set", "autoscaling.keda.enabled=true", "--set", f"autoscaling.keda.maxReplicaCount={asked}",
                      "--set", f"kafka.partitions={partitions}"), "ScaledObject")
    assert keda["spec"]["maxReplicaCount"] == expected
    # the minimum never exceeds the capped maximum
    keda = one(render("--set", "autoscaling.keda.enabled=true", "--set", "autoscaling.keda.minReplicaCount=10",
                      "--set", "kafka.partitions=4"), "ScaledObject")
    assert keda["spec"]["minReplicaCount"] == 4 and keda["spec"]["maxReplicaCount"] == 4


def test_hpa_scales_on_cpu():
    hpa = one(render("--set", "autoscaling.hpa.enabled=true"), "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}


def test_keda_triggers_follow_the_topics_and_the_tier_groups():
    docs = render("--set", "autoscaling.keda.enabled=true", "--set", "kafka.groupId=g1",
                  "--set", "kafka.topics={a,b}", "--set", "retry.delays={1s,1m,1h}",
                  "--set", "autoscaling.keda.lagThreshold=50", "--set", "kafka.bootstrapServers=k:9092")
    triggers = one(docs, "ScaledObject")["spec"]["triggers"]
    got = [(t["metadata"]["topic"], t["metadata"]["consumerGroup"]) for t in triggers]
    assert got == [("a", "g1"), ("b", "g1"), ("hookd.retry.1s", "g1.retry.1s"),
                   ("hookd.retry.1m", "g1.retry.1m"), ("hookd.retry.1h", "g1.retry.1h")]
    assert all(t["metadata"]["bootstrapServers"] == "k:9092" for t in triggers)
    assert triggers[0]["metadata"]["lagThreshold"] == "50"
    assert all(t["metadata"].get("excludePersistentLag") == "true" for t in triggers[2:])
    assert len({t["name"] for t in triggers}) == len(triggers)
    # tiers can be limited to some, or left out
    triggers = one(render("--set", "autoscaling.keda.enabled=true",
                          "--set", "autoscaling.keda.retryTiers.delays={5s}"), "ScaledObject")["spec"]["triggers"]
    assert [t["metadata"]["topic"] for t in triggers] == ["job-events", "hookd.retry.5s"]
    triggers = one(render("--set", "autoscaling.keda.enabled=true",
                          "--set", "autoscaling.keda.retryTiers.enabled=false"), "ScaledObject")["spec"]["triggers"]
    assert [t["metadata"]["topic"] for t in triggers] == ["job-events"]
    assert "retry.delays" in render_error("--set", "autoscaling.keda.enabled=true",
                                          "--set", "autoscaling.keda.retryTiers.delays={7s}")


# ------------------------------------------------------------------ metrics, network, topics --


def test_service_monitor_only_when_enabled():
    assert not objects(render(), "ServiceMonitor")
    sm = one(render("--set", "metrics.serviceMonitor.enabled=true", "--set",
                    "metrics.serviceMonitor.labels.release=prom"), "ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["metadata"]["labels"]["release"] == "prom"
    assert sm["spec"]["endpoints"][0]["port"] == "http" and sm["spec"]["endpoints"][0]["path"] == "/metrics"


# ---------------------------------------------------------------------------- alert rules --


def load_alerts():
    with open(ALERTS) as f:
        return yaml.safe_load(f)


def check_rule_groups(spec):
    """What a rules file (or a PrometheusRule's spec) must hold beyond promtool's syntax check."""
    assert set(spec) == {"groups"} and spec["groups"]
    for group in spec["groups"]:
        assert group["name"] and group["rules"]
        for rule in group["rules"]:
            assert ("alert" in rule) != ("record" in rule), rule
            assert isinstance(rule["expr"], str) and rule["expr"].strip()
            if "alert" in rule:
                assert re.fullmatch(r"Hookd[A-Z][A-Za-z]+", rule["alert"]), rule["alert"]
                assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
                assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
                assert all(isinstance(v, str) for v in rule["annotations"].values())
                # every alert holds a while before it fires: one increment (a disabled task,
                # a dropped history record) or one missed scrape must not page by itself
                assert "for" in rule, f"{rule['alert']} has no for:"
                assert re.fullmatch(r"([0-9]+(ms|s|m|h|d|w|y))+", rule["for"]), rule["alert"]
                assert rule["for"] not in ("0s", "0m"), rule["alert"]
                # a runbook per alert, at a section of docs/operations.md's "Runbooks"
                url = rule["annotations"].get("runbook_url", "")
                assert url.startswith(RUNBOOK_BASE + "#"), (rule["alert"], url)
                assert url.split("#", 1)[1] in runbook_anchors(), (rule["alert"], url)


RUNBOOK_BASE = "https://github.com/hookd/hookd/blob/main/docs/operations.md"
CHART_ALERTS = os.path.join(CHART, "files", "alerts.yaml")


def runbook_anchors():
    """GitHub's anchors of the headings under docs/operations.md's "## Runbooks"."""
    with open(OPERATIONS) as f:
        section = f.read().split("\n## Runbooks\n", 1)[1].split("\n## ", 1)[0]
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
            for h in re.findall(r"^### (.+)$", section, re.M)}


def prometheus_rule(*args, values=None):
    return one(render("--set", "prometheusRule.enabled=true", *args, values=values), "PrometheusRule")


def test_prometheus_rule_only_when_enabled():
    assert not objects(render(), "PrometheusRule")
    rule = prometheus_rule()
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["name"] == FULLNAME
    assert rule["metadata"]["namespace"] == NAMESPACE
    assert [g["name"] for g in rule["spec"]["groups"]] == ["hookd"]
    rule = prometheus_rule("--set", "prometheusRule.namespace=monitoring",
                           "--set", "prometheusRule.additionalLabels.release=prom")
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "prom"
    assert rule["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
    # rules given replace the defaults whole (Helm replaces lists)
    mine = [{"alert": "HookdMine", "expr": "hookd_ready == 0", "for": "1m",
             "labels": {"severity": "info"}, "annotations": {"summary": "s", "description": "d"}},
            {"record": "hookd:deliveries:rate5m", "expr": "sum(rate(hookd_deliveries_total[5m]))"}]
    rule = prometheus_rule(values={"prometheusRule": {"rules": mine}})
    assert rule["spec"]["groups"][0]["rules"] == mine
    # the defaults, scoped by a selector of one's own, some left out, the runbooks elsewhere
    rule = prometheus_rule("--set", 'prometheusRule.selector=namespace="hookd"\\,service="rel-hookd"',
                           "--set", "prometheusRule.disabledAlerts={HookdWorkersAbsent,HookdRedisDown}",
                           "--set", "prometheusRule.runbookBaseUrl=https://wiki.example/hookd/")
    rules = rule["spec"]["groups"][0]["rules"]
    names = [r["alert"] for r in rules]
    assert "HookdWorkersAbsent" not in names and "HookdRedisDown" not in names
    assert len(names) == len(load_alerts()["groups"][0]["rules"]) - 2
    for r in rules:
        assert 'namespace="hookd",service="rel-hookd"' in r["expr"] and 'job="hookd"' not in r["expr"]
        assert r["annotations"]["runbook_url"].startswith("https://wiki.example/hookd#hookd")
    # every default left out and no rules of one's own, and rules that are not rules, are refused
    every = [r["alert"] for r in load_alerts()["groups"][0]["rules"]]
    assert "prometheusRule.disabledAlerts" in render_error(
        values={"prometheusRule": {"enabled": True, "disabledAlerts": every}})
    assert "selector" in render_error(values={"prometheusRule": {"selector": "job=hookd"}})
    assert "expr" in render_error(values={"prometheusRule": {"rules": [{"alert": "X"}]}})
    assert "for" in render_error(values={"prometheusRule": {"rules": [{"alert": "X", "expr": "up",
                                                                       "for": "5 minutes"}]}})
    assert "expression" in render_error(values={"prometheusRule": {"rules": [{"alert": "X", "expr": "up",
                                                                              "expression": "up"}]}})


def test_prometheus_rule_holds_the_rules_of_alerts_yaml():
    # deploy/prometheus/alerts.yaml, for Prometheus without the Operator, and the chart's default
    # prometheusRule.rules are the same list: a change to one must be made to the other
    # prometheusRule.rules is empty: the chart's files/alerts.yaml, each job="hookd" matcher
    # scoped to the release's namespace and job (the ServiceMonitor's job label is the chart's
    # name)
    alerts = load_alerts()
    check_rule_groups(alerts)
    assert [g["name"] for g in alerts["groups"]] == ["hookd"]
    with open(CHART_ALERTS) as f:
        assert yaml.safe_load(f) == alerts["groups"][0]["rules"], \
            "helm/hookd/files/alerts.yaml != deploy/prometheus/alerts.yaml's rules"
    rendered = prometheus_rule()["spec"]
    check_rule_groups(rendered)
    scoped = json.loads(json.dumps(alerts).replace('job=\\"hookd\\"', 'namespace=\\"hookd\\",job=\\"hookd\\"'))
    assert rendered == scoped
    # every selector of every default rule carries the release's matchers
    for r in rendered["groups"][0]["rules"]:
        selectors = re.findall(r"\bhookd_[a-z_]+(\{[^}]*\})?", r["expr"])
        assert selectors and all(s.startswith('{namespace="hookd",job="hookd"') for s in selectors), r
    with open(os.path.join(CHART, "values.yaml")) as f:
        assert yaml.safe_load(f)["prometheusRule"]["rules"] == []


def run_promtool(promtool, *args):
    proc = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_promtool_checks_the_alert_rules(promtool, tmp_path):
    out = run_promtool(promtool, "check", "rules", ALERTS)
    assert f"SUCCESS: {len(load_alerts()['groups'][0]['rules'])} rules found" in out
    # and the PrometheusRule as each ci file renders it
    for path in CI_VALUES:
        for doc in objects(render("-f", path), "PrometheusRule"):
            rules = tmp_path / f"{os.path.basename(path)}.rules.yaml"
            rules.write_text(yaml.safe_dump(doc["spec"]))
            run_promtool(promtool, "check", "rules", str(rules))


# promtool unit tests of the alerts' expressions: input series, and the alerts expected at a time
# (labels only: the annotations are the rules file's prose, left out here).
POD = 'namespace="hookd", job="hookd", pod="{pod}", instance="{ip}:8080"'


def series(metric, pod="a", **labels):
    ip = {"a": "10.1.0.1", "b": "10.1.0.2"}[pod]
    extra = "".join(f', {k}="{v}"' for k, v in labels.items())
    return f"{metric}{{{POD.format(pod=pod, ip=ip)}{extra}}}"


ALERT_CASES = [
    # (name, input series {series: values}, [(eval time, alert, [expected alert labels])])
    ("dead letters: one reason over 100 an hour; poison has its own alert", {
        series("hookd_dlq_records_total", reason="attempts_exhausted"): "0+5x120",
        series("hookd_dlq_records_total", reason="poison"): "0+5x120",
        series("hookd_dlq_records_total", reason="task_deleted"): "0+1x120",
    }, [("90m", "HookdDeadLettersGrowing", [{"reason": "attempts_exhausted", "severity": "warning"}])]),
    ("lag over 10000 on the input topic; a tier's lag does not count", {
        series("hookd_kafka_consumer_lag", topic="job-events", partition="0"): "6000x30",
        series("hookd_kafka_consumer_lag", pod="b", topic="job-events", partition="1"): "6000x30",
        series("hookd_kafka_consumer_lag", topic="hookd.retry.5m", partition="0"): "90000x30",
        series("hookd_kafka_consumer_lag", topic="staging.retry.30s", partition="0"): "90000x30",
    }, [("20m", "HookdConsumerLagHigh", [{"topic": "job-events", "severity": "warning"}])]),
    ("a partition two pods report during a rebalance counts once", {
        series("hookd_kafka_consumer_lag", topic="job-events", partition="0"): "6000x30",
        series("hookd_kafka_consumer_lag", pod="b", topic="job-events", partition="0"): "6000x30",
        series("hookd_kafka_consumer_lag", pod="b", topic="job-events", partition="1"): "3000x30",
    }, [("20m", "HookdConsumerLagHigh", [])]),
    ("lag growing on the input topic, not on a tier", {
        series("hookd_kafka_consumer_lag", topic="job-events", partition="0"): "0+100x60",
        series("hookd_kafka_consumer_lag", topic="hookd.retry.5s", partition="0"): "0+100x60",
    }, [("40m", "HookdConsumerLagGrowing", [{"topic": "job-events", "severity": "warning"}])]),
    ("a steady lag is not growing", {
        series("hookd_kafka_consumer_lag", topic="job-events", partition="0"): "5000x60",
    }, [("40m", "HookdConsumerLagGrowing", [])]),
    ("no worker scraped for 10 minutes", {
        series("hookd_build_info", version="0.1.0"): "1x5",
    }, [("8m", "HookdWorkersAbsent", []),
        ("25m", "HookdWorkersAbsent", [{"namespace": None, "job": "hookd", "severity": "critical"}])]),
    ("workers of another job do not count, and do not alert", {
        series("hookd_build_info", version="0.1.0"): "1x40",
        'hookd_redis_up{namespace="hookd", job="other", pod="x"}': "0x40",
    }, [("25m", "HookdWorkersAbsent", []), ("25m", "HookdRedisDown", [])]),
    ("a task disabled by 410", {
        series("hookd_tasks_disabled_total"): "0x10 1x50",
    }, [("20m", "HookdTasksDisabled", [{"severity": "info"}])]),
    ("a poison event, then none for 15 minutes", {
        series("hookd_events_poison_total"): "0x10 1x40",
    }, [("13m", "HookdPoisonEvents", []),  # pending: one evaluation is not enough
        ("20m", "HookdPoisonEvents", [{"severity": "warning"}]), ("40m", "HookdPoisonEvents", [])]),
    ("a third of the attempts fail", {
        series("hookd_delivery_attempts_total", outcome="succeeded", status_class="2xx"): "0+60x60",
        series("hookd_delivery_attempts_total", outcome="http_error", status_class="5xx"): "0+20x60",
        series("hookd_delivery_attempts_total", pod="b", outcome="timeout", status_class="none"): "0+10x60",
    }, [("40m", "HookdDeliveryFailureRatioHigh", [{"severity": "warning"}])]),
    ("half of very few attempts fail", {
        series("hookd_delivery_attempts_total", outcome="succeeded", status_class="2xx"): "0+1x60",
        series("hookd_delivery_attempts_total", outcome="network_error", status_class="none"): "0+1x60",
    }, [("40m", "HookdDeliveryFailureRatioHigh", [])]),
    ("no worker reaches Redis", {
        series("hookd_redis_up"): "0x10",
        series("hookd_redis_up", pod="b"): "0x10",
    }, [("5m", "HookdRedisDown", [{"severity": "critical"}])]),
    ("one worker does not reach Redis: not ready, but Redis is up", {
        series("hookd_redis_up"): "0x20",
        series("hookd_redis_up", pod="b"): "1x20",
        series("hookd_ready"): "0x20",
        series("hookd_ready", pod="b"): "1x20",
    }, [("5m", "HookdRedisDown", []), ("15m", "HookdRedisDown", []),
        ("15m", "HookdWorkerNotReady", [{"pod": "a", "instance": "10.1.0.1:8080", "job": "hookd",
                                         "severity": "warning"}])]),
    ("dead letters refused for 10 minutes", {
        series("hookd_dlq_publish_errors_total", kind="dead_letter"): "0+1x30",
    }, [("20m", "HookdDeadLetterPublishErrors", [{"severity": "critical"}])]),
    ("one tier record refused once; lost outcome records do not page", {
        series("hookd_dlq_publish_errors_total", kind="retry"): "0x5 1x25",
        series("hookd_dlq_publish_errors_total", kind="outcome"): "0+1x30",
    }, [("20m", "HookdDeadLetterPublishErrors", [])]),
    ("history dropped", {
        series("hookd_history_dropped_total"): "0x5 3x10",
    }, [("12m", "HookdHistoryDropped", [{"severity": "warning"}])]),
]


def test_alerts_fire_when_they_should(promtool, tmp_path):
    alerts = load_alerts()
    for group in alerts["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(alerts))
    tests = []
    for name, inputs, expectations in ALERT_CASES:
        tests.append({
            "name": name,
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in inputs.items()],
            "alert_rule_test": [{"eval_time": at, "alertname": alert,
                                 "exp_alerts": [{"exp_labels": {k: v for k, v in
                                                                {"namespace": "hookd", **labels}.items()
                                                                if v is not None}}
                                                for labels in expected]}
                                for at, alert, expected in expectations],
        })
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"],
                                                          "evaluation_interval": "1m", "tests": tests}))
    run_promtool(promtool, "test", "rules", str(tmp_path / "tests.yaml"))
    # every alert has a case that fires it
    fired = {alert for _, _, expectations in ALERT_CASES for _, alert, expected in expectations if expected}
    assert fired == {r["alert"] for g in alerts["groups"] for r in g["rules"] if "alert" in r}


def documented_metrics():
    """The metric names of docs/operations.md's metrics table."""
    with open(OPERATIONS) as f:
        text = f.read()
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    names = {}
    for line in section.splitlines():
        m = re.match(r"\|\s*`(hookd_[a-z0-9_]+)(\{[^`]*\})?`\s*\|\s*(\w+)", line)
        if m:
            names[m.group(1)] = m.group(3)
    assert len(names) >= 30, names
    return names


def test_alert_expressions_use_documented_metrics():
    documented = documented_metrics()
    names = set(documented)
    for name, kind in documented.items():
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    with open(OPERATIONS) as f:
        guide = f.read()
    for group in load_alerts()["groups"]:
        for rule in group["rules"]:
            used = set(re.findall(r"\bhookd_[a-z0-9_]+", rule["expr"]))
            assert used, rule["expr"]
            assert used <= names, f"{rule.get('alert')}: {sorted(used - names)} not in docs/operations.md's metrics"
            # and the guide says what each alert means
            assert f"`{rule['alert']}`" in guide, f"{rule['alert']} is not explained in docs/operations.md"


def egress_rules(docs):
    return one(docs, "NetworkPolicy")["spec"]["egress"]


def test_network_policy_keeps_private_ranges_out_of_the_internet_rule():
    docs = render("--set", "networkPolicy.egress.clusterCIDRs={198.18.0.0/15}",
                  "--set", "allowNetworks={10.9.0.0/16,10.8.0.1}")
    policy = one(docs, "NetworkPolicy")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= \
        one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"].items()
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]},
                                         {"ports": [{"port": "probes", "protocol": "TCP"}]}]
    rules = egress_rules(docs)
    blocks = [peer["ipBlock"] for r in rules for peer in r.get("to", []) if "ipBlock" in peer]
    internet = [b for b in blocks if b["cidr"] == "0.0.0.0/0"]
    assert len(internet) == 1
    assert set(PRIVATE) | {"198.18.0.0/15"} <= set(internet[0]["except"])
    # no other rule opens a private or metadata range, except the allowNetworks mirror
    allowed = {b["cidr"] for b in blocks if b["cidr"] != "0.0.0.0/0"}
    assert allowed == {"10.9.0.0/16", "10.8.0.1/32"}
    metadata = ipaddress.ip_address("169.254.169.254")
    assert not any(metadata in ipaddress.ip_network(c) for c in allowed)
    # DNS, and Kafka and Redis on their ports
    ports = [{(p["port"], p["protocol"]) for p in r.get("ports", [])} for r in rules]
    assert {(53, "UDP"), (53, "TCP")} in ports
    assert {(9092, "TCP")} in ports and {(6379, "TCP")} in ports


def test_network_policy_can_be_turned_off():
    assert not objects(render("--set", "networkPolicy.enabled=false"), "NetworkPolicy")


def test_topics_job_creates_every_topic():
    assert not objects(render(), "Job")
    docs = render("--set", "topicsJob.enabled=true", "--set", "kafka.topics={job-events,orch}",
                  "--set", "retry.delays={1s,1m}", "--set", "kafka.partitions=24",
                  "--set", "kafka.topicPartitions=12", "--set", "kafka.replicationFactor=3")
    job = one(docs, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "docker.io/apache/kafka:3.9.1"
    script = c["command"][-1]
    assert "/opt/kafka/bin/kafka-topics.sh" in script and "--create --if-not-exists" in script
    created = re.findall(r"^create '?([^' ]+)'? (\S+) (\S+)$", script, re.M)
    assert created == [("job-events", "24", "3"), ("orch", "24", "3"), ("hookd.retry.1s", "12", "3"),
                       ("hookd.retry.1m", "12", "3"), ("hookd.dlq", "12", "3"), ("hookd.deliveries", "12", "3"),
                       ("hookd.events", "12", "3")]
    # the Job's own hook Secret holds its client properties, beside the chart's
    assert sorted(s["metadata"]["name"] for s in objects(docs, "Secret")) == [FULLNAME, f"{FULLNAME}-topics"]


def job_client_properties(docs):
    """The topics Job's client.properties (its hook Secret's key, mounted as a file), parsed."""
    job = one(docs, "Job")
    pod = job["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "client-config")
    hook_secret = next(s for s in objects(docs, "Secret") if s["metadata"]["name"] == volume["secret"]["secretName"])
    assert "pre-install" in hook_secret["metadata"]["annotations"]["helm.sh/hook"]
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < \
        int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "client-config")
    assert mount["readOnly"] is True
    assert f"props={mount['mountPath']}/client.properties" in pod["containers"][0]["command"][-1]
    text = base64.b64decode(hook_secret["data"]["client.properties"]).decode()
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_topics_job_keeps_its_secrets_out_of_the_job_spec():
    # the truststore's password (clientConfig) and the SASL password: in the Job's Secret, as a
    # file passed with --command-config, never in the Job's command or environment
    path = next(p for p in CI_VALUES if "topics" in os.path.basename(p))
    docs = render("-f", path)
    job = one(docs, "Job")
    c = job["spec"]["template"]["spec"]["containers"][0]
    props = job_client_properties(docs)
    assert props["security.protocol"] == "SASL_SSL" and props["sasl.mechanism"] == "SCRAM-SHA-512"
    assert props["ssl.truststore.location"] == "/etc/kafka-tls/truststore.jks"
    assert props["ssl.truststore.password"] == "s3cr3t-truststore-password"
    assert props["sasl.jaas.config"] == ("org.apache.kafka.common.security.scram.ScramLoginModule required "
                                         'username="hookd" password="s3cr3t-sasl-password";')
    spec = json.dumps(job)
    for secret in ("s3cr3t", base64.b64encode(b"s3cr3t-sasl-password").decode(),
                   base64.b64encode(b"s3cr3t-truststore-password").decode()):
        assert secret not in spec
    assert "--command-config \"$props\"" in c["command"][-1]
    assert not [e for e in c["env"] if "PASSWORD" in e["name"] or "JAAS" in e["name"]]
    # the truststore mounted from a Secret of one's own
    assert {"name": "kafka-tls", "mountPath": "/etc/kafka-tls", "readOnly": True} in c["volumeMounts"]
    assert {"name": "kafka-tls", "secret": {"secretName": "kafka-truststore"}} in job["spec"]["template"]["spec"]["volumes"]
    # a password that would break out of the JAAS quotes or the properties line is escaped
    docs = render("-f", path, values={"kafka": {"saslPassword": 'a"b\\c\nsasl.mechanism=PLAIN'}})
    props = job_client_properties(docs)
    assert props["sasl.mechanism"] == "SCRAM-SHA-512"
    assert props["sasl.jaas.config"].endswith(r'password="a\\"b\\\\c\nsasl.mechanism=PLAIN";')


def test_topics_job_with_an_existing_secret_reads_the_password_without_optional():
    docs = render("-f", os.path.join(CHART, "ci", "existing-secret-values.yaml"), "--set", "topicsJob.enabled=true")
    job = one(docs, "Job")
    c = job["spec"]["template"]["spec"]["containers"][0]
    e = {x["name"]: x for x in c["env"]}
    # required: a misspelt key fails the pod instead of authenticating as nobody
    assert e["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "hookd-credentials",
                                                                     "key": "kafka-password"}
    assert "ScramLoginModule" in e["JAAS_LOGIN_MODULE"]["value"] and e["KAFKA_SASL_USERNAME"]["value"] == "hookd"
    props = job_client_properties(docs)
    assert "sasl.jaas.config" not in props  # added at run time, to a copy in /tmp
    assert props["sasl.mechanism"] == "SCRAM-SHA-256"
    script = c["command"][-1]
    assert 'cp "$props" /tmp/client.properties' in script and "sasl.jaas.config=" in script


# ------------------------------------------------------------------------- docs and image --


def load_gen_readme():
    spec = importlib.util.spec_from_file_location("gen_readme", os.path.join(CHART, "gen-readme.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_value_is_documented_and_the_readme_table_is_up_to_date():
    gen = load_gen_readme()
    values, sections = gen.parse()
    assert gen.problems(values, sections) == []
    with open(gen.README) as f:
        current = f.read()
    assert current == gen.render(current, values, sections), \
        "helm/hookd/README.md is out of date: run ~/.cache/hookd/venv/bin/python helm/hookd/gen-readme.py"
    # a [default: text] description shows the text, not a default too long for a cell
    assert "| `prometheusRule.runbookBaseUrl` | Where docs/operations.md is published" in current
    assert "| the project's docs/operations.md on GitHub |" in current
    assert "https://github.com/hookd/hookd/blob/main/docs/operations.md` |" not in current
    assert "HookdRedisDown" not in current, "the rules are not copied into the table"
    # the check itself notices an undocumented value and a stale table
    values["undocumented"] = 1
    assert gen.problems(values, sections) == ["undocumented has no @param comment"]
    del values["undocumented"]
    values["logLevel"] = "debug"
    assert gen.render(current, values, sections) != current


def test_values_schema_is_strict_where_it_should_be():
    with open(os.path.join(CHART, "values.schema.json")) as f:
        schema = json.load(f)
    assert schema["additionalProperties"] is False
    with open(os.path.join(CHART, "values.yaml")) as f:
        values = yaml.safe_load(f)
    assert set(values) <= set(schema["properties"])
    assert schema["properties"]["logLevel"]["enum"] == ["debug", "info", "warn", "error"]


def test_chart_version_follows_the_project():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        version = re.search(r"project\(hookd VERSION ([0-9.]+)", f.read()).group(1)
    assert chart_yaml()["appVersion"] == version, "Chart.yaml appVersion (the image tag) != project version"


def package_list(name):
    with open(os.path.join(ROOT, "deploy", "packages", name)) as f:
        return [line.split("#")[0].strip() for line in f if line.split("#")[0].strip()]


def test_dockerfile_builds_from_the_shared_package_lists():
    with open(os.path.join(ROOT, "deploy", "Dockerfile")) as f:
        dockerfile = f.read()
    stages = re.split(r"^FROM ", dockerfile, flags=re.M)[1:]
    assert len(stages) == 2
    build, runtime = stages
    assert build.startswith("debian:") and " AS build" in build.splitlines()[0]
    assert runtime.startswith("debian:") and "-slim" in runtime.splitlines()[0]
    assert "COPY deploy/packages/build " in build and "xargs" in build
    assert "COPY deploy/packages/runtime " in runtime and "xargs" in runtime
    assert "RelWithDebInfo" in build and "hookd" in build and "hookctl" in build
    assert re.search(r"^USER 10001", runtime, re.M) and re.search(r"^EXPOSE 8080 8081$", runtime, re.M)
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/hookd"\]$', runtime, re.M)
    assert "apt-get install" not in re.sub(r"xargs[^\n]*apt-get install", "", dockerfile), \
        "a package installed outside deploy/packages"
    # every folder CMake adds unconditionally is copied into the build stage; tests/ and bench/
    # are added only with HOOKD_BUILD_TESTS, which the image turns off, and are not copied
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        cmakelists = f.read()
    folders = re.findall(r"^add_subdirectory\((\S+)\)", cmakelists, re.M)
    assert "core" in folders and "cmd" in folders and "tests" not in folders and "bench" not in folders
    for folder in folders:
        assert re.search(rf"^COPY {folder} {folder}$", build, re.M), f"{folder} is not copied"
    assert re.search(r"^COPY CMakeLists.txt ", build, re.M)
    assert not re.search(r"^COPY (tests|bench)\b", build, re.M)
    assert "-DHOOKD_BUILD_TESTS=OFF" in build
    # the programs are installed stripped
    assert re.search(r"install -D -s -m 0755", build)
    # the runtime list has the libraries the build links, and no -dev package
    runtime_packages = package_list("runtime")
    assert {"librdkafka1", "libcurl4", "libssl3", "libcjson1", "libhiredis0.14", "libmicrohttpd12",
            "ca-certificates"} <= set(runtime_packages)
    assert not [p for p in runtime_packages if p.endswith("-dev")]
    assert {"cmake", "librdkafka-dev"} <= set(package_list("build"))
    assert "libcriterion-dev" not in package_list("build") and "libcriterion-dev" in package_list("dev")


def dockerignore_allows(path, rules):
    """Whether the Docker build context keeps path under .dockerignore's rules (the last
    matching rule wins; a rule matches the path or one of its parent folders)."""
    keep = True
    parts = path.split("/")
    for negate, pattern in rules:
        for i in range(1, len(parts) + 1):
            if fnmatch.fnmatch("/".join(parts[:i]), pattern):
                keep = negate
                break
    return keep


def test_dockerignore_lets_through_exactly_what_the_dockerfile_copies():
    with open(os.path.join(ROOT, ".dockerignore")) as f:
        rules = [(line.startswith("!"), line.lstrip("!").strip().rstrip("/"))
                 for line in f if line.strip() and not line.startswith("#")]
    with open(os.path.join(ROOT, "deploy", "Dockerfile")) as f:
        sources = [m.split()[0] for m in re.findall(r"^COPY (?!--from)(\S+ )", f.read(), re.M)]
    assert sources
    for src in sources:
        assert dockerignore_allows(src, rules), f"{src} is copied but .dockerignore drops it"
    for path in (".git/config", "build/cmd/hookd", "build-asan/CMakeCache.txt", "tests/unit/test_core.c",
                 "bench/throughput", "helm/hookd/values.yaml", "docs/api.md", "deploy/local/stack"):
        assert not dockerignore_allows(path, rules), f"{path} reaches the build context"


def test_dockerfile_labels_the_image():
    with open(os.path.join(ROOT, "deploy", "Dockerfile")) as f:
        dockerfile = f.read()
    runtime = re.split(r"^FROM ", dockerfile, flags=re.M)[2]
    for label, arg in (("version", "VERSION"), ("revision", "REVISION"), ("source", "SOURCE")):
        assert f'org.opencontainers.image.{label}="${{{arg}}}"' in runtime, label
        assert re.search(rf"^ARG {arg}$", runtime, re.M), f"{arg} is not brought into the runtime stage"
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        version = re.search(r"project\(hookd VERSION ([0-9.]+)", f.read()).group(1)
    assert re.search(rf"^ARG VERSION={re.escape(version)}$", dockerfile, re.M), "ARG VERSION != project version"


def test_the_build_stage_configures_from_only_what_it_copies(tmp_path):
    """The image's build stage, short of Docker: the Dockerfile's COPY lines into an empty
    folder, then its cmake configure step. Fails if CMake reads a folder the image leaves out."""
    with open(os.path.join(ROOT, "deploy", "Dockerfile")) as f:
        build = re.split(r"^FROM ", f.read(), flags=re.M)[1]
    for src, dst in re.findall(r"^COPY (?!--from)(\S+) (\S+)$", build, re.M):
        if src.startswith("deploy/"):
            continue
        target = tmp_path / dst.rstrip("/")
        if os.path.isdir(os.path.join(ROOT, src)):
            shutil.copytree(os.path.join(ROOT, src), target)
        else:
            shutil.copy(os.path.join(ROOT, src), tmp_path / (os.path.basename(src) if dst in ("./", ".") else dst))
    configure = re.search(r"^RUN (cmake -S \. -B /build[^\\\n]*)", build, re.M).group(1)
    args = configure.replace("/build", str(tmp_path / "build")).split()
    r = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not (tmp_path / "build" / "tests").exists()


def test_setup_reads_the_shared_package_lists():
    with open(os.path.join(ROOT, "deploy", "local", "setup")) as f:
        setup = f.read()
    for name in ("build", "runtime", "dev"):
        assert f'"$here/../packages/{name}"' in setup
    assert "prometheus" in package_list("dev")
    assert re.search(r"kubernetes-validate==[0-9.]+", setup)
    assert re.search(r"helm_version=v3\.[0-9]+\.[0-9]+", setup)


# ------------------------------------------------------------ hookd-ingress (ingress.*) --

INGRESS_CI = os.path.join(CHART, "ci", "ingress-values.yaml")
INGRESS_ON = ("--set", "ingress.enabled=true")
# What hookd-ingress reads (core/config.c, HK_CONFIG_INGRESS), with the contract's defaults.
INGRESS_DEFAULTS = {"HOOKD_INGRESS_LISTEN": "0.0.0.0:8090", "HOOKD_INGRESS_TOPIC": "hookd.inbound",
                    "HOOKD_INGRESS_MAX_BODY": "10485760", "HOOKD_INGRESS_ACK_TIMEOUT_MS": "5000",
                    "HOOKD_INGRESS_BODY_TIMEOUT_MS": "30000"}


def ingress_objects(docs):
    """hookd-ingress's objects: those of component ingress (and only those are named so)."""
    found = [d for d in docs if d["metadata"]["labels"].get("app.kubernetes.io/component") == "ingress"]
    assert [d for d in docs if d["metadata"]["name"] == INGRESS_NAME] == found
    return found


def ingress_one(docs, kind):
    found = [d for d in ingress_objects(docs) if d["kind"] == kind]
    assert len(found) == 1, f"expected one hookd-ingress {kind}, got {len(found)}"
    return found[0]


def ingress_pod(docs):
    return ingress_one(docs, "Deployment")["spec"]["template"]


def ingress_container(docs):
    containers = ingress_pod(docs)["spec"]["containers"]
    assert [c["name"] for c in containers] == ["hookd-ingress"]
    return containers[0]


def ingress_env(docs):
    """hookd-ingress's environment, as env() gives the worker's: its ConfigMap (envFrom), then
    its env entries."""
    c = ingress_container(docs)
    assert [e["configMapRef"]["name"] for e in c["envFrom"]] == [INGRESS_NAME]
    out = dict(ingress_one(docs, "ConfigMap")["data"])
    for e in c.get("env", []):
        assert e["name"] not in out, f"{e['name']} set twice"
        if "value" in e:
            out[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            out[e["name"]] = ("secret", ref["name"], ref["key"], ref.get("optional", False))
    return out


def config_table_names():
    """Every HOOKD_* name of core/config.c's table: each program reads every one."""
    with open(os.path.join(ROOT, "core", "config.c")) as f:
        names = set(re.findall(r'\{"(HOOKD_[A-Z_]+)", "--', f.read()))
    assert set(INGRESS_DEFAULTS) | {"HOOKD_LOG_LEVEL", "HOOKD_REDIS_URL"} <= names
    return names


def test_ingress_is_off_by_default():
    with open(os.path.join(CHART, "values.yaml")) as f:
        assert yaml.safe_load(f)["ingress"]["enabled"] is False
    for docs in (render(), render("--set", "topicsJob.enabled=true", "--set", "metrics.serviceMonitor.enabled=true",
                                  "--set", "ingress.kubernetesIngress.enabled=true",
                                  "--set", "ingress.autoscaling.hpa.enabled=true")):
        assert ingress_objects(docs) == []
        assert not objects(docs, "Ingress")
        assert "hookd-ingress" not in json.dumps(docs) and "hookd.inbound" not in json.dumps(docs)


@pytest.mark.parametrize("args", [INGRESS_ON, ("-f", INGRESS_CI),
                                  INGRESS_ON + ("--set", "ingress.service.type=LoadBalancer",
                                                "--set", "ingress.service.nodePort=30090",
                                                "--set", "ingress.service.externalTrafficPolicy=Local",
                                                "--set", "ingress.service.loadBalancerSourceRanges={192.0.2.0/24}",
                                                "--set", "ingress.kubernetesIngress.enabled=true",
                                                "--set", "existingSecret=from-vault")],
                         ids=["defaults", "ci", "loadbalancer"])
def test_ingress_objects_render_and_validate(args):
    docs = render(*args)
    mine = ingress_objects(docs)
    kinds = sorted(d["kind"] for d in mine)
    expected = {"Deployment", "ConfigMap", "Service", "PodDisruptionBudget", "NetworkPolicy"}
    if "-f" in args:
        expected |= {"Ingress", "HorizontalPodAutoscaler", "ServiceMonitor"}
    if "ingress.kubernetesIngress.enabled=true" in args:
        expected |= {"Ingress"}
    assert kinds == sorted(expected)
    for doc in mine:
        where = f"{doc['kind']} {doc['metadata']['name']}"
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "hookd" and labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["helm.sh/chart"] == f"hookd-{chart_yaml()['version']}", where
        assert doc["metadata"]["namespace"] == NAMESPACE, where
        if doc["kind"] in CRD_KINDS:
            check_crd(doc, docs)
            continue
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{where}: {e.message} at {'/'.join(map(str, e.path))}")
    # the workers' objects are still there, each once, and select none of hookd-ingress's pods
    worker_pod = one([d for d in docs if d["metadata"]["name"] == FULLNAME], "Deployment")["spec"]["template"]
    pod_labels = ingress_pod(docs)["metadata"]["labels"]
    for doc in docs:
        if doc["metadata"]["name"] != FULLNAME or doc["kind"] not in ("Service", "NetworkPolicy",
                                                                       "PodDisruptionBudget", "Deployment"):
            continue
        spec = doc["spec"]
        selector = spec["selector"] if doc["kind"] == "Service" else \
            (spec.get("podSelector") or spec["selector"])
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= worker_pod["metadata"]["labels"].items(), doc["kind"]
        assert not selector.items() <= pod_labels.items(), f"the workers' {doc['kind']} selects hookd-ingress"
    # and hookd-ingress's select its pods only
    service = ingress_one(docs, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert not service["spec"]["selector"].items() <= worker_pod["metadata"]["labels"].items()
    assert ingress_one(docs, "Deployment")["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert ingress_one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_ingress_deployment_runs_hookd_ingress_with_its_settings():
    docs = render(*INGRESS_ON, *ALL_SECRETS, "--set", "kafka.bootstrapServers=k1:9092\\,k2:9092",
                  "--set", "redis.url=redis://r:6379/2", "--set", "redis.prefix=hk:",
                  "--set", "kafka.secretConfig.ssl\\.key\\.password=key-pw-4444")
    c = ingress_container(docs)
    assert c["command"] == ["/usr/local/bin/hookd-ingress"] and "args" not in c
    assert c["image"] == container(render())["image"]
    e = ingress_env(docs)
    # the contract's defaults, and the workers' Kafka and Redis settings
    for name, value in INGRESS_DEFAULTS.items():
        assert e[name] == value, name
    assert e["HOOKD_THREADS"] == "1" and e["HOOKD_LOG_LEVEL"] == "info"
    assert e["HOOKD_SHUTDOWN_GRACE_MS"] == "20000"
    assert e["HOOKD_TOPIC_PARTITIONS"] == config([d for d in docs if d["metadata"]["name"] == FULLNAME])["HOOKD_TOPIC_PARTITIONS"]
    assert e["HOOKD_KAFKA_BOOTSTRAP_SERVERS"] == "k1:9092,k2:9092"
    assert e["HOOKD_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert e["HOOKD_REDIS_URL"] == "redis://r:6379/2" and e["HOOKD_REDIS_PREFIX"] == "hk:"
    # the secrets it needs, from the workers' Secret; not the admin API's nor the proxy's
    for name in ("HOOKD_REDIS_PASSWORD", "HOOKD_KAFKA_SASL_PASSWORD", "HOOKD_KAFKA_SSL_KEY_PASSWORD"):
        assert e[name] == ("secret", FULLNAME, name, False), name
        assert name in secret_data(docs)
    assert "HOOKD_API_TOKEN" not in e and "HOOKD_HTTP_PROXY" not in e
    # no consumer group of its own to join the workers' (it only produces), no worker listeners
    assert "HOOKD_KAFKA_GROUP_ID" not in e and "HOOKD_LISTEN" not in e and "HOOKD_TOPICS" not in e
    cm = json.dumps(ingress_one(docs, "ConfigMap"))
    for secret in ("redis-pw", "sasl-pw", "key-pw-4444", "an-api-token-0123456789"):
        assert secret not in cm and secret not in json.dumps(ingress_one(docs, "Deployment"))
    # every name is one hookd-ingress reads (a typo would be silently ignored)
    known = config_table_names() | {TOPIC_PREFIX_ENV}
    for name in e:
        assert name in known or name.startswith("HOOKD_KAFKA_"), name
    # its own values reach it, the workers' do not change
    docs = render(*INGRESS_ON, "--set", "ingress.topic=inbound.v2", "--set", "ingress.maxBody=2000000",
                  "--set", "ingress.ackTimeoutMs=1500", "--set", "ingress.threads=3",
                  "--set", "ingress.logLevel=debug", "--set", "ingress.shutdown.graceSeconds=8")
    e = ingress_env(docs)
    assert (e["HOOKD_INGRESS_TOPIC"], e["HOOKD_INGRESS_MAX_BODY"], e["HOOKD_INGRESS_ACK_TIMEOUT_MS"],
            e["HOOKD_LOG_LEVEL"], e["HOOKD_SHUTDOWN_GRACE_MS"], e["HOOKD_THREADS"]) == \
        ("inbound.v2", "2000000", "1500", "debug", "8000", "3")
    # the workers' threads and hookd-ingress's are set apart
    assert config([d for d in docs if d["metadata"]["name"] == FULLNAME])["HOOKD_THREADS"] == "1"
    assert "threads" in render_error(*INGRESS_ON, "--set", "ingress.threads=0")
    # with an existing Secret: its keys, required, as for the workers
    e = ingress_env(render(*INGRESS_ON, "--set", "existingSecret=from-vault",
                           "--set", "existingSecretKeys.redisPassword=redis",
                           "--set", "kafka.config.security\\.protocol=SASL_PLAINTEXT"))
    assert e["HOOKD_REDIS_PASSWORD"] == ("secret", "from-vault", "redis", False)
    assert e["HOOKD_KAFKA_SASL_PASSWORD"] == ("secret", "from-vault", "HOOKD_KAFKA_SASL_PASSWORD", False)
    assert "HOOKD_API_TOKEN" not in e


def test_ingress_help_lists_what_the_chart_sets():
    # once the program is built: every variable its --help lists is set by the chart, or is a
    # secret left to the Secret, or keeps its default on purpose
    program = os.path.join(BUILD, "cmd", "hookd-ingress")
    if not os.access(program, os.X_OK):
        pytest.skip(f"{program} is not built yet")
    out = subprocess.run([program, "--help"], capture_output=True, text=True, timeout=10).stdout
    listed = set(re.findall(r"^\s+(HOOKD_[A-Z_<>]+)\s", out, re.M))
    assert set(INGRESS_DEFAULTS) <= listed
    e = ingress_env(render(*INGRESS_ON, *ALL_SECRETS))
    for name in listed - {"HOOKD_KAFKA_<PROPERTY>", "HOOKD_REDIS_PASSWORD"}:
        assert name in e, f"{name} (hookd-ingress --help) is not set by the chart"


def test_ingress_pod_is_hardened_like_the_workers():
    docs = render(*INGRESS_ON)
    pod = ingress_pod(docs)["spec"]
    worker = one([d for d in docs if d["metadata"]["name"] == FULLNAME], "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"] == worker["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == worker["serviceAccountName"]
    c = ingress_container(docs)
    sc = c["securityContext"]
    assert sc == worker["containers"][0]["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001 and sc["runAsGroup"] == 10001
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["resources"]["requests"] and c["resources"]["limits"]
    # the read-only root: a scratch /tmp
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]


def test_ingress_probes_and_service_target_8090():
    docs = render(*INGRESS_ON)
    c = ingress_container(docs)
    assert c["ports"] == [{"name": "http", "containerPort": 8090, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert ingress_env(docs)["HOOKD_INGRESS_LISTEN"].endswith(":8090")
    service = ingress_one(docs, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 8090, "targetPort": "http", "protocol": "TCP"}]
    # the preStop sleep, inside the grace period with the shutdown grace
    assert c["lifecycle"]["preStop"]["exec"]["command"] == ["/bin/sleep", "5"]
    assert ingress_pod(docs)["spec"]["terminationGracePeriodSeconds"] == 35
    c = ingress_container(render(*INGRESS_ON, "--set", "ingress.livenessProbe.enabled=false",
                                 "--set", "ingress.preStopSleepSeconds=0", "--set", "ingress.service.port=80"))
    assert "livenessProbe" not in c and "lifecycle" not in c and c["readinessProbe"]["httpGet"]["port"] == "http"
    assert "terminationGracePeriodSeconds" in render_error(*INGRESS_ON, "--set",
                                                           "ingress.terminationGracePeriodSeconds=25")
    svc = ingress_one(render(*INGRESS_ON, "--set", "ingress.service.type=NodePort",
                             "--set", "ingress.service.nodePort=30090"), "Service")
    assert svc["spec"]["ports"][0]["nodePort"] == 30090 and svc["spec"]["type"] == "NodePort"


def test_ingress_network_policy_allows_8090_in_and_dns_kafka_redis_out():
    docs = render(*INGRESS_ON)
    policy = ingress_one(docs, "NetworkPolicy")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= ingress_pod(docs)["metadata"]["labels"].items()
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    # in: the named port (8090 in the container) only, from anywhere by default
    assert policy["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    assert [p["containerPort"] for p in ingress_container(docs)["ports"] if p["name"] == "http"] == [8090]
    # out: DNS, Kafka and Redis, each rule with its ports, and nothing else
    egress = policy["spec"]["egress"]
    assert all(rule.get("ports") for rule in egress), "an egress rule without ports opens every port"
    ports = [sorted((p["port"], p["protocol"]) for p in rule["ports"]) for rule in egress]
    assert ports == [[(53, "TCP"), (53, "UDP")], [(9092, "TCP")], [(6379, "TCP")]]
    assert "ipBlock" not in json.dumps(egress)
    assert egress[0]["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]
    # the workers' Kafka and Redis peers and ports are hookd-ingress's too
    docs = render("-f", os.path.join(CHART, "ci", "network-values.yaml"), *INGRESS_ON,
                  "--set", "networkPolicy.egress.kafka.ports={9094}",
                  "--set", "ingress.networkPolicy.ingress.namespaces={ingress-nginx}")
    policy = ingress_one(docs, "NetworkPolicy")
    egress = policy["spec"]["egress"]
    assert [sorted(p["port"] for p in rule["ports"]) for rule in egress] == [[53, 53], [9092, 9094], [6379]]
    assert egress[1]["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kafka"}}}]
    assert egress[2]["to"] == [{"ipBlock": {"cidr": "10.40.0.10/32"}}]
    # the workers' internet and allowNetworks rules stay theirs
    assert "0.0.0.0/0" not in json.dumps(egress) and "10.20.0.0/16" not in json.dumps(egress)
    assert policy["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}], "from": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]}]
    # peers given as they are, after the namespaces
    peer = {"podSelector": {"matchLabels": {"app": "edge"}}}
    policy = ingress_one(render(*INGRESS_ON, values={"ingress": {"networkPolicy": {"ingress": {
        "namespaces": ["monitoring"], "from": [peer]}}}}), "NetworkPolicy")
    assert policy["spec"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}, peer]
    # and it has its own switch
    docs = render(*INGRESS_ON, "--set", "ingress.networkPolicy.enabled=false")
    assert [d["metadata"]["name"] for d in objects(docs, "NetworkPolicy")] == [FULLNAME]


def test_ingress_kubernetes_ingress_has_the_hosts_and_tls_given():
    assert not objects(render(*INGRESS_ON), "Ingress")
    docs = render("-f", INGRESS_CI)
    ingress = ingress_one(docs, "Ingress")
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert spec["tls"] == [{"hosts": ["hooks.example.com", "hooks.example.org"], "secretName": "hookd-ingress-tls"}]
    assert [r["host"] for r in spec["rules"]] == ["hooks.example.com", "hooks.example.org"]
    service = ingress_one(docs, "Service")
    for rule in spec["rules"]:
        # /in/... only: /metrics, /healthz and /readyz are not exposed
        assert rule["http"]["paths"] == [{"path": "/in", "pathType": "Prefix", "backend": {"service": {
            "name": service["metadata"]["name"], "port": {"name": "http"}}}}]
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]
    # no hosts: one rule for any host; no TLS, no class: none rendered
    spec = ingress_one(render(*INGRESS_ON, "--set", "ingress.kubernetesIngress.enabled=true"), "Ingress")["spec"]
    assert len(spec["rules"]) == 1 and "host" not in spec["rules"][0]
    assert "tls" not in spec and "ingressClassName" not in spec
    # paths of one's own
    values = {"ingress": {"enabled": True, "kubernetesIngress": {"enabled": True, "hosts": ["h.example.com"],
                                                                 "paths": [{"path": "/in/", "pathType": "Prefix"},
                                                                           {"path": "/hooks", "pathType": "Exact"}]}}}
    paths = ingress_one(render(values=values), "Ingress")["spec"]["rules"][0]["http"]["paths"]
    assert [(p["path"], p["pathType"]) for p in paths] == [("/in/", "Prefix"), ("/hooks", "Exact")]


def test_values_schema_refuses_bad_ingress_values():
    # a misspelled key anywhere under ingress
    for values, word in [({"enabeld": True}, "enabeld"),
                         ({"kubernetesIngress": {"hostnames": ["h.example.com"]}}, "hostnames"),
                         ({"kubernetesIngress": {"tls": [{"secretname": "s", "hosts": ["h"]}]}}, "secretname"),
                         ({"service": {"prot": 8090}}, "prot"),
                         ({"networkPolicy": {"ingress": {"namespace": ["x"]}}}, "namespace"),
                         ({"autoscaling": {"hpa": {"targetMemoryUtilizationPercentage": 80}}},
                          "targetMemoryUtilizationPercentage")]:
        message = render_error(values={"ingress": values})
        assert word in message and "ingress" in message, message
    # values out of range, for hookd-ingress's own limits
    assert "maxBody" in render_error(*INGRESS_ON, "--set", "ingress.maxBody=100")
    assert "ackTimeoutMs" in render_error(*INGRESS_ON, "--set", "ingress.ackTimeoutMs=50")
    assert "threads" in render_error(*INGRESS_ON, "--set", "ingress.threads=65")
    assert "bodyTimeoutMs" in render_error(*INGRESS_ON, "--set", "ingress.bodyTimeoutMs=10")
    assert "logLevel" in render_error(*INGRESS_ON, "--set", "ingress.logLevel=verbose")
    assert "topic" in render_error(*INGRESS_ON, "--set", "ingress.topic=in bound")
    assert "hosts" in render_error(*INGRESS_ON, "--set", "ingress.kubernetesIngress.hosts={https://h.example.com}")
    assert "pathType" in render_error(values={"ingress": {"kubernetesIngress": {"paths": [{"path": "/in",
                                                                                          "pathType": "Any"}]}}})
    assert "type" in render_error(*INGRESS_ON, "--set", "ingress.service.type=External")
    assert "minReplicas" in render_error(*INGRESS_ON, "--set", "ingress.autoscaling.hpa.enabled=true",
                                         "--set", "ingress.autoscaling.hpa.minReplicas=5",
                                         "--set", "ingress.autoscaling.hpa.maxReplicas=3")
    with open(os.path.join(CHART, "values.schema.json")) as f:
        schema = json.load(f)["properties"]["ingress"]

    def strict(node, where):
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, where
            for key, child in node["properties"].items():
                strict(child, f"{where}.{key}")
        if isinstance(node.get("items"), dict):
            strict(node["items"], f"{where}[]")
    strict(schema, "ingress")


def test_ingress_replicas_hpa_and_pdb():
    docs = render(*INGRESS_ON)
    assert ingress_one(docs, "Deployment")["spec"]["replicas"] == 2
    assert not [d for d in ingress_objects(docs) if d["kind"] == "HorizontalPodAutoscaler"]
    assert ingress_one(docs, "PodDisruptionBudget")["spec"] == {
        "maxUnavailable": 1, "selector": {"matchLabels": ingress_one(docs, "Service")["spec"]["selector"]}}
    docs = render(*INGRESS_ON, "--set", "ingress.autoscaling.hpa.enabled=true", "--set", "kafka.partitions=4",
                  "--set", "ingress.podDisruptionBudget.minAvailable=50%")
    assert "replicas" not in ingress_one(docs, "Deployment")["spec"]
    assert one([d for d in docs if d["metadata"]["name"] == FULLNAME], "Deployment")["spec"]["replicas"] == 2
    hpa = ingress_one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": INGRESS_NAME}
    # CPU only, and not capped at the partitions: hookd-ingress only produces
    assert hpa["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 70}}}]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert ingress_one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == "50%"
    docs = render(*INGRESS_ON, "--set", "ingress.podDisruptionBudget.enabled=false")
    assert [d["metadata"]["name"] for d in objects(docs, "PodDisruptionBudget")] == [FULLNAME]


def test_ingress_service_monitor_scrapes_it_when_metrics_are_on():
    assert not [d for d in ingress_objects(render(*INGRESS_ON)) if d["kind"] == "ServiceMonitor"]
    docs = render(*INGRESS_ON, "--set", "metrics.serviceMonitor.enabled=true",
                  "--set", "metrics.serviceMonitor.labels.release=prom", "--set", "metrics.serviceMonitor.interval=15s")
    sm = ingress_one(docs, "ServiceMonitor")
    check_crd(sm, docs)
    assert sm["metadata"]["labels"]["release"] == "prom"
    assert sm["spec"]["selector"]["matchLabels"].items() <= ingress_one(docs, "Service")["metadata"]["labels"].items()
    assert sm["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}]
    # the workers' ServiceMonitor stays on the workers' Service
    workers = [d for d in objects(docs, "ServiceMonitor") if d["metadata"]["name"] == FULLNAME]
    assert len(workers) == 1
    check_crd(workers[0], docs)


def test_ingress_pods_roll_when_its_settings_change():
    def checksums(*args):
        docs = render(*INGRESS_ON, *args)
        worker = one([d for d in docs if d["metadata"]["name"] == FULLNAME], "Deployment")
        return (ingress_pod(docs)["metadata"]["annotations"],
                worker["spec"]["template"]["metadata"]["annotations"])
    base, worker = checksums()
    assert re.fullmatch(r"[0-9a-f]{64}", base["checksum/config"])
    changed, worker_after = checksums("--set", "ingress.logLevel=debug")
    assert changed["checksum/config"] != base["checksum/config"] and worker_after == worker
    changed, _ = checksums("--set", "redis.url=redis://elsewhere:6379/0")
    assert changed["checksum/config"] != base["checksum/config"]
    changed, _ = checksums("--set", "redis.password=another")
    assert changed["checksum/secret"] != base["checksum/secret"]


def test_ingress_topic_is_created_by_the_topics_job():
    script = one(render("--set", "topicsJob.enabled=true", *INGRESS_ON, "--set", "ingress.topic=inbound.v2",
                        "--set", "kafka.topicPartitions=6"), "Job")["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    created = re.findall(r"^create '?([^' ]+)'? (\S+) (\S+)$", script, re.M)
    assert created[-1] == ("inbound.v2", "6", "-1")
    script = one(render("--set", "topicsJob.enabled=true"), "Job")["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "inbound" not in script


def test_ingress_names_are_trimmed_to_63_characters():
    release = "a-release-name-that-is-long-enough-to-push-every-name-past-the-limit"[:53]
    proc = subprocess.run([HELM, "template", release, CHART, "--kube-version", KUBE_VERSION,
                           "-f", INGRESS_CI], capture_output=True, text=True, timeout=60, check=True)
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    names = [d["metadata"]["name"] for d in docs]
    assert all(len(n) <= 63 and not n.endswith("-") for n in names), names
    assert len(set((d["kind"], d["metadata"]["name"]) for d in docs)) == len(docs)
    ingress_names = {d["metadata"]["name"] for d in docs
                     if d["metadata"]["labels"].get("app.kubernetes.io/component") == "ingress"}
    assert len(ingress_names) == 1 and ingress_names.pop().endswith("-ingress")


def test_dockerfile_installs_hookd_ingress():
    with open(os.path.join(ROOT, "deploy", "Dockerfile")) as f:
        dockerfile = f.read()
    build, runtime = re.split(r"^FROM ", dockerfile, flags=re.M)[1:]
    run = re.search(r"^RUN cmake .*?(?=^\S|\Z)", build, re.M | re.S).group(0)
    steps = [s.strip() for s in run.replace("\\\n", " ").split("&&")]
    build_step = next(s for s in steps if s.startswith("cmake --build"))
    assert re.search(r"--target(\s+\S+)*\s+hookd-ingress\b", build_step), build_step
    install = next(s for s in steps if s.startswith("install "))
    assert "-t /out/usr/local/bin" in install and re.search(r"\s/build/cmd/hookd-ingress(\s|$)", install), install
    assert "/out/usr/local/bin/hookd-ingress --version" in steps
    # the runtime stage takes everything installed; the entrypoint stays the worker
    assert re.search(r"^COPY --from=build /out/ /$", runtime, re.M)
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/hookd"\]$', runtime, re.M)
    # the chart runs it from where the image installs it
    assert ingress_container(render(*INGRESS_ON))["command"] == ["/usr/local/bin/hookd-ingress"]
    # and the program's target and output are where the Dockerfile looks (once it is built)
    program = os.path.join(BUILD, "cmd", "hookd-ingress")
    if os.access(program, os.X_OK):
        assert subprocess.run([program, "--version"], capture_output=True, timeout=10).returncode == 0


# ------------------------------------------------------------ issue 17: the runtime traps --


def backend_ports(policy):
    """The Kafka and Redis rules' ports of a NetworkPolicy (its second and third egress rules)."""
    egress = policy["spec"]["egress"]
    assert [p["port"] for p in egress[0]["ports"]] == [53, 53]
    return [sorted(p["port"] for p in rule["ports"]) for rule in egress[1:3]]


@pytest.mark.parametrize("values,kafka,redis", [
    ("topics-sasl-values.yaml", [9096], [6379]),        # brokers on 9096
    ("existing-secret-values.yaml", [9092], [6380]),    # Redis on 6380 (rediss://)
    ("keda-sasl-values.yaml", [9094], [6379]),          # SASL_SSL://host:9094
])
def test_network_policies_let_out_the_ports_of_the_chart_examples(values, kafka, redis):
    docs = render("-f", os.path.join(CHART, "ci", values), *INGRESS_ON)
    policies = objects(docs, "NetworkPolicy")
    assert {p["metadata"]["name"] for p in policies} == {FULLNAME, INGRESS_NAME}
    for policy in policies:
        assert backend_ports(policy) == [kafka, redis], policy["metadata"]["name"]


def test_network_policy_ports_are_derived_from_every_address():
    values = {"kafka": {"bootstrapServers": " b-1.example:9096, SSL://b-2.example:9097,[fd00::5]:9098,"
                                            "b-4.example,[fd00::6]"},
              "redis": {"url": "rediss://user@[fd00::7]:6390/2"}}
    policy = one(render(values=values), "NetworkPolicy")
    assert backend_ports(policy) == [[9092, 9096, 9097, 9098], [6390]]
    assert backend_ports(one(render("--set", "redis.url=redis://redis"), "NetworkPolicy"))[1] == [6379]
    # ports given besides (brokers advertising other ports), once each
    policy = one(render("--set", "networkPolicy.egress.kafka.ports={9092,9192}",
                        "--set", "networkPolicy.egress.redis.ports={26379}"), "NetworkPolicy")
    assert backend_ports(policy) == [[9092, 9192], [6379, 26379]]
    # addresses that are not host:port are refused, naming the value
    assert "kafka.bootstrapServers" in render_error("--set", "kafka.bootstrapServers=kafka:ninety")
    assert "kafka.bootstrapServers" in render_error("--set", "kafka.bootstrapServers=kafka:70000")
    # an IPv6 address without brackets: which part is the port cannot be told (it took 9092)
    assert "in brackets" in render_error(values={"kafka": {"bootstrapServers": "fd00::5:9098"}})
    assert "redis.url" in render_error("--set", "redis.url=redis://redis:port/0")


def test_network_policy_refuses_addresses_it_cannot_see():
    # HOOKD_REDIS_URL from a Secret (extraEnv): the chart cannot derive its port
    from_secret = {"name": "HOOKD_REDIS_URL", "valueFrom": {"secretKeyRef": {"name": "redis", "key": "url"}}}
    message = render_error(values={"extraEnv": [from_secret]})
    assert "networkPolicy.egress.redis.ports" in message and "HOOKD_REDIS_URL" in message
    policy = one(render(values={"extraEnv": [from_secret], "networkPolicy": {"egress": {"redis": {"ports": [6380]}}}}),
                 "NetworkPolicy")
    assert backend_ports(policy) == [[9092], [6380]]  # the ports given alone
    # the same through hookd-ingress's extraEnv, for the Kafka address
    brokers = {"name": "HOOKD_KAFKA_BOOTSTRAP_SERVERS", "value": "k:9999"}
    assert "networkPolicy.egress.kafka.ports" in render_error(values={"ingress": {"enabled": True,
                                                                                  "extraEnv": [brokers]}})
    # without a NetworkPolicy there is nothing to derive
    assert render(values={"extraEnv": [from_secret], "networkPolicy": {"enabled": False}})


def workers_only(docs):
    """The workers' objects (hookd-ingress's left out), for config() and container()."""
    return [d for d in docs if d["metadata"]["labels"].get("app.kubernetes.io/component") != "ingress"]


def pod_specs(docs):
    specs = []
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            specs.append((d["metadata"]["name"], d["spec"]["template"]["spec"]))
        elif d["kind"] == "Pod":
            specs.append((d["metadata"]["name"], d["spec"]))
    return specs


def test_no_pod_gets_service_links():
    docs = render("--set", "topicsJob.enabled=true", *INGRESS_ON)
    specs = pod_specs(docs)
    assert {name for name, _ in specs} == {FULLNAME, INGRESS_NAME, f"{FULLNAME}-topics", f"{FULLNAME}-test-readyz"}
    for name, spec in specs:
        assert spec["enableServiceLinks"] is False, name


@pytest.mark.parametrize("partitions,threads,asked,expected", [(6, 2, 20, 3), (7, 2, 20, 4), (12, 4, 2, 2),
                                                               (5, 8, 20, 1), (12, 1, 20, 12)])
def test_autoscalers_are_capped_at_the_partitions_over_the_threads(partitions, threads, asked, expected):
    common = ("--set", f"kafka.partitions={partitions}", "--set", f"threads={threads}")
    hpa = one(render("--set", "autoscaling.hpa.enabled=true", "--set", f"autoscaling.hpa.maxReplicas={asked}",
                     "--set", "autoscaling.hpa.minReplicas=1", *common), "HorizontalPodAutoscaler")
    assert hpa["spec"]["maxReplicas"] == expected
    keda = one(render("--set", "autoscaling.keda.enabled=true", "--set", f"autoscaling.keda.maxReplicaCount={asked}",
                      *common), "ScaledObject")
    assert keda["spec"]["maxReplicaCount"] == expected
    assert keda["spec"]["minReplicaCount"] <= expected


def test_keda_trigger_authentication_from_the_charts_secret():
    docs = render("-f", os.path.join(CHART, "ci", "keda-sasl-values.yaml"))
    auth = one(docs, "TriggerAuthentication")
    check_crd(auth, docs)
    assert auth["metadata"]["name"] == f"{FULLNAME}-keda"
    spec = auth["spec"]
    # the password from the chart's Secret, under the key the workers read; the CA given
    assert spec["secretTargetRef"] == [{"parameter": "password", "name": FULLNAME, "key": "HOOKD_KAFKA_SASL_PASSWORD"},
                                       {"parameter": "ca", "name": "kafka-ca", "key": "ca.crt"}]
    assert "HOOKD_KAFKA_SASL_PASSWORD" in secret_data(docs)
    # the username from the container KEDA scales, where the ConfigMap puts it
    assert spec["env"] == [{"parameter": "username", "name": "HOOKD_KAFKA_SASL_USERNAME", "containerName": "hookd"}]
    assert container(docs)["name"] == "hookd" and env(docs)["HOOKD_KAFKA_SASL_USERNAME"] == "hookd"
    for t in one(docs, "ScaledObject")["spec"]["triggers"]:
        assert t["metadata"]["sasl"] == "scram_sha512" and t["metadata"]["tls"] == "enable"
        assert t["authenticationRef"] == {"name": f"{FULLNAME}-keda", "kind": "TriggerAuthentication"}
    assert "ci-sasl-password" not in json.dumps(auth)
    # from an existing Secret: its key
    docs = render("-f", os.path.join(CHART, "ci", "existing-secret-values.yaml"), "--set", "autoscaling.keda.enabled=true")
    auth = one(docs, "TriggerAuthentication")
    assert auth["spec"]["secretTargetRef"] == [{"parameter": "password", "name": "hookd-credentials",
                                                "key": "kafka-password"}]
    assert {t["metadata"]["sasl"] for t in one(docs, "ScaledObject")["spec"]["triggers"]} == {"scram_sha256"}
    # an existing Secret without a key for it: the password as the worker gets it (extraEnv)
    docs = render("-f", os.path.join(CHART, "ci", "existing-secret-values.yaml"), "--set", "autoscaling.keda.enabled=true",
                  "--set", "existingSecretKeys.kafkaSaslPassword=")
    auth = one(docs, "TriggerAuthentication")
    check_crd(auth, docs)
    assert "secretTargetRef" not in auth["spec"]
    assert {"parameter": "password", "name": "HOOKD_KAFKA_SASL_PASSWORD", "containerName": "hookd"} in auth["spec"]["env"]
    # TLS alone: tls in the triggers, no SASL, nothing to authenticate with (the broker's CA
    # public, or given in triggerAuthentication.secretTargetRef)
    docs = render("--set", "autoscaling.keda.enabled=true", "--set", "kafka.config.security\\.protocol=SSL")
    assert not objects(docs, "TriggerAuthentication")
    triggers = one(docs, "ScaledObject")["spec"]["triggers"]
    assert all(t["metadata"]["tls"] == "enable" and "sasl" not in t["metadata"] for t in triggers)
    assert all("authenticationRef" not in t for t in triggers)
    ca = {"parameter": "ca", "name": "kafka-ca", "key": "ca.crt"}
    docs = render("--set", "autoscaling.keda.enabled=true", "--set", "kafka.config.security\\.protocol=SSL",
                  values={"autoscaling": {"keda": {"triggerAuthentication": {"secretTargetRef": [ca]}}}})
    assert one(docs, "TriggerAuthentication")["spec"] == {"secretTargetRef": [ca]}
    check_crd(one(docs, "TriggerAuthentication"), docs)
    # a TriggerAuthentication of one's own: none rendered, and sasl/tls left to it (KEDA refuses both)
    docs = render("-f", os.path.join(CHART, "ci", "keda-sasl-values.yaml"),
                  "--set", "autoscaling.keda.authenticationRef.name=mine")
    assert not objects(docs, "TriggerAuthentication")
    for t in one(docs, "ScaledObject")["spec"]["triggers"]:
        assert t["authenticationRef"] == {"name": "mine", "kind": "TriggerAuthentication"}
        assert "sasl" not in t["metadata"] and "tls" not in t["metadata"]
    # plain Kafka: no authentication at all
    docs = render("--set", "autoscaling.keda.enabled=true")
    assert not objects(docs, "TriggerAuthentication")
    assert all("authenticationRef" not in t for t in one(docs, "ScaledObject")["spec"]["triggers"])
    # a mechanism KEDA has no name for
    assert "sasl.mechanisms" in render_error("--set", "autoscaling.keda.enabled=true",
                                             "--set", "kafka.config.security\\.protocol=SASL_SSL",
                                             "--set", "kafka.config.sasl\\.mechanisms=AWS_MSK_IAM")


def test_keda_trigger_names_are_unique_for_topics_that_read_alike():
    docs = render("-f", os.path.join(CHART, "ci", "keda-sasl-values.yaml"))
    triggers = one(docs, "ScaledObject")["spec"]["triggers"]
    names = {t["metadata"]["topic"]: t["name"] for t in triggers}
    assert names["job.events"] != names["job_events"]
    assert all(re.fullmatch(r"topic-job-events-[0-9a-f]{8}", names[t]) for t in ("job.events", "job_events"))
    assert len(set(names.values())) == len(triggers)
    # the same topic keeps its name whatever the list around it
    again = one(render("--set", "autoscaling.keda.enabled=true", "--set", "kafka.topics={job_events}"),
                "ScaledObject")["spec"]["triggers"][0]
    assert again["name"] == names["job_events"]


def test_keda_passes_limit_to_partitions_with_lag_fallback_and_idle_replicas():
    docs = render("-f", os.path.join(CHART, "ci", "keda-sasl-values.yaml"))
    spec = one(docs, "ScaledObject")["spec"]
    assert spec["fallback"] == {"failureThreshold": 3, "replicas": 2}
    assert spec["idleReplicaCount"] == 0 and spec["minReplicaCount"] == 1
    assert all(t["metadata"]["limitToPartitionsWithLag"] == "true" for t in spec["triggers"])
    spec = one(render("--set", "autoscaling.keda.enabled=true"), "ScaledObject")["spec"]
    assert "fallback" not in spec and "idleReplicaCount" not in spec
    assert all("limitToPartitionsWithLag" not in t["metadata"] for t in spec["triggers"])
    # KEDA refuses an idle count not below the minimum, and takes only 0
    assert "idleReplicaCount" in render_error("--set", "autoscaling.keda.enabled=true",
                                              "--set", "autoscaling.keda.minReplicaCount=0",
                                              "--set", "autoscaling.keda.idleReplicaCount=0")
    assert "idleReplicaCount" in render_error("--set", "autoscaling.keda.idleReplicaCount=1")
    assert "fallback" in render_error(values={"autoscaling": {"keda": {"fallback": {"replicas": 2}}}})
    # and values.yaml says why waiting retries keep a scaled-to-zero deployment awake
    with open(os.path.join(CHART, "values.yaml")) as f:
        text = f.read()
    assert "Waiting retries keep a scaled-to-zero deployment awake" in text


def test_topic_prefix_names_every_topic_hookd_names():
    # (a group other than hookd: the tier groups <groupId>.retry.<delay> are no topics)
    args = ("--set", "kafka.topicPrefix=staging.hookd.", "--set", "topicsJob.enabled=true", "--set", "kafka.groupId=g",
            "--set", "autoscaling.keda.enabled=true", "--set", "retry.delays={1s,1m}", *INGRESS_ON)
    docs = render(*args)
    assert config(workers_only(docs))["HOOKD_TOPIC_PREFIX"] == "staging.hookd."
    e = ingress_env(docs)
    assert e["HOOKD_TOPIC_PREFIX"] == "staging.hookd." and e["HOOKD_INGRESS_TOPIC"] == "staging.hookd.inbound"
    script = one(docs, "Job")["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    created = [name for name, _, _ in re.findall(r"^create '?([^' ]+)'? (\S+) (\S+)$", script, re.M)]
    assert created == ["job-events", "staging.hookd.retry.1s", "staging.hookd.retry.1m", "staging.hookd.dlq",
                       "staging.hookd.deliveries", "staging.hookd.events", "staging.hookd.inbound"]
    tiers = [t["metadata"]["topic"] for t in one(docs, "ScaledObject")["spec"]["triggers"][1:]]
    assert tiers == ["staging.hookd.retry.1s", "staging.hookd.retry.1m"]
    # no rendered name of hookd's own topics keeps the default prefix
    rendered = json.dumps([d for d in docs if d["kind"] != "PrometheusRule"])
    assert not re.search(r"hookd\.(retry|dlq|deliveries|events|inbound)", rendered.replace("staging.hookd.", ""))
    # the default is hookd.; an explicit ingress.topic wins; a prefix Kafka cannot name is refused
    assert config(render())["HOOKD_TOPIC_PREFIX"] == "hookd."
    assert ingress_env(render(*INGRESS_ON, "--set", "ingress.topic=in"))["HOOKD_INGRESS_TOPIC"] == "in"
    assert "topicPrefix" in render_error("--set", "kafka.topicPrefix=a b")


def test_operator_values_reach_the_pods():
    docs = render("-f", os.path.join(CHART, "ci", "operator-values.yaml"))
    deployment = one([d for d in docs if d["metadata"]["name"] == FULLNAME], "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["minReadySeconds"] == 10
    c = container(workers_only(docs))
    assert c["envFrom"][1:] == [{"configMapRef": {"name": "hookd-extra-settings"}},
                                {"secretRef": {"name": "hookd-extra-secrets"}}]
    assert [x["name"] for x in pod["initContainers"]] == ["wait-for-redis"]
    assert [x["name"] for x in pod["containers"]] == ["hookd", "log-shipper"]
    assert c["lifecycle"] == {"preStop": {"exec": {"command": ["/bin/sleep", "3"]}}}
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "probes"}
    assert c["startupProbe"]["failureThreshold"] == 60
    assert c["livenessProbe"] == {"httpGet": {"path": "/healthz", "port": "probes"}, "periodSeconds": 20,
                                  "failureThreshold": 3}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes"}
    assert pod["dnsConfig"] == {"options": [{"name": "ndots", "value": "1"}]}
    # Bitnami's globals: every image from the mirror, every pod with both pull secrets
    images = {x["image"] for _, spec in pod_specs(docs) for x in spec["containers"] + spec.get("initContainers", [])}
    version = chart_yaml()["appVersion"]
    assert {f"registry.example.internal/hookd/hookd:{version}", "registry.example.internal/apache/kafka:3.9.1"} <= images
    assert all(i.startswith("registry.example.internal/") for i in images), images
    for name, spec in pod_specs(docs):
        assert spec["imagePullSecrets"] == [{"name": "mirror-pull"}, {"name": "hookd-pull"}], name
    # tests.enabled: false, no helm test pod
    assert not objects(docs, "Pod")
    assert objects(render(), "Pod")
    assert one(render("--set", "global.imageRegistry=mirror.example"), "Pod")["spec"]["containers"][0]["image"] == \
        "mirror.example/busybox:1.36.1"
    # hookd-ingress's own
    ingress = ingress_one(docs, "Deployment")
    assert ingress["spec"]["minReadySeconds"] == 5
    assert ingress_container(docs)["envFrom"][1:] == [{"configMapRef": {"name": "hookd-extra-settings"}}]
    assert ingress["spec"]["template"]["spec"]["dnsConfig"] == {"options": [{"name": "ndots", "value": "1"}]}
    # whole probes of one's own replace the chart's readiness and startup probes too
    custom = {"customReadinessProbe": {"tcpSocket": {"port": "probes"}, "periodSeconds": 7},
              "customStartupProbe": {"exec": {"command": ["/bin/true"]}, "failureThreshold": 9}}
    c = container(render(values=custom))
    assert c["readinessProbe"] == custom["customReadinessProbe"]
    assert c["startupProbe"] == custom["customStartupProbe"]
    # hookd-ingress takes init containers and sidecars of its own
    extra = {"ingress": {"enabled": True,
                         "initContainers": [{"name": "in-init", "image": "busybox:1.36.1"}],
                         "sidecars": [{"name": "in-side", "image": "busybox:1.36.1"}]}}
    spec = ingress_one(render(values=extra), "Deployment")["spec"]["template"]["spec"]
    assert [x["name"] for x in spec["initContainers"]] == ["in-init"]
    assert [x["name"] for x in spec["containers"]][1:] == ["in-side"]
    # none of it by default; the old test: value is refused by name
    c = container(render())
    assert "startupProbe" not in c and "lifecycle" not in c and c["envFrom"] == [{"configMapRef": {"name": FULLNAME}}]
    assert "test" in render_error(values={"test": {"image": {"tag": "1"}}})
    # and the values.yaml comment gives the ndots advice
    with open(os.path.join(CHART, "values.yaml")) as f:
        assert "ndots" in f.read()


def test_the_admin_api_on_a_port_of_its_own():
    """api.port: HOOKD_API_LISTEN, a container and Service port named api, and a NetworkPolicy
    rule that lets only networkPolicy.ingress.apiFrom reach it, apart from the metrics port."""
    docs = render()
    assert config(docs)["HOOKD_API_LISTEN"] == ""  # the API shares HOOKD_LISTEN
    assert [p["name"] for p in container(docs)["ports"]] == ["http", "probes"]
    assert [p["name"] for p in one(docs, "Service")["spec"]["ports"]] == ["http"]
    docs = render("-f", os.path.join(CHART, "ci", "network-values.yaml"))
    assert config(docs)["HOOKD_API_LISTEN"] == "0.0.0.0:8082"
    assert {"name": "api", "containerPort": 8082, "protocol": "TCP"} in container(docs)["ports"]
    service = one(docs, "Service")["spec"]["ports"]
    assert {"name": "api", "port": 8082, "targetPort": "api", "protocol": "TCP"} in service
    policy = one(docs, "NetworkPolicy")["spec"]["ingress"]
    by_port = {rule["ports"][0]["port"]: rule.get("from") for rule in policy}
    assert by_port["api"] == [{"podSelector": {"matchLabels": {"app": "job-platform"}}}]
    assert by_port["http"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    # the probes' and metrics' ports cannot be taken
    assert "api" in render_error("--set", "api.port=8080")
    assert "api" in render_error("--set", "api.port=8081")

# --------------------------------------------------------- Redis over TLS (redis.tls) --

TLS_NAME = "rel-hookd-redis-tls"
TLS_ON = ("--set", "redis.url=rediss://hookd@redis.data.svc:6380/3", *INGRESS_ON)


def named(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found[0] if found else None


def pods(docs):
    """The worker's and hookd-ingress's pod templates, by Deployment name."""
    return {d["metadata"]["name"]: d["spec"]["template"] for d in objects(docs, "Deployment")}


def worker_config(docs):
    """The workers' ConfigMap (with TLS on, the sidecar's is a second one)."""
    return named(docs, "ConfigMap", FULLNAME)["data"]


def stunnel_conf(docs):
    return named(docs, "ConfigMap", TLS_NAME)["data"]["stunnel.conf"]


def stunnel_options(docs):
    """stunnel.conf's [redis] section as option -> values (socket repeats)."""
    section = stunnel_conf(docs).split("[redis]", 1)[1]
    out = {}
    for line in section.splitlines():
        if line.strip() and not line.startswith(";"):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_redis_tls_sidecar_renders_only_when_tls_is_on():
    plain = render(*INGRESS_ON, "--set", "redis.url=redis://hookd@redis:6379/3")
    for name, pod in pods(plain).items():
        assert "redis-tls" not in [c["name"] for c in pod["spec"]["containers"]], name
        assert "redis-tls-config" not in [v["name"] for v in pod["spec"]["volumes"]]
        assert "checksum/redis-tls" not in pod["metadata"]["annotations"]
    assert not named(plain, "ConfigMap", TLS_NAME) and not named(plain, "Secret", TLS_NAME)
    assert worker_config(plain)["HOOKD_REDIS_URL"] == "redis://hookd@redis:6379/3"

    for args in (TLS_ON, (*INGRESS_ON, "--set", "redis.url=redis://hookd@redis.data.svc:6380/3",
                          "--set", "redis.tls.enabled=true")):
        docs = render(*args)  # validated strictly, as every render
        for name, main in ((FULLNAME, "hookd"), (INGRESS_NAME, "hookd-ingress")):
            pod = pods(docs)[name]
            containers = pod["spec"]["containers"]
            assert [c["name"] for c in containers] == ["redis-tls", main], name
            sidecar = containers[0]
            assert sidecar["image"] == containers[1]["image"], "one image for both"
            assert sidecar["command"] == ["/usr/bin/stunnel", "/etc/hookd/stunnel/stunnel.conf"]
            assert sidecar["securityContext"]["readOnlyRootFilesystem"] is True
            assert "/dev/tcp/127.0.0.1/6379" in sidecar["lifecycle"]["postStart"]["exec"]["command"][-1]
            assert sidecar["lifecycle"]["preStop"]["exec"]["command"][0] == "/bin/sleep"
            assert pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == main
            assert "checksum/redis-tls" in pod["metadata"]["annotations"]
            volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
            assert volumes["redis-tls-config"]["configMap"]["name"] == TLS_NAME
            assert "redis-tls-certs" not in volumes, "no CA given: the image's bundle"
        # hookd and hookd-ingress go to the tunnel, the user and the database kept
        assert worker_config(docs)["HOOKD_REDIS_URL"] == "redis://hookd@127.0.0.1:6379/3"
        assert ingress_one(docs, "ConfigMap")["data"]["HOOKD_REDIS_URL"] == \
            "redis://hookd@127.0.0.1:6379/3"
        o = stunnel_options(docs)
        assert o["client"] == ["yes"] and o["accept"] == ["127.0.0.1:6379"]
        assert o["connect"] == ["redis.data.svc:6380"] and o["delay"] == ["yes"]
        assert o["verifyChain"] == ["yes"] and o["checkHost"] == ["redis.data.svc"]
        assert o["sni"] == ["redis.data.svc"] and o["sslVersionMin"] == ["TLSv1.2"]
        assert o["CAfile"] == ["/etc/ssl/certs/ca-certificates.crt"]
        assert "cert" not in o and "key" not in o
        assert not named(docs, "Secret", TLS_NAME)


def test_redis_tls_takes_the_ca_and_client_certificate_from_either_secret():
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    key = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
    docs = render(*TLS_ON, "--set-string", f"redis.tls.ca={pem}", "--set-string",
                  f"redis.tls.cert={pem}", "--set-string", f"redis.tls.key={key}",
                  "--set", "redis.password=redis-pw-123")
    data = named(docs, "Secret", TLS_NAME)["data"]
    assert {k: base64.b64decode(v).decode() for k, v in data.items()} == \
        {"ca.crt": pem, "tls.crt": pem, "tls.key": key}
    o = stunnel_options(docs)
    assert o["CAfile"] == ["/etc/hookd/redis-tls/ca.crt"]
    assert o["cert"] == ["/etc/hookd/redis-tls/tls.crt"] and o["key"] == ["/etc/hookd/redis-tls/tls.key"]
    for pod in pods(docs).values():
        certs = {v["name"]: v for v in pod["spec"]["volumes"]}["redis-tls-certs"]["secret"]
        assert certs["secretName"] == TLS_NAME
        assert certs["items"] == [{"key": f, "path": f} for f in ("ca.crt", "tls.crt", "tls.key")]
        mounts = {m["name"]: m for m in pod["spec"]["containers"][0]["volumeMounts"]}
        assert mounts["redis-tls-certs"]["mountPath"] == "/etc/hookd/redis-tls"
    # the password stays in the chart's Secret: the sidecar never holds it
    assert "redis-pw-123" not in json.dumps([d for d in docs if d["kind"] != "Secret"])
    assert secret_data([d for d in docs if d["metadata"]["name"] != TLS_NAME])[
        "HOOKD_REDIS_PASSWORD"] == "redis-pw-123"

    # an existing Secret (cert-manager's keys), the chart's CI values
    docs = render("-f", os.path.join(CHART, "ci", "existing-secret-values.yaml"))
    assert not objects(docs, "Secret")
    pod = pods(docs)[FULLNAME]
    certs = {v["name"]: v for v in pod["spec"]["volumes"]}["redis-tls-certs"]["secret"]
    assert certs["secretName"] == "hookd-redis-client-tls"
    assert certs["items"] == [{"key": "ca.crt", "path": "ca.crt"}, {"key": "tls.crt", "path": "tls.crt"},
                              {"key": "tls.key", "path": "tls.key"}]
    assert worker_config(docs)["HOOKD_REDIS_URL"] == "redis://hookd@127.0.0.1:6379/0"
    password = next(e for e in pod["spec"]["containers"][1]["env"] if e["name"] == "HOOKD_REDIS_PASSWORD")
    assert password["valueFrom"]["secretKeyRef"]["name"] == "hookd-credentials"
    assert password["valueFrom"]["secretKeyRef"]["key"] == "redis-password"
    assert stunnel_options(docs)["connect"] == ["redis.data.svc:6380"]


def test_redis_tls_names_and_verification_follow_the_values():
    o = stunnel_options(render(*TLS_ON, "--set", "redis.tls.serverName=redis.internal.example",
                               "--set", "redis.tls.localPort=16380"))
    assert o["sni"] == ["redis.internal.example"] and o["checkHost"] == ["redis.internal.example"]
    assert o["accept"] == ["127.0.0.1:16380"]
    o = stunnel_options(render("--set", "redis.url=rediss://10.1.2.3:6380/0"))
    assert o["checkIP"] == ["10.1.2.3"] and "sni" not in o and "checkHost" not in o
    o = stunnel_options(render("--set", "redis.url=rediss://redis:6380/0", "--set",
                               "redis.tls.verifyChain=false", "--set", "redis.tls.checkHost=false"))
    assert o["verifyChain"] == ["no"] and "checkHost" not in o
    assert worker_config(render("--set", "redis.url=rediss://redis", "--set", "redis.tls.localPort=7000"))[
        "HOOKD_REDIS_URL"] == "redis://127.0.0.1:7000/0"


def test_the_chart_refuses_redis_tls_settings_that_cannot_work():
    pem = "--set-string", "redis.tls.cert=PEM"
    assert "redis.tls.key" in render_error(*TLS_ON, *pem)
    assert "redis.tls.certKeyFilename" in render_error(
        *TLS_ON, "--set", "redis.tls.existingSecret=s", "--set", "redis.tls.certFilename=tls.crt")
    assert "redis.tls.verifyChain" in render_error(*TLS_ON, "--set", "redis.tls.verifyChain=false")
    assert "redis.tls.existingSecret" in render_error(
        *TLS_ON, "--set", "redis.tls.existingSecret=s", "--set-string", "redis.tls.ca=PEM")
    assert "localPort" in render_error("--set", "redis.url=rediss://127.0.0.1:6379/0")
    assert "redis.password" in render_error("--set", "redis.url=rediss://u:pw@redis:6380/0")
