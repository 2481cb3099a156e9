"""hookd-ingress against the real broker and Redis: a provider's signed request becomes one
record on the endpoint's topic, keyed by its flow, answered only after Kafka acknowledged it;
forgeries, unknown endpoints, malformed and oversized bodies are refused; a provider's retry of
an accepted event is answered and not queued again; a challenge source answers its challenge
and stays closed until then.

Signatures are computed here with Python's hmac or the providers' own packages, independently of
hookd's C code. Endpoints are written into Redis in the store's layout (docs/redis.md), so these
tests do not depend on hookctl (test_cli.py covers `hookctl inbound`).
"""
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from conftest import BUILD, HOOKCTL

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
    # answered as soon as Kafka acknowledges: a few ms on loopback, never a timer's turn
    for i in range(5):
        quick = json.dumps({"n": i}).encode()
        t0 = time.time()
        assert ing.post(f"/in/{ep['id']}", quick, github_headers(quick))[0] == 200
        assert time.time() - t0 < 0.3, f"answered after {time.time() - t0:.3f} s"
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
    assert ing.metric('hookd_ingress_requests_total{outcome="accepted"}') == 6


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


def test_an_endpoints_recent_requests_say_what_each_was_answered(stack, ingress):
    """hookctl inbound requests: each request to a known endpoint, newest first, with its status,
    outcome, reason and detail, never a header, the body or the secret; an unknown id's
    requests are not recorded; under load they sample; the list is trimmed to 50 and goes
    with the endpoint."""
    ep = github_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep, verified=True)
    ing = ingress()
    body = b'{"secretish":"body-text-never-kept"}'
    assert ing.post(f"/in/{ep['id']}", body, github_headers(body, delivery="d-1"))[0] == 200
    assert ing.post(f"/in/{ep['id']}", body, github_headers(body, delivery="d-1"))[0] == 200
    assert ing.post(f"/in/{ep['id']}", body, github_headers(body, secret="wrong"))[0] == 404
    assert ing.post(f"/in/{ep['id']}", b"{nope", github_headers(b"{nope"))[0] == 400
    assert ing.post(f"/in/in_nope{ingress.tag}", body, github_headers(body))[0] == 404
    env = {**ing.env, "HOOKD_REDIS_PREFIX": ingress.prefix}

    def recent():
        out = subprocess.run([HOOKCTL, "inbound", "requests", ep["id"], "--json"], env=env,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    deadline = time.time() + 10
    while len(got := recent()) < 4 and time.time() < deadline:
        time.sleep(0.2)
    assert [(q["outcome"], q["status"]) for q in got] == [
        ("malformed", 400), ("rejected", 404), ("duplicate", 200), ("accepted", 200)]
    assert got[1]["reason"] == "bad_signature" and "X-Hub-Signature-256" in got[1]["detail"]
    assert got[0]["detail"] and got[2]["eventId"] == got[3]["eventId"] == "d-1"
    recs = records(stack, ingress.topic, 1)
    assert got[3]["id"] == recs[0][1]["id"], "an accepted request is named by its record's id"
    assert all(q["id"].startswith("rq_") for q in got[:3])
    assert all(q["method"] == "POST" and q["bytes"] > 0 and q["latencyMs"] >= 0 for q in got)
    text = json.dumps(got)
    assert SECRET not in text and "body-text-never-kept" not in text and "sha256=" not in text
    table = subprocess.run([HOOKCTL, "inbound", "requests", ep["id"]], env=env,
                           capture_output=True, text=True, timeout=30).stdout
    assert table.splitlines()[0].split() == ["AT", "METHOD", "STATUS", "OUTCOME", "REASON",
                                             "EVENT"]
    assert table.splitlines()[-1] == "4 recent requests (--json for each one's detail)"
    assert redis(stack, "EXISTS", f"{ingress.prefix}inbound:recent:in_nope{ingress.tag}") == "0"
    # under load they sample: at most 10 entries a second of each kind per loop
    before = len(recent())
    t0 = time.time()
    for i in range(30):
        ing.post(f"/in/{ep['id']}", body, github_headers(body, delivery=f"s-{i}"))
    seconds = int(time.time()) - int(t0) + 1  # the seconds the burst touched
    time.sleep(0.5)
    sampled = len(recent()) - before
    assert 1 <= sampled <= 10 * seconds < 30, (sampled, seconds)
    # the last 50 only: an older list of 60 is cut to 50 by the next entry, the newest first
    key = f"{ingress.prefix}inbound:recent:{ep['id']}"
    redis(stack, "DEL", key)
    for i in range(60):
        redis(stack, "RPUSH", key, json.dumps({"id": f"rq_old{i}", "at": "2026-12-01T00:00:00Z",
                                              "method": "POST", "status": 404,
                                              "outcome": "rejected", "bytes": 1, "latencyMs": 0}))
    time.sleep(1.1)  # a second of its own: not sampled out
    assert ing.post(f"/in/{ep['id']}", body, github_headers(body, delivery="n-last"))[0] == 200
    deadline = time.time() + 10
    while recent()[0].get("eventId") != "n-last" and time.time() < deadline:
        time.sleep(0.2)
    got = recent()
    assert len(got) == 50 and got[0]["eventId"] == "n-last" and got[-1]["id"] == "rq_old48"
    ttl = int(redis(stack, "TTL", f"{ingress.prefix}inbound:recent:{ep['id']}"))
    assert 7 * 86400 - 60 < ttl <= 7 * 86400
    # deleting the endpoint deletes them
    out = subprocess.run([HOOKCTL, "inbound", "delete", ep["id"]], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert redis(stack, "EXISTS", f"{ingress.prefix}inbound:recent:{ep['id']}") == "0"
    out = subprocess.run([HOOKCTL, "inbound", "requests", ep["id"]], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and len(out.stderr.splitlines()) == 1, out.stderr


def test_the_endpoints_configured_response_and_its_change(stack, ingress):
    """Success answers with the endpoint's response (status, content type, body), a duplicate
    too; once the endpoint's response is changed, the next answer is the new one (the loop's
    cached reply follows the snapshot)."""
    ep = github_endpoint(ingress.tag, response={"status": 202, "contentType": "text/plain",
                                                "body": "thanks"})
    put_endpoint(stack, ingress.prefix, ep, verified=True)
    ing = ingress()
    body = b'{"n":1}'
    for delivery in ("r-1", "r-1", "r-2"):
        status, reply, headers = ing.post(f"/in/{ep['id']}", body,
                                          github_headers(body, delivery=delivery))
        assert (status, reply, headers.get("Content-Type")) == (202, b"thanks", "text/plain")
    ep["response"] = {"status": 201, "contentType": "application/json", "body": '{"a":1}'}
    put_endpoint(stack, ingress.prefix, ep, verified=True)
    deadline = time.time() + 5
    while True:
        status, reply, headers = ing.post(f"/in/{ep['id']}", body,
                                          github_headers(body, delivery="r-3"))
        if status == 201 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert (status, reply, headers.get("Content-Type")) == (201, b'{"a":1}', "application/json")


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
    # the headers: 32 KiB in all (libmicrohttpd's pool per connection), 431 past it
    import socket
    for size, want in ((20000, b" 404 "), (40000, b" 431 ")):
        with socket.create_connection(("127.0.0.1", ing.port), timeout=5) as sock:
            sock.sendall(b"POST /in/none HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * size
                         + b"\r\nContent-Length: 0\r\n\r\n")
            status_line = sock.recv(200).split(b"\r\n")[0]
        assert want in status_line, (size, status_line)
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


def test_while_redis_stalls_or_is_down_a_request_gets_503_and_its_retry_is_taken_after(
        stack, ingress):
    """The duplicate check never holds the loop: with Redis paused (SIGSTOP) a request with an
    event id gets 503 once the store's 5 s timeout passes, and the probes answer meanwhile; with
    Redis stopped it gets 503 at once; once Redis is back the connection is made again and the
    provider's retry is accepted. Each event is on the topic once. (The paused Redis makes the
    stalled request's claim when it resumes: that pending mark holds the retry off until it
    expires, HOOKD_INGRESS_ACK_TIMEOUT_MS + 10 s.)"""
    import signal
    import threading
    from test_faults import stack_cmd
    ep = github_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep, verified=True)
    ing = ingress({"HOOKD_INGRESS_ACK_TIMEOUT_MS": "2000"})
    path = f"/in/{ep['id']}"

    def post(delivery):
        body = json.dumps({"delivery": delivery}).encode()
        return ing.post(path, body, github_headers(body, delivery=delivery))[0]

    def taken_within(delivery, seconds):
        deadline = time.time() + seconds
        while post(delivery) != 200:
            assert time.time() < deadline, f"{delivery} not taken within {seconds} s"
            time.sleep(0.3)

    assert post("r-0") == 200
    pid = int(re.search(r"process_id:(\d+)", redis(stack, "INFO", "server")).group(1))
    os.kill(pid, signal.SIGSTOP)
    try:
        answer = {}

        def stalled():
            t0 = time.time()
            answer["status"] = post("r-1")
            answer["took"] = time.time() - t0
        waiter = threading.Thread(target=stalled)
        waiter.start()
        time.sleep(1)
        t0 = time.time()
        assert ing.post("/healthz", method="GET")[0] == 200
        assert time.time() - t0 < 1, "the loop waited on Redis"
        waiter.join(15)
        assert answer.get("status") == 503, answer
        assert 4 < answer["took"] < 10, answer
    finally:
        os.kill(pid, signal.SIGCONT)
    assert redis(stack, "GET", f"{ingress.prefix}inbound:seen:{ep['id']}:r-1") == "pending"
    assert 0 < int(redis(stack, "TTL", f"{ingress.prefix}inbound:seen:{ep['id']}:r-1")) <= 12
    taken_within("r-1", 20)
    stack_cmd("stop", "redis")
    try:
        t0 = time.time()
        assert post("r-2") == 503
        assert time.time() - t0 < 2, "a refused connection is answered at once"
        assert ing.proc.poll() is None
    finally:
        stack_cmd("up")
    taken_within("r-2", 15)
    got = [rec["providerEventId"] for _, rec in records(stack, ingress.topic, 4, timeout=5)]
    assert sorted(got) == ["r-0", "r-1", "r-2"], got
    assert ing.metric('hookd_ingress_requests_total{outcome="unavailable"}') >= 2


def test_several_loops_share_the_port_and_take_every_request(stack, ingress):
    """HOOKD_THREADS=3: three listening sockets on the one port (SO_REUSEPORT), requests over
    fresh connections all accepted and each on the topic once, and a clean stop."""
    from concurrent.futures import ThreadPoolExecutor
    ep = github_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep, verified=True)
    ing = ingress({"HOOKD_THREADS": "3"})
    assert any("3 loops" in line for line in ing.lines())
    listening = subprocess.run(["ss", "-Hltn", f"sport = :{ing.port}"], capture_output=True,
                               text=True, check=True).stdout.splitlines()
    assert len(listening) == 3, listening

    def post(i):
        body = json.dumps({"i": i}).encode()
        return ing.post(f"/in/{ep['id']}", body, github_headers(body, delivery=f"m-{i}"))[0]
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(post, range(60)))
    assert statuses == [200] * 60, statuses
    got = sorted(rec["providerEventId"] for _, rec in records(stack, ingress.topic, 61, timeout=5))
    assert got == sorted(f"m-{i}" for i in range(60))
    assert ing.metric('hookd_ingress_requests_total{outcome="accepted"}') == 60
    assert ing.stop() == 0


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


