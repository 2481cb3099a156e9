"""Integration harness: the real hookd and hookctl binaries against the real Kafka broker and
redis-server that deploy/local/stack runs, with an HTTP receiver in this process.

Every test gets its own topic, consumer group, Redis prefix and flow ids, so tests never see
each other's events, tasks or deliveries.
"""
import hashlib
import http.server
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("HOOKD_BUILD_DIR", os.path.join(ROOT, "build"))
HOOKD = os.path.join(BUILD, "cmd", "hookd")
HOOKCTL = os.path.join(BUILD, "cmd", "hookctl")


def stack_env():
    env = {}
    if os.environ.get("HOOKD_KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("HOOKD_REDIS_URL"):
        env["HOOKD_KAFKA_BOOTSTRAP_SERVERS"] = os.environ["HOOKD_KAFKA_BOOTSTRAP_SERVERS"]
        env["HOOKD_REDIS_URL"] = os.environ["HOOKD_REDIS_URL"]
        return env
    out = subprocess.run([os.path.join(ROOT, "deploy", "local", "stack"), "env"],
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        key, _, value = line.replace("export ", "").partition("=")
        env[key] = value
    return env


@pytest.fixture(scope="session")
def stack():
    env = stack_env()
    admin = AdminClient({"bootstrap.servers": env["HOOKD_KAFKA_BOOTSTRAP_SERVERS"]})
    try:
        admin.list_topics(timeout=10)
    except Exception as e:  # noqa: BLE001 - report any failure plainly
        pytest.fail(f"Kafka at {env['HOOKD_KAFKA_BOOTSTRAP_SERVERS']} does not answer: {e}"
                    " (run deploy/local/stack up)")
    for binary in (HOOKD, HOOKCTL):
        if not os.access(binary, os.X_OK):
            pytest.fail(f"{binary} is missing: build first (tests/run does)")
    env["admin"] = admin
    return env


def delivery_id(event_id, task_id):
    return "msg_" + hashlib.sha256(f"{event_id}\n{task_id}".encode()).hexdigest()[:26]


def hookd_version():
    return subprocess.run([HOOKD, "--version"], capture_output=True, text=True,
                          check=True).stdout.split()[1]


# ------------------------------------------------------------------------------ receiver --


class Receiver:
    """A threaded HTTP server recording every request. Paths may be given a status or a delay."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Condition()
        self.status = {}   # path prefix -> status
        self.delay = {}    # path prefix -> seconds
        self.script = {}   # path prefix -> statuses answered in turn (then `status`, else 204)
        self.reply_headers = {}  # path prefix -> extra response headers
        self.reply_body = {}  # path prefix -> response body (bytes)
        self.fail_rate = {}  # path prefix -> share of requests answered 500, at random
        self.random = random.Random(20261123)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path
                for prefix, seconds in receiver.delay.items():
                    if path.startswith(prefix):
                        time.sleep(seconds)
                status, extra, answer = 204, {}, b""
                for prefix, code in receiver.status.items():
                    if path.startswith(prefix):
                        status = code
                for prefix, headers in receiver.reply_headers.items():
                    if path.startswith(prefix):
                        extra = headers
                for prefix, data in receiver.reply_body.items():
                    if path.startswith(prefix):
                        answer = data
                with receiver.lock:
                    for prefix, codes in receiver.script.items():
                        if path.startswith(prefix) and codes:
                            status = codes.pop(0)
                    for prefix, rate in receiver.fail_rate.items():
                        if path.startswith(prefix) and receiver.random.random() < rate:
                            status = 500
                    receiver.requests.append({
                        "method": self.command, "path": path, "body": body, "status": status,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "time": time.time(),
                    })
                    receiver.lock.notify_all()
                try:
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    if answer:
                        self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

        class Server(http.server.ThreadingHTTPServer):
            # socketserver's default backlog of 5 drops the SYNs of a worker opening 32
            # connections at once, and each dropped one costs a 1 s retransmission: a stall no
            # real receiver shows, which holds a partition's committed offset back.
            request_queue_size = 256

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # hookd closing idle keep-alive connections at exit is not an error worth printing.
        self.server.handle_error = lambda request, client_address: None
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def matching(self, prefix):
        with self.lock:
            return [r for r in self.requests if r["path"].startswith(prefix)]

    def wait_for(self, prefix, n, timeout=20):
        """The requests under prefix, once there are n (or at the timeout). Scans each request
        once: a rescan of every request at every wake-up would slow the receiver as the test
        goes on, and skew any timing."""
        deadline = time.time() + timeout
        got, seen = [], 0
        with self.lock:
            while True:
                for r in self.requests[seen:]:
                    if r["path"].startswith(prefix):
                        got.append(r)
                seen = len(self.requests)
                if len(got) >= n or time.time() >= deadline:
                    return got
                self.lock.wait(min(0.2, max(0.0, deadline - time.time())))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


# -------------------------------------------------------------------------------- worker --


class Worker:
    def __init__(self, stack, tmp_path, topic, group, prefix, extra_env=None, name="hookd"):
        self.env = dict(os.environ)
        self.env.update({
            "HOOKD_KAFKA_BOOTSTRAP_SERVERS": stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
            "HOOKD_REDIS_URL": stack["HOOKD_REDIS_URL"],
            "HOOKD_TOPICS": topic,
            "HOOKD_KAFKA_GROUP_ID": group,
            "HOOKD_REDIS_PREFIX": prefix,
            "HOOKD_ALLOW_NETWORKS": "127.0.0.0/8",
            "HOOKD_LISTEN": "127.0.0.1:0",
            "HOOKD_PROBE_LISTEN": "127.0.0.1:0",  # never 8081: workers on one machine collide
            "HOOKD_LOG_LEVEL": "debug",
            # The broker's minimum: a SIGKILLed member leaves the group within 6 s, not 45 s.
            "HOOKD_KAFKA_SESSION_TIMEOUT_MS": "6000",
        })
        self.env.update(extra_env or {})
        self.log_path = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([HOOKD], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.wait_for_log('"event":"kafka.assign"', 45)

    def lines(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace").splitlines()

    def wait_for_log(self, needle, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(needle in line for line in self.lines()):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        tail = "\n".join(self.lines()[-30:])
        raise AssertionError(f"hookd never logged {needle} (exit {self.proc.poll()}):\n{tail}")

    def port(self):
        """The HTTP port (health, metrics, admin API) hookd logged at start."""
        for line in self.lines():
            m = re.search(r'"event":"http".*\(port (\d+)\)', line)
            if m:
                return int(m.group(1))
        raise AssertionError("hookd logged no HTTP port")

    def probe_port(self):
        """The probe listener's port (/healthz and /readyz alone) hookd logged at start."""
        for line in self.lines():
            m = re.search(r'"event":"http.probes".*\(port (\d+)\)', line)
            if m:
                return int(m.group(1))
        raise AssertionError("hookd logged no probe port")

    def metric(self, name):
        """A metric's value from the worker's /metrics: the series named exactly (labels
        included, as rendered), else the sum of the family's series."""
        import urllib.request
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.port()}/metrics", timeout=5).read()
        lines = text.decode().splitlines()
        for line in lines:
            if line.startswith(name + " "):
                return float(line.split()[1])
        family = [float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(name + "{")]
        if family:
            return sum(family)
        raise AssertionError(f"{name} is not in /metrics")

    def stop(self, sig=signal.SIGTERM, timeout=35):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout)
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def worker_factory(stack, tmp_path):
    workers = []

    def start(topic, group, prefix, extra_env=None):
        w = Worker(stack, tmp_path, topic, group, prefix, extra_env, name=f"hookd{len(workers)}")
        workers.append(w)
        return w

    yield start
    for w in workers:
        if w.proc.poll() is None:
            w.stop(signal.SIGKILL)


