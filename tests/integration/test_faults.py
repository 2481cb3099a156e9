"""Faults of the services around hookd, with the real broker and the real Redis of
deploy/local/stack, while 5,000 events x 2 tasks flow: the broker stopped and started again on
its own data, then Redis the same way. Each time every (event, task) pair is delivered at least
once (duplicates counted and printed), /readyz is not ready during the outage and names the
service, ready after, and the worker never stops. The stack is whole again after each test,
whatever happened, since later suites share it."""
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from confluent_kafka import Producer

from conftest import ROOT, delivery_id

EVENTS = 5000
TASKS = 2
STACK = os.path.join(ROOT, "deploy", "local", "stack")
SETTINGS = {"HOOKD_LOG_LEVEL": "info", "HOOKD_KAFKA_STATISTICS_INTERVAL_MS": "1000"}


def stack_cmd(*args, timeout=150):
    out = subprocess.run([STACK, *args], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"stack {' '.join(args)}: {out.stdout}{out.stderr}"
    return out.stdout


@pytest.fixture
def own_stack(stack):
    """The stack is deploy/local/stack's (so this test may stop and start its services), and
    it is up and answering again after the test."""
    ours = subprocess.run([STACK, "env"], capture_output=True, text=True, check=True).stdout
    if f"={stack['HOOKD_KAFKA_BOOTSTRAP_SERVERS']}\n" not in ours \
            or f"={stack['HOOKD_REDIS_URL']}\n" not in ours:
        pytest.skip("Kafka and Redis are not deploy/local/stack's (HOOKD_LOCAL_* ports): "
                    "not stopping them")
    yield stack
    stack_cmd("up")  # waits until both answer
    status = subprocess.run([STACK, "status"], capture_output=True, text=True)
    assert status.returncode == 0, status.stdout


def probe(worker, path="/readyz"):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.port()}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_probe(worker, status, timeout):
    deadline = time.time() + timeout
    while True:
        got = probe(worker)
        if got[0] == status or time.time() >= deadline:
            return got
        time.sleep(0.2)


class Publisher(threading.Thread):
    """Publishes the events at a steady pace (about 20 s for 5,000), as the job platform
    would, through the outage too: its producer holds them until the broker is back."""

    def __init__(self, bootstrap, topic, flow, events):
        super().__init__(daemon=True)
        # log_level 2: its connection errors while the broker is down are the test itself
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "log_level": 2})
        self.topic, self.flow, self.events, self.error = topic, flow, events, None

    def run(self):
        try:
            parts = len(self.producer.list_topics(self.topic, timeout=10)
                        .topics[self.topic].partitions)
            for i, e in enumerate(self.events):
                value = ('{"eventId":"%s","jobId":"%s","jobStatus":"Complete","flowId":"%s"}'
                         % (e, e, self.flow)).encode()
                while True:
                    try:
                        self.producer.produce(self.topic, value=value, partition=i % parts)
                        break
                    except BufferError:
                        self.producer.poll(0.1)
                if i % 100 == 99:
                    self.producer.poll(0)
                    time.sleep(0.4)
            left = self.producer.flush(150)
            if left:
                self.error = f"{left} events never reached the broker"
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = repr(e)


def run_with_outage(env, receiver, worker_factory, service, names):
    flow = f"fault-{service}-{env.tag}"
    tasks = [env.create_task({"flowId": flow, "url": receiver.url(f"/fault/{k}"),
                              "body": "$jobId"}) for k in range(TASKS)]
    events = [f"{flow}-{i}" for i in range(EVENTS)]
    expected = {delivery_id(e, t) for e in events for t in tasks}

    def delivered():
        with receiver.lock:
            return [r["headers"]["x-webhook-id"] for r in receiver.requests
                    if r["path"].startswith("/fault/") and r["status"] < 300]

    worker = worker_factory(env.topic, env.group, env.prefix, SETTINGS)
    status, body = wait_probe(worker, 200, 30)
    assert status == 200, body
    publisher = Publisher(env.stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"], env.topic, flow, events)
    start = time.time()
    publisher.start()
    deadline = time.time() + 60
    while len(delivered()) < 1500 and time.time() < deadline:
        time.sleep(0.05)
    assert len(delivered()) >= 1500, "the worker made no progress before the outage"

    at_stop = len(set(delivered()) & expected)
    stopped = time.time()
    stack_cmd("stop", service)
    status, body = wait_probe(worker, 503, 30)
    seen_down = time.time() - stopped
    assert status == 503, f"still ready {seen_down:.1f} s into the outage: {body}"
    assert names in body, body
    assert worker.proc.poll() is None, "the worker lives through the outage"
    time.sleep(max(0.0, 5 - (time.time() - stopped)))  # down for at least 5 s
    during = len(set(delivered()) & expected) - at_stop
    stack_cmd("up")
    restarted = time.time()
    status, body = wait_probe(worker, 200, 90)
    ready_again = time.time() - restarted
    assert status == 200, f"not ready {ready_again:.0f} s after the restart: {body}"

    deadline = time.time() + 150
    while time.time() < deadline and not expected <= set(delivered()):
        assert worker.proc.poll() is None, "the worker died"
        time.sleep(0.25)
    publisher.join(30)
    assert publisher.error is None, publisher.error
    got = delivered()
    missing = expected - set(got)
    duplicates = len(got) - len(set(got))
    print(f"{service} stopped after {at_stop} pairs, down {restarted - stopped:.1f} s "
          f"(not ready after {seen_down:.1f} s, ready {ready_again:.1f} s after the restart), "
          f"{during} pairs delivered while down; {len(expected) - len(missing)} of "
          f"{len(expected)} delivered in {time.time() - start:.0f} s, {duplicates} duplicates")
    assert not missing, f"{len(missing)} of {len(expected)} pairs never delivered"
    assert worker.proc.poll() is None, "no crash: the worker is still running"
    assert worker.stop() == 0
    return during


def test_a_broker_restart_loses_nothing(env, receiver, worker_factory, own_stack):
    run_with_outage(env, receiver, worker_factory, "kafka", "kafka: unreachable")


def test_a_redis_restart_loses_nothing_and_does_not_stall(env, receiver, worker_factory,
                                                           own_stack):
    during = run_with_outage(env, receiver, worker_factory, "redis", "redis: unreachable")
    # The task cache keeps the tasks it last loaded: deliveries go on while Redis is away.
    assert during > 0, "deliveries went on while Redis was down"