def test_a_trickling_body_is_cut_at_its_deadline_and_a_slow_whole_one_is_taken(stack, ingress):
    """Once a request's headers are in, its body has HOOKD_INGRESS_BODY_TIMEOUT_MS (here 2 s) to
    arrive: a client sending a byte every 0.4 s (never idle) is cut after it, and counted; a
    body that arrives whole within it is taken."""
    import socket
    ep = github_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep, verified=True)
    ing = ingress({"HOOKD_INGRESS_BODY_TIMEOUT_MS": "2000"})
    body = json.dumps({"pad": "x" * 60}).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in github_headers(body).items())
    sock = socket.create_connection(("127.0.0.1", ing.port), timeout=5)
    sock.sendall(f"POST /in/{ep['id']} HTTP/1.1\r\nHost: a\r\n{head}"
                 f"Content-Length: {len(body)}\r\n\r\n".encode())
    t0 = time.time()
    cut_after = None
    for i in range(len(body) - 1):  # never the last byte
        try:
            sock.sendall(body[i:i + 1])
            time.sleep(0.4)
        except OSError:
            cut_after = time.time() - t0
            break
    else:
        sock.settimeout(1)
        try:
            if sock.recv(100) == b"":
                cut_after = time.time() - t0
        except OSError:
            cut_after = time.time() - t0
    sock.close()
    assert cut_after is not None and 1.5 < cut_after < 6, cut_after
    assert ing.metric("hookd_ingress_slow_clients_total") == 1
    # a body sent in two parts, 1 s apart, is within the deadline and taken
    sock = socket.create_connection(("127.0.0.1", ing.port), timeout=10)
    sock.sendall(f"POST /in/{ep['id']} HTTP/1.1\r\nHost: a\r\n{head}"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                 + body[:30])
    time.sleep(1)
    sock.sendall(body[30:])
    assert b" 200 " in sock.recv(200).split(b"\r\n")[0]
    sock.close()
    assert len(records(stack, ingress.topic, 2, timeout=3)) == 1


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