# ----------------------------------------------------------------------- kafka and tasks --


class Env:
    """One test's private topic, group, Redis prefix and helpers."""

    def __init__(self, stack, tmp_path, partitions=4):
        self.stack = stack
        self.tmp_path = tmp_path
        tag = uuid.uuid4().hex[:10]
        self.topic = f"it-events-{tag}"
        self.group = f"it-group-{tag}"
        self.prefix = f"it{tag}:"
        self.tag = tag
        # Room for the over-1-MiB poison test: hookd must refuse it, so Kafka must carry it.
        futures = stack["admin"].create_topics([NewTopic(
            self.topic, partitions, 1, config={"max.message.bytes": str(4 * 1024 * 1024)})])
        for f in futures.values():
            f.result(15)
        self.producer = Producer({"bootstrap.servers": stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
                                  "linger.ms": 5, "message.max.bytes": 4 * 1024 * 1024})

    def cli_env(self):
        env = dict(os.environ)
        env.update({"HOOKD_REDIS_URL": self.stack["HOOKD_REDIS_URL"],
                    "HOOKD_REDIS_PREFIX": self.prefix,
                    "HOOKD_KAFKA_BOOTSTRAP_SERVERS": self.stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"]})
        return env

    def hookctl(self, *args, stdin=None):
        return subprocess.run([HOOKCTL, *args], env=self.cli_env(), capture_output=True,
                              text=True, input=stdin, timeout=60)

    def create_task(self, task):
        path = self.tmp_path / f"task-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps(task))
        out = self.hookctl("webhooks", "create", "--file", str(path), "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)["id"]

    def delete_task(self, task_id):
        out = self.hookctl("webhooks", "delete", task_id)
        assert out.returncode == 0, out.stderr

    def publish(self, value, key=None):
        if isinstance(value, dict):
            value = json.dumps(value).encode()
        self.producer.produce(self.topic, value=value, key=key)
        self.producer.flush(15)

    def publish_many(self, values, spread=False):
        """Publishes every value; spread=True puts them round-robin on every partition (by
        default librdkafka's sticky partitioner fills one partition a batch at a time)."""
        parts = len(self.producer.list_topics(self.topic, timeout=10).topics[self.topic].partitions)
        for i, v in enumerate(values):
            extra = {"partition": i % parts} if spread else {}
            while True:
                try:
                    self.producer.produce(self.topic, value=json.dumps(v).encode(), **extra)
                    break
                except BufferError:
                    self.producer.poll(0.1)
        self.producer.flush(60)


@pytest.fixture
def env(stack, tmp_path):
    return Env(stack, tmp_path)


def committed_lag(stack, topic, group):
    """Sum over partitions of (end offset - committed offset) for the group."""
    from confluent_kafka import TopicPartition
    consumer = Consumer({"bootstrap.servers": stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
                         "group.id": group, "enable.auto.commit": False})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        parts = [TopicPartition(topic, p) for p in meta.partitions]
        lag = 0
        for tp in consumer.committed(parts, timeout=10):
            _, high = consumer.get_watermark_offsets(tp, timeout=10)
            lag += high - (tp.offset if tp.offset >= 0 else 0)
        return lag
    finally:
        consumer.close()


def wait_lag_zero(stack, env, timeout=30):
    """Waits until the test's group has committed everything on its topic: 0, or the lag left
    when the timeout ran out."""
    deadline = time.time() + timeout
    lag = None
    while time.time() < deadline:
        lag = committed_lag(stack, env.topic, env.group)
        if lag == 0:
            return 0
        time.sleep(0.5)
    return lag


def read_topic(stack, topic, predicate, n, timeout=30, since_s=600):
    """Records of a topic (JSON values) matching predicate, written in the last since_s seconds
    (the shared topics, hookd.dlq and the tiers, keep every earlier test's records too)."""
    from confluent_kafka import TopicPartition
    consumer = Consumer({"bootstrap.servers": stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
                         "group.id": f"it-reader-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    found = []
    deadline = time.time() + timeout
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        start = int((time.time() - since_s) * 1000)
        # Each partition's end first: where offsets_for_times finds no record of the window yet,
        # reading starts there, so a record appended meanwhile is still read (starting at "the
        # end" as the consumer finds it later could skip it).
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in meta.partitions}
        parts = consumer.offsets_for_times(
            [TopicPartition(topic, p, start) for p in meta.partitions], timeout=10)
        consumer.assign([TopicPartition(topic, tp.partition,
                                        tp.offset if tp.offset >= 0 else ends[tp.partition])
                         for tp in parts])
        while len(found) < n and time.time() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            try:
                record = json.loads(msg.value())
            except ValueError:
                continue
            if predicate(record):
                found.append(record)
    finally:
        consumer.close()
    return found
