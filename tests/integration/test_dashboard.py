"""The Grafana dashboard (deploy/grafana/hookd.json) cannot drift from what hookd exports: every
metric its queries name is a family of a real /metrics scrape of a worker; every query parses
as PromQL (promtool, with Grafana's variables filled in) and is scoped to the chosen namespace
and job; and the chart's ConfigMap embeds the same JSON, labelled for the Grafana sidecar."""
import json
import os
import re
import shutil
import subprocess
import urllib.request

import yaml

from test_helm import CHART, NAMESPACE, objects, one, render

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "hookd.json")
CHART_DASHBOARD = os.path.join(CHART, "files", "hookd-dashboard.json")
METRIC = re.compile(r"\b((?:hookd|process)_[a-z0-9_]+)\b")


def load():
    with open(DASHBOARD) as f:
        return json.load(f)


def panels(dash):
    for p in dash["panels"]:
        yield p
        yield from p.get("panels", [])  # a collapsed row holds its panels


def queries(dash):
    """Every PromQL the dashboard runs: the panels' targets and the variables' queries."""
    for p in panels(dash):
        for t in p.get("targets", []):
            yield p["title"], t["expr"]
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            yield f"variable {v['name']}", v["query"]["query"]


def scraped_families(text):
    """Metric names a scrape holds: each family from its TYPE line, a histogram's three series."""
    names = set()
    for kind_line in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        name, kind = kind_line
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def test_every_metric_the_dashboard_queries_is_on_a_real_scrape(env, worker_factory):
    dash = load()
    worker = worker_factory(env.topic, env.group, env.prefix, {"HOOKD_LOG_LEVEL": "info"})
    text = urllib.request.urlopen(f"http://127.0.0.1:{worker.port()}/metrics",
                                  timeout=5).read().decode()
    exported = scraped_families(text)
    used = {}
    for where, expr in queries(dash):
        names = set(METRIC.findall(expr))
        assert names, (where, expr)
        for name in names:
            used.setdefault(name, where)
    missing = {name: where for name, where in used.items() if name not in exported}
    assert not missing, f"the dashboard queries metrics hookd does not export: {missing}"
    # what the issue asks a panel for, by the metric that shows it
    for name in ("hookd_deliveries_total", "hookd_delivery_attempts_total",
                 "hookd_delivery_attempt_duration_seconds_bucket",
                 "hookd_delivery_end_to_end_seconds_bucket", "hookd_kafka_consumer_lag",
                 "hookd_retries_published_total", "hookd_dlq_records_total",
                 "hookd_host_queue_depth", "hookd_host_failed_attempts", "hookd_task_cache_tasks",
                 "hookd_redis_up",
                 "hookd_rebalances_total", "process_resident_memory_bytes"):
        assert name in used, f"no panel shows {name}"
    assert worker.stop() == 0


def test_the_dashboard_is_well_formed_and_its_queries_parse(tmp_path):
    dash = load()
    assert dash["uid"] and dash["title"] == "hookd" and dash["schemaVersion"] >= 36
    ids = [p["id"] for p in panels(dash)]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for p in panels(dash):
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert p["targets"] and p.get("description"), p["title"]
        for t in p["targets"]:
            # scoped like the alerts: this namespace's release only
            assert 'namespace="$namespace",job="$job"' in t["expr"], (p["title"], t["expr"])
    # each query is PromQL: promtool parses them as recording rules, variables filled in
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing (Debian package prometheus, installed by set-up)"
    def promql(expr):  # Grafana's label_values(selector, label) queries the selector
        m = re.fullmatch(r"label_values\((.+),\s*\w+\)", expr)
        expr = m.group(1) if m else expr
        return expr.replace("$__rate_interval", "5m").replace("$namespace", "ns") \
            .replace("$job", "hookd")
    rules = [{"record": f"dashboard:q{i}", "expr": promql(expr)}
             for i, (_, expr) in enumerate(queries(dash))]
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    check = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_chart_embeds_the_same_dashboard_for_the_grafana_sidecar():
    with open(DASHBOARD) as f:
        want = f.read()
    with open(CHART_DASHBOARD) as f:
        assert f.read() == want, "helm/hookd/files/hookd-dashboard.json != deploy/grafana/hookd.json"
    assert not [cm for cm in objects(render(), "ConfigMap") if "hookd.json" in cm.get("data", {})], \
        "off by default"
    cm = one([d for d in objects(render("--set", "metrics.grafanaDashboard.enabled=true"),
                                 "ConfigMap") if "hookd.json" in d.get("data", {})], "ConfigMap")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == NAMESPACE
    assert cm["data"]["hookd.json"].strip() == want.strip()
    assert json.loads(cm["data"]["hookd.json"]) == json.loads(want)
    # the label, its value and the namespace are the operator's (a sidecar configured otherwise)
    docs = render("--set", "metrics.grafanaDashboard.enabled=true",
                  "--set", "metrics.grafanaDashboard.label=example.com/dashboard",
                  "--set", "metrics.grafanaDashboard.labelValue=hookd",
                  "--set", "metrics.grafanaDashboard.namespace=monitoring",
                  "--set", "metrics.grafanaDashboard.annotations.grafana_folder=Webhooks")
    cm = [d for d in objects(docs, "ConfigMap") if "hookd.json" in d.get("data", {})][0]
    assert cm["metadata"]["labels"]["example.com/dashboard"] == "hookd"
    assert "grafana_dashboard" not in cm["metadata"]["labels"]
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["annotations"]["grafana_folder"] == "Webhooks"