# --- helper K: each payload type, the Facebook and Twitter challenges, presets signed by the
# providers' own SDKs, and /metrics through promtool. Signatures come from Python's hmac or the
# providers' packages from PyPI, never from hookd's C code.

def custom_endpoint(tag, name, verification, **extra):
    ep = {"id": f"in_{name}{tag}", "name": f"{name}-{tag}", "flowId": f"flow-{name}-{tag}",
          "source": "custom", "enabled": True, "verification": verification}
    ep.update(extra)
    return ep


def only_record(stack, topic):
    got = records(stack, topic, 2, timeout=4)
    assert len(got) == 1, got
    return got[0]


def test_a_form_body_from_a_custom_hmac_endpoint_becomes_an_object_with_arrays(stack, ingress):
    ep = custom_endpoint(ingress.tag, "form", {"type": "hmac", "header": "X-Signature",
                                              "algorithm": "sha256", "encoding": "hex",
                                              "prefix": "sha256="}, secret=SECRET)
    put_endpoint(stack, ingress.prefix, ep)
    ing = ingress()
    body = b"a=1&b=two+words&a=%C3%A9t%C3%A9&c=&a=3&d"
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    tampered = body.replace(b"a=3", b"a=4")
    assert ing.post(f"/in/{ep['id']}", tampered, {**form, "X-Signature": sig})[0] == 404
    status, reply, _ = ing.post(f"/in/{ep['id']}", body, {**form, "X-Signature": sig})
    assert (status, json.loads(reply)) == (200, {"ok": True})
    key, rec = only_record(stack, ingress.topic)
    assert key == ep["flowId"] and rec["source"] == "custom"
    assert rec["payload"] == {"a": ["1", "été", "3"], "b": "two words", "c": "", "d": ""}
    assert list(rec["payload"]) == ["a", "b", "c", "d"]
    assert rec["body"] == body.decode() and "bodyBase64" not in rec
    assert rec["contentType"] == form["Content-Type"]
    assert "x-signature" not in rec["headers"], rec["headers"]


