"""hookd-ingress against the real broker and Redis: a provider's signed request becomes one
record on the endpoint's topic, keyed by its flow, answered only after Kafka acknowledged it;
forgeries, unknown endpoints, malformed and oversized bodies are refused; a provider's retry of
an accepted event is answered and not queued again; a challenge source answers its challenge
and stays closed until then.

Signatures are computed here with Python's hmac, independently of hookd's C code. Endpoints are
written into Redis in the store's layout (docs/redis.md) until `hookctl inbound` lands.
"""
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from conftest import BUILD

INGRESS = os.path.join(BUILD, "cmd", "hookd-ingress")
SECRET = "it's-a-secret-1234"


class Ingress:
    def __init__(self, stack, tmp_path, topic, prefix, extra_env=None):
        self.env = dict(os.environ)
        self.env.update({"HOOKD_KAFKA_BOOTSTRAP_SERVERS": stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
                         "HOOKD_REDIS_URL": stack["HOOKD_REDIS_URL"],
                         "HOOKD_REDIS_PREFIX": prefix,
                         "HOOKD_INGRESS_TOPIC": topic,
                         "HOOKD_INGRESS_LISTEN": "127.0.0.1:0",
                         "HOOKD_LOG_LEVEL": "debug"})
        self.env.update(extra_env or {})
        self.log_path = tmp_path / f"ingress-{uuid.uuid4().hex[:6]}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([INGRESS], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        self.port = None
        while time.time() < deadline and self.port is None and self.proc.poll() is None:
            for line in self.lines():
                m = re.search(r'"event":"start".*\(port (\d+)\)', line)
                if m:
                    self.port = int(m.group(1))
            time.sleep(0.1)
        assert self.port, "hookd-ingress did not start:\n" + "\n".join(self.lines()[-20:])

    def lines(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace").splitlines()

    def post(self, path, body=b"", headers=None, method="POST"):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body or None,
                                     headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def metric(self, series):
        _, text, _ = self.post("/metrics", method="GET")
        for line in text.decode().splitlines():
            if line.startswith(series + " "):
                return float(line.split()[1])
        raise AssertionError(f"{series} is not in /metrics")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.log.close()
        return self.proc.returncode


def redis(stack, *args):
    out = subprocess.run(["redis-cli", "-u", stack["HOOKD_REDIS_URL"], *args],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def put_endpoint(stack, prefix, endpoint, verified=False):
    """Writes an endpoint as the store does (the JSON, the name index, its state, the version)."""
    redis(stack, "SET", f"{prefix}inbound:{endpoint['id']}", json.dumps(endpoint))
    redis(stack, "HSET", f"{prefix}inbound:names", endpoint["name"], endpoint["id"])
    redis(stack, "HSET", f"{prefix}inbound:state", endpoint["id"],
          f"{1 if verified else 0}:{int(time.time() * 1000)}")
    redis(stack, "INCR", f"{prefix}inbound:version")


def records(stack, topic, n, timeout=20):
    """(key, record) of the topic's records, from its start, until n are read or timeout."""
    consumer = Consumer({"bootstrap.servers": stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
                         "group.id": f"it-ingress-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    found = []
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        deadline = time.time() + timeout
        while len(found) < n and time.time() < deadline:
            msg = consumer.poll(0.3)
            if msg is None or msg.error():
                continue
            found.append((msg.key().decode(), json.loads(msg.value())))
    finally:
        consumer.close()
    return found


def github_headers(body, secret=SECRET, delivery=None):
    sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": sig,
            "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery or str(uuid.uuid4())}


@pytest.fixture
def ingress(stack, tmp_path):
    tag = uuid.uuid4().hex[:10]
    made = []

    def start(extra_env=None):
        ing = Ingress(stack, tmp_path, f"it-inbound-{tag}", f"it{tag}:", extra_env)
        made.append(ing)
        return ing
    start.tag = tag
    start.topic = f"it-inbound-{tag}"
    start.prefix = f"it{tag}:"
    yield start
    for ing in made:
        ing.stop()


def github_endpoint(tag, **extra):
    ep = {"id": f"in_gh{tag}", "name": f"github-{tag}", "flowId": f"flow-{tag}",
          "source": "github", "secret": SECRET, "enabled": True, "startFlow": True}
    ep.update(extra)
    return ep


def test_a_signed_github_push_becomes_one_record_keyed_by_its_flow(stack, ingress):
    ep = github_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep)
    ing = ingress()
    body = json.dumps({"ref": "refs/heads/main", "commits": [{"id": "abc"}]}).encode()
    headers = github_headers(body, delivery="d-1")
    headers["Authorization"] = "Bearer should-not-travel"
    status, reply, _ = ing.post(f"/in/{ep['id']}?tag=v1", body, headers)
    assert (status, json.loads(reply)) == (200, {"ok": True})
    got = records(stack, ingress.topic, 1)
    assert len(got) == 1
    key, rec = got[0]
    assert key == ep["flowId"]
    assert rec["endpointId"] == ep["id"] and rec["source"] == "github"
    assert rec["payload"] == {"ref": "refs/heads/main", "commits": [{"id": "abc"}]}
    assert rec["body"] == body.decode()
    assert rec["providerEventId"] == "d-1" and rec["startFlow"] is True
    assert rec["query"] == {"tag": "v1"} and rec["method"] == "POST"
    assert rec["headers"]["x-github-event"] == "push"
    for gone in ("authorization", "x-hub-signature-256"):
        assert gone not in rec["headers"], rec["headers"]
    assert rec["matchedWaits"] == []
    # the first request that passed proves the endpoint
    assert redis(stack, "HGET", f"{ingress.prefix}inbound:state", ep["id"]).startswith("1:")
    assert ing.metric('hookd_ingress_requests_total{outcome="accepted"}') == 1


def test_forgeries_and_unknown_endpoints_get_404_without_detail(stack, ingress):
    ep = github_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep)
    off = github_endpoint(ingress.tag, id=f"in_off{ingress.tag}", name=f"off-{ingress.tag}",
                          enabled=False)
    put_endpoint(stack, ingress.prefix, off)
    ing = ingress()
    body = b'{"a":1}'
    cases = [
        (f"/in/{ep['id']}", github_headers(body, secret="wrong-secret"), "bad_signature"),
        (f"/in/{ep['id']}", {"Content-Type": "application/json"}, "missing_signature"),
        (f"/in/in_nope{ingress.tag}", github_headers(body), "unknown_endpoint"),
        (f"/in/{off['id']}", github_headers(body), "disabled"),
    ]
    for path, headers, reason in cases:
        status, reply, _ = ing.post(path, body, headers)
        assert (status, reply) == (404, b""), (reason, status, reply)
        assert ing.metric(f'hookd_ingress_rejected_total{{reason="{reason}"}}') == 1, reason
    tampered = github_headers(b'{"a":2}')
    assert ing.post(f"/in/{ep['id']}", body, tampered)[0] == 404
    assert records(stack, ingress.topic, 1, timeout=3) == []
    assert not any(SECRET in line for line in ing.lines())


def test_a_providers_retry_of_an_accepted_event_is_answered_and_not_queued_again(stack, ingress):
    ep = github_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep, verified=True)
    ing = ingress()
    body = b'{"n":1}'
    for _ in range(3):
        status, reply, _ = ing.post(f"/in/{ep['id']}", body, github_headers(body, delivery="same"))
        assert status == 200, reply
    assert len(records(stack, ingress.topic, 2, timeout=5)) == 1
    assert ing.metric('hookd_ingress_requests_total{outcome="duplicate"}') == 2


def test_malformed_and_oversized_bodies(stack, ingress):
    ep = github_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep, verified=True)
    ing = ingress({"HOOKD_INGRESS_MAX_BODY": "2048"})
    bad = b'{"a": '
    status, reply, _ = ing.post(f"/in/{ep['id']}", bad, github_headers(bad))
    assert status == 400 and reply.decode().startswith("payload: "), reply
    big = b'{"pad":"' + b"x" * 4096 + b'"}'
    status, _, _ = ing.post(f"/in/{ep['id']}", big, github_headers(big))
    assert status == 413
    assert records(stack, ingress.topic, 1, timeout=3) == []


