"""Kubernetes service links: the variables Kubernetes gives a pod for every Service of its
namespace (unless the pod spec sets enableServiceLinks: false, as the chart does). A Service
named hookd-kafka-bootstrap yields HOOKD_KAFKA_BOOTSTRAP_SERVICE_HOST and its kin, which hookd
used to hand librdkafka as properties (bootstrap.service.host), and librdkafka refused them:
the worker exited at start. Now it skips them with one warning naming them, and runs."""
import json
import time
import urllib.error
import urllib.request

# What Kubernetes makes for a Service hookd-kafka-bootstrap with a port named tcp-clients, and
# for one named hookd-kafka.
SERVICE_LINKS = {
    "HOOKD_KAFKA_BOOTSTRAP_SERVICE_HOST": "10.96.0.7",
    "HOOKD_KAFKA_BOOTSTRAP_SERVICE_PORT": "9092",
    "HOOKD_KAFKA_BOOTSTRAP_SERVICE_PORT_TCP_CLIENTS": "9092",
    "HOOKD_KAFKA_BOOTSTRAP_PORT": "tcp://10.96.0.7:9092",
    "HOOKD_KAFKA_BOOTSTRAP_PORT_9092_TCP": "tcp://10.96.0.7:9092",
    "HOOKD_KAFKA_BOOTSTRAP_PORT_9092_TCP_PROTO": "tcp",
    "HOOKD_KAFKA_BOOTSTRAP_PORT_9092_TCP_PORT": "9092",
    "HOOKD_KAFKA_BOOTSTRAP_PORT_9092_TCP_ADDR": "10.96.0.7",
    "HOOKD_KAFKA_SERVICE_HOST": "10.96.0.8",
    "HOOKD_KAFKA_PORT": "tcp://10.96.0.8:9093",
}


def test_hookd_starts_with_service_link_variables_and_names_them_once(env, worker_factory):
    worker = worker_factory(env.topic, env.group, env.prefix, extra_env=SERVICE_LINKS)
    # it joined its group (worker_factory waits for kafka.assign) and becomes ready (every
    # consumer, tiers too, assigned)
    deadline = time.time() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{worker.probe_port()}/readyz", timeout=5) as r:
                assert r.status == 200
                break
        except urllib.error.HTTPError as e:
            assert e.code == 503 and time.time() < deadline, f"/readyz {e.code}: {e.read().decode()}"
            time.sleep(0.5)
    lines = [json.loads(line) for line in worker.lines() if line.startswith("{")]
    warnings = [line for line in lines if line.get("event") == "config.service_links"]
    assert len(warnings) == 1, warnings
    warning = warnings[0]
    assert warning["level"] == "warn"
    assert warning["ignored"] == len(SERVICE_LINKS)
    assert set(warning["names"].split(", ")) == set(SERVICE_LINKS)
    # names only: no value of theirs reaches the log
    text = "\n".join(worker.lines())
    assert "10.96.0.7" not in text and "10.96.0.8" not in text
    assert worker.stop() == 0