def test_an_xml_body_follows_the_documented_convention_and_keeps_its_text(stack, ingress):
    ep = custom_endpoint(ingress.tag, "xml", {"type": "hmac", "header": "X-Sig",
                                             "algorithm": "sha512", "encoding": "base64"},
                         secret=SECRET)
    put_endpoint(stack, ingress.prefix, ep)
    ing = ingress()
    # docs/inbound.md's own example, plus CDATA, an entity and whitespace kept in a leaf
    text = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<order id="7" xmlns:m="urn:m">\n'
            '  <item sku="a">2</item><m:note>gift</m:note><item sku="b"/> total <item>x</item>\n'
            '  <who> Bob &amp; <![CDATA[Al]]> </who>\n'
            '</order>')
    body = text.encode()
    sig = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha512).digest()).decode()
    headers = {"Content-Type": "application/xml", "X-Sig": sig}
    assert ing.post(f"/in/{ep['id']}", body.replace(b"gift", b"gifts"), headers)[0] == 404
    status, reply, _ = ing.post(f"/in/{ep['id']}", body, headers)
    assert status == 200, reply
    _, rec = only_record(stack, ingress.topic)
    assert rec["payload"] == {"order": {
        "@xmlns:m": "urn:m", "@id": "7",
        "item": [{"@sku": "a", "#text": "2"}, {"@sku": "b"}, "x"],
        "m:note": "gift", "who": " Bob & Al ", "#text": "total"}}
    assert list(rec["payload"]["order"]) == ["@xmlns:m", "@id", "item", "m:note", "who", "#text"]
    assert rec["body"] == text
    bad = b"<a><b></a>"
    bad_sig = base64.b64encode(hmac.new(SECRET.encode(), bad, hashlib.sha512).digest()).decode()
    status, reply, _ = ing.post(f"/in/{ep['id']}", bad, {**headers, "X-Sig": bad_sig})
    assert status == 400 and reply.decode().startswith("payload: XML: "), reply