def test_a_slack_endpoint_answers_its_challenge_and_ignores_the_rest_until_then(stack, ingress):
    ep = {"id": f"in_sl{ingress.tag}", "name": f"slack-{ingress.tag}", "flowId": "f",
          "source": "slack", "secret": SECRET, "enabled": True}
    put_endpoint(stack, ingress.prefix, ep)
    ing = ingress()

    def slack(body):
        ts = str(int(time.time()))
        sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body,
                               hashlib.sha256).hexdigest()
        return {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": sig}
    event = json.dumps({"type": "event_callback", "event_id": "Ev1",
                        "event": {"type": "message"}}).encode()
    assert ing.post(f"/in/{ep['id']}", event, slack(event))[0] == 404
    challenge = json.dumps({"type": "url_verification", "challenge": "c-42"}).encode()
    status, reply, _ = ing.post(f"/in/{ep['id']}", challenge, slack(challenge))
    assert (status, reply) == (200, b"c-42")
    assert redis(stack, "HGET", f"{ingress.prefix}inbound:state", ep["id"]).startswith("1:")
    deadline = time.time() + 5  # the snapshot follows the state within a poll
    while time.time() < deadline:
        status = ing.post(f"/in/{ep['id']}", event, slack(event))[0]
        if status == 200:
            break
        time.sleep(0.2)
    assert status == 200
    got = records(stack, ingress.topic, 1)
    assert got[0][1]["providerEventId"] == "Ev1"


def test_while_kafka_is_down_a_request_gets_503_and_its_retry_is_taken_once_it_is_back(
        stack, ingress):
    """Nothing is answered as accepted before Kafka holds it: with the broker stopped the
    request waits HOOKD_INGRESS_ACK_TIMEOUT_MS and gets 503 + Retry-After (its event id is
    released, so the provider's retry is not taken for a duplicate); once the broker is back
    the same request is accepted, and every acknowledged one is on the topic."""
    from test_faults import stack_cmd
    ep = github_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep, verified=True)
    ing = ingress({"HOOKD_INGRESS_ACK_TIMEOUT_MS": "2000"})
    before = b'{"n":0}'
    assert ing.post(f"/in/{ep['id']}", before, github_headers(before, delivery="d-0"))[0] == 200
    body = b'{"n":1}'
    slow = ingress({"HOOKD_INGRESS_ACK_TIMEOUT_MS": "60000", "HOOKD_SHUTDOWN_GRACE_MS": "500"})
    stack_cmd("stop", "kafka")
    try:
        t0 = time.time()
        status, _, headers = ing.post(f"/in/{ep['id']}", body, github_headers(body, delivery="d-1"))
        waited = time.time() - t0
        assert status == 503, status
        assert headers.get("Retry-After") == "5"
        assert 1.5 < waited < 10, f"answered after {waited:.1f} s"
        # a stop while a request waits answers it 503 (the provider retries) and exits 0
        answer = {}

        def post():
            answer["status"] = slow.post(f"/in/{ep['id']}", body,
                                         github_headers(body, delivery="d-2"))[0]
        import threading
        waiter = threading.Thread(target=post)
        waiter.start()
        time.sleep(1)
        t0 = time.time()
        assert slow.stop() == 0
        waiter.join(10)
        assert answer.get("status") == 503, answer
        assert time.time() - t0 < 10
    finally:
        stack_cmd("up")
    deadline = time.time() + 90
    status = 0
    while time.time() < deadline and status != 200:
        status = ing.post(f"/in/{ep['id']}", body, github_headers(body, delivery="d-1"))[0]
        if status != 200:
            time.sleep(1)
    assert status == 200, "the retry was not taken once Kafka was back"
    got = [rec["providerEventId"] for _, rec in records(stack, ingress.topic, 3, timeout=20)]
    assert got.count("d-0") == 1 and got.count("d-1") >= 1, got
    assert ing.metric('hookd_ingress_requests_total{outcome="unavailable"}') >= 1