def test_a_multipart_body_gives_its_fields_and_files_with_size_sha256_and_data(stack, ingress):
    ep = custom_endpoint(ingress.tag, "mp", {"type": "hmac", "header": "X-Sig",
                                            "algorithm": "sha1", "timestampHeader": "X-Ts"},
                         secret=SECRET)
    put_endpoint(stack, ingress.prefix, ep)
    ing = ingress()
    blob = bytes(range(256)) + b"\r\n--not-the-boundary\r\n" + os.urandom(1000)
    boundary = "----it" + uuid.uuid4().hex
    parts = [
        b'Content-Disposition: form-data; name="title"\r\n\r\nQ3 report',
        b'Content-Disposition: form-data; name="tag"\r\n\r\na',
        b'Content-Disposition: form-data; name="tag"\r\n\r\nb',
        b'Content-Disposition: form-data; name="doc"; filename="r\xc3\xa9port.bin"\r\n'
        b'Content-Type: application/octet-stream\r\n\r\n' + blob,
        b'Content-Disposition: form-data; name="note"; filename="n.txt"\r\n\r\nhello',
    ]
    sep = b"--" + boundary.encode()
    body = b"preamble\r\n" + b"".join(sep + b"\r\n" + p + b"\r\n" for p in parts) + sep + b"--\r\n"
    ts = str(int(time.time()))
    sig = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha1).hexdigest()
    headers = {"Content-Type": f'multipart/form-data; boundary="{boundary}"', "X-Ts": ts,
               "X-Sig": sig}
    stale = str(int(time.time()) - 3600)
    stale_sig = hmac.new(SECRET.encode(), stale.encode() + b"." + body, hashlib.sha1).hexdigest()
    assert ing.post(f"/in/{ep['id']}", body, {**headers, "X-Ts": stale,
                                              "X-Sig": stale_sig})[0] == 404
    assert ing.post(f"/in/{ep['id']}", body[:-30] + b"X" + body[-29:], headers)[0] == 404
    status, reply, _ = ing.post(f"/in/{ep['id']}", body, headers)
    assert status == 200, reply
    _, rec = only_record(stack, ingress.topic)
    assert rec["payload"]["fields"] == {"title": "Q3 report", "tag": ["a", "b"]}
    assert rec["payload"]["files"] == [
        {"field": "doc", "filename": "réport.bin", "contentType": "application/octet-stream",
         "size": len(blob), "sha256": hashlib.sha256(blob).hexdigest(),
         "data": base64.b64encode(blob).decode()},
        {"field": "note", "filename": "n.txt", "contentType": "text/plain", "size": 5,
         "sha256": hashlib.sha256(b"hello").hexdigest(),
         "data": base64.b64encode(b"hello").decode()}]
    # the body holds bytes that are not UTF-8: carried as base64, exactly
    assert "body" not in rec and base64.b64decode(rec["bodyBase64"]) == body
    assert ing.metric('hookd_ingress_rejected_total{reason="stale_timestamp"}') == 1


def test_a_binary_body_of_an_unknown_type_is_kept_raw_only(stack, ingress):
    ep = custom_endpoint(ingress.tag, "bin", {"type": "none"})
    put_endpoint(stack, ingress.prefix, ep)
    ing = ingress()
    body = b"\x00\xffPK\x03\x04" + os.urandom(512) + b"{\"not\": \"parsed\"}"
    status, reply, _ = ing.post(f"/in/{ep['id']}", body,
                                {"Content-Type": "application/x-hookd-unknown"})
    assert status == 200, reply
    _, rec = only_record(stack, ingress.topic)
    assert "payload" in rec and rec["payload"] is None
    assert "body" not in rec and base64.b64decode(rec["bodyBase64"]) == body
    assert rec["contentType"] == "application/x-hookd-unknown"


def wait_status(ing, path, body, headers_for, want=200, timeout=5):
    """Posts until the answer is `want` (the snapshot follows a state change within a poll)."""
    deadline = time.time() + timeout
    while True:
        status, reply, headers = ing.post(path, body, headers_for(body))
        if status == want or time.time() >= deadline:
            return status, reply, headers
        time.sleep(0.2)


def test_a_facebook_endpoint_answers_hub_challenge_and_then_takes_signed_posts(stack, ingress):
    token = "fb-verify-" + ingress.tag
    ep = {"id": f"in_fb{ingress.tag}", "name": f"fb-{ingress.tag}", "flowId": "fb",
          "source": "facebook", "secret": SECRET, "verifyToken": token, "enabled": True}
    put_endpoint(stack, ingress.prefix, ep)
    ing = ingress()
    path = f"/in/{ep['id']}"

    def signed(body):
        return {"Content-Type": "application/json", "X-Hub-Signature-256":
                "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}
    body = json.dumps({"object": "page", "entry": [{"id": "1", "time": 1}]}).encode()
    assert ing.post(path, body, signed(body))[0] == 404  # unverified: only the challenge
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": token}
    wrong = urllib.parse.urlencode({**query, "hub.verify_token": token + "x"})
    assert ing.post(f"{path}?{wrong}", method="GET")[:2] == (404, b"")
    no_token = urllib.parse.urlencode({k: v for k, v in query.items() if k != "hub.verify_token"})
    assert ing.post(f"{path}?{no_token}", method="GET")[:2] == (404, b"")
    assert redis(stack, "HGET", f"{ingress.prefix}inbound:state", ep["id"]).startswith("0:")
    assert ing.metric('hookd_ingress_rejected_total{reason="wrong_verify_token"}') == 2
    status, reply, headers = ing.post(f"{path}?{urllib.parse.urlencode(query)}", method="GET")
    assert (status, reply) == (200, b"1158201444")
    assert headers["Content-Type"].startswith("text/plain")
    assert redis(stack, "HGET", f"{ingress.prefix}inbound:state", ep["id"]).startswith("1:")
    # a POST that carries the verify token in its URL: the token never reaches Kafka
    post_path = f"{path}?hub.verify_token={token}&page=1"
    assert ing.post(post_path, body, {**signed(body), "X-Hub-Signature-256": "sha256=" +
                                      hmac.new(b"wrong", body, hashlib.sha256).hexdigest()})[0] \
        == 404
    status, reply, _ = wait_status(ing, post_path, body, signed)
    assert status == 200, reply
    _, rec = only_record(stack, ingress.topic)  # the challenge itself is not a record
    assert rec["payload"] == json.loads(body) and rec["source"] == "facebook"
    assert rec["query"] == {"page": "1"}, rec["query"]
    assert token not in json.dumps(rec)
    assert "x-hub-signature-256" not in rec["headers"]


def test_a_twitter_endpoint_answers_the_crc_challenge_and_then_takes_signed_posts(stack, ingress):
    ep = {"id": f"in_tw{ingress.tag}", "name": f"tw-{ingress.tag}", "flowId": "tw",
          "source": "twitter", "secrets": [SECRET, "older-consumer-secret"], "enabled": True}
    put_endpoint(stack, ingress.prefix, ep)
    ing = ingress()
    path = f"/in/{ep['id']}"

    def signed(body, secret=SECRET):
        mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        return {"Content-Type": "application/json",
                "x-twitter-webhooks-signature": "sha256=" + base64.b64encode(mac).decode()}
    body = json.dumps({"for_user_id": "2244994945",
                       "tweet_create_events": [{"id_str": "1"}]}).encode()
    assert ing.post(path, body, signed(body))[0] == 404  # no CRC answered yet
    crc = "crc-" + uuid.uuid4().hex
    status, reply, headers = ing.post(f"{path}?crc_token={crc}", method="GET")
    want = "sha256=" + base64.b64encode(
        hmac.new(SECRET.encode(), crc.encode(), hashlib.sha256).digest()).decode()
    assert status == 200 and json.loads(reply) == {"response_token": want}, reply
    assert headers["Content-Type"].startswith("application/json")
    assert redis(stack, "HGET", f"{ingress.prefix}inbound:state", ep["id"]).startswith("1:")
    assert ing.post(path, body + b" ", signed(body))[0] == 404  # tampered
    status, reply, _ = wait_status(ing, path, body, signed)
    assert status == 200, reply
    # the older secret of a rotation verifies a POST too
    other = body.replace(b'"1"', b'"2"')
    assert ing.post(path, other, signed(other, "older-consumer-secret"))[0] == 200
    got = records(stack, ingress.topic, 3, timeout=5)
    assert [rec["payload"] for _, rec in got] == [json.loads(body), json.loads(other)]


def test_presets_signed_by_the_providers_own_sdks(stack, ingress):
    """stripe's generate_signature_header, twilio's RequestValidator over a form and the
    endpoint's publicUrl, standardwebhooks' Webhook.sign and slack_sdk's SignatureVerifier: each
    valid request is taken with its provider event id, each tampered body refused 404."""
    import stripe
    from slack_sdk.signature import SignatureVerifier
    from standardwebhooks import Webhook
    from twilio.request_validator import RequestValidator
    from datetime import datetime, timezone
    tag = ingress.tag
    whsec = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    public_url = f"https://hooks.example.com/in/in_twi{tag}"
    eps = {
        "stripe": {"source": "stripe", "secret": "whsec_stripe" + tag},
        "twilio": {"source": "twilio", "secret": "twilio-auth-token-" + tag,
                   "publicUrl": public_url},
        "standard": {"source": "standard", "secret": whsec},
        "slack": {"source": "slack", "secret": "slack-signing-" + tag},
    }
    ids = {"stripe": f"in_str{tag}", "twilio": f"in_twi{tag}", "standard": f"in_std{tag}",
           "slack": f"in_slk{tag}"}
    for name, ep in eps.items():
        ep.update({"id": ids[name], "name": f"{name}-{tag}", "flowId": f"flow-{name}",
                   "enabled": True})
        put_endpoint(stack, ingress.prefix, ep, verified=(name == "slack"))
    ing = ingress()

    def stripe_req(body):
        header = stripe.WebhookSignature.generate_signature_header(body.decode(),
                                                                   eps["stripe"]["secret"])
        return {"Content-Type": "application/json", "Stripe-Signature": header}

    def twilio_req(body):
        params = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        sig = RequestValidator(eps["twilio"]["secret"]).compute_signature(public_url, params)
        return {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig,
                "I-Twilio-Idempotency-Token": "idem-" + tag}

    def standard_req(body):
        now = datetime.now(timezone.utc)
        sig = Webhook(whsec).sign("msg_" + tag, now, body.decode())
        return {"Content-Type": "application/json", "webhook-id": "msg_" + tag,
                "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": sig}

    def slack_req(body):
        ts = str(int(time.time()))
        sig = SignatureVerifier(eps["slack"]["secret"]).generate_signature(timestamp=ts,
                                                                            body=body)
        return {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": sig}
    cases = [
        ("stripe", stripe_req, json.dumps({"id": "evt_" + tag, "object": "event",
                                           "type": "charge.succeeded"}).encode(), "evt_" + tag),
        ("twilio", twilio_req, urllib.parse.urlencode(
            {"MessageSid": "SM" + tag, "From": "+15551234567", "To": "+15557654321",
             "Body": "hello, wörld & more"}).encode(), "idem-" + tag),
        ("standard", standard_req, json.dumps({"type": "invoice.paid", "n": 1}).encode(),
         "msg_" + tag),
        ("slack", slack_req, json.dumps({"type": "event_callback", "event_id": "Ev" + tag,
                                         "event": {"type": "app_mention"}}).encode(),
         "Ev" + tag),
    ]
    for name, sign, body, _ in cases:
        headers = sign(body)
        tampered = body.replace(b"e", b"E", 1)  # still well-formed: only the signature tells
        status, reply, _ = ing.post(f"/in/{ids[name]}", tampered, headers)
        assert (status, reply) == (404, b""), (name, status, reply)
        status, reply, _ = ing.post(f"/in/{ids[name]}", body, headers)
        assert (status, reply) == (200, b'{"ok":true}'), (name, status, reply)
    got = {rec["source"]: (key, rec) for key, rec in records(stack, ingress.topic, 5, timeout=6)}
    assert sorted(got) == sorted(eps), got
    for name, _, body, event_id in cases:
        key, rec = got[name]
        assert key == f"flow-{name}" and rec["providerEventId"] == event_id, (name, rec)
        assert rec["body"] == body.decode()
    assert got["twilio"][1]["payload"]["Body"] == "hello, wörld & more"
    assert ing.metric('hookd_ingress_rejected_total{reason="bad_signature"}') == 4
    assert ing.metric('hookd_ingress_requests_total{outcome="accepted"}') == 4


def test_the_ingress_metrics_pass_promtool(stack, ingress):
    """/metrics after an accepted, a duplicate, a refused, a malformed and a challenge request:
    promtool finds nothing to lint, and the acknowledgement histogram counts the acknowledged."""
    import shutil
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing (Debian package prometheus, installed by set-up)"
    ep = github_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep)
    slack = {"id": f"in_sl{ingress.tag}", "name": f"slack-{ingress.tag}", "flowId": "f",
             "source": "slack", "secret": SECRET, "enabled": True}
    put_endpoint(stack, ingress.prefix, slack)
    ing = ingress()
    body = b'{"n":1}'
    for headers in (github_headers(body, delivery="m-1"), github_headers(body, delivery="m-1"),
                    github_headers(body, secret="forged")):
        ing.post(f"/in/{ep['id']}", body, headers)
    ing.post(f"/in/{ep['id']}", b"{", github_headers(b"{"))
    challenge = json.dumps({"type": "url_verification", "challenge": "c"}).encode()
    ts = str(int(time.time()))
    ing.post(f"/in/{slack['id']}", challenge, {
        "Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + challenge,
                                              hashlib.sha256).hexdigest()})
    status, text, headers = ing.post("/metrics", method="GET")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           timeout=30)
    assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), \
        (check.stdout + check.stderr).decode()
    for outcome in ("accepted", "duplicate", "rejected", "malformed", "challenge"):
        assert ing.metric(f'hookd_ingress_requests_total{{outcome="{outcome}"}}') == 1, outcome
    assert ing.metric("hookd_ingress_ack_seconds_count") == 1
    assert ing.metric("hookd_ingress_endpoints") == 2
    # the process collector's families, as Prometheus' client libraries name them (issue 17)
    assert abs(ing.metric("process_start_time_seconds") - time.time()) < 600
    assert ing.metric("process_cpu_seconds_total") >= 0  # present; a young process may show 0
    for name in ("process_resident_memory_bytes", "process_virtual_memory_bytes",
                 "process_open_fds", "process_max_fds"):
        assert ing.metric(name) > 0, name