def test_trickling_clients_are_cut_and_the_probes_stay_answerable(stack, ingress):
    """200 connections that trickle their headers one byte a second are shut down once their
    5 s header deadline passes; meanwhile /healthz answers at once and a real request is
    taken."""
    import socket
    ep = github_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep, verified=True)
    ing = ingress()
    socks = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", ing.port), timeout=5)
        s.sendall(b"POST /in/x HTTP/1.1\r\nHost: a\r\n")
        socks.append(s)
    t0 = time.time()
    closed = set()
    while time.time() - t0 < 12 and len(closed) < len(socks):
        for i, s in enumerate(socks):
            if i in closed:
                continue
            try:
                s.sendall(b"X")
            except OSError:
                closed.add(i)
        start = time.time()
        status, _, _ = ing.post("/healthz", method="GET")
        assert status == 200 and time.time() - start < 1, "the probe waited"
        time.sleep(1)
    cut_after = time.time() - t0
    body = b'{"while":"trickling"}'
    assert ing.post(f"/in/{ep['id']}", body, github_headers(body))[0] == 200
    for s in socks:
        s.close()
    assert len(closed) == len(socks), f"{len(socks) - len(closed)} trickling connections left"
    assert 4 < cut_after < 12, cut_after
    assert ing.metric("hookd_ingress_slow_clients_total") >= 200


def test_bodies_held_at_once_are_bounded(stack, ingress):
    """Each body may be HOOKD_INGRESS_MAX_BODY, and all held at once at most 16 of them: a
    request that would pass that is answered 503 (the provider retries), not buffered."""
    import socket
    ep = github_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep, verified=True)
    ing = ingress({"HOOKD_INGRESS_MAX_BODY": "65536"})  # a budget of 1 MiB
    held = []
    for _ in range(16):  # 16 uploads of 64 KiB each, stalled just before their end
        s = socket.create_connection(("127.0.0.1", ing.port), timeout=5)
        s.sendall(b"POST /in/" + ep["id"].encode() + b" HTTP/1.1\r\nHost: a\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 65536\r\n\r\n" +
                  b" " * 65535)
        held.append(s)
    time.sleep(1)
    body = b'{"a":"' + b"x" * 4096 + b'"}'  # 16 x 65535 held: 4 KiB more passes 1 MiB
    status, _, headers = ing.post(f"/in/{ep['id']}", body, github_headers(body))
    assert status == 503 and headers.get("Retry-After") == "5", status
    for s in held:
        s.close()
    time.sleep(0.5)
    assert ing.post(f"/in/{ep['id']}", body, github_headers(body))[0] == 200, "the budget came back"
