"""Auto-disable (HOOKD_DISABLE_AFTER) and the task.disabled operational event, against the real
broker and Redis with a short rule: a task whose deliveries all fail finally for longer than it
is disabled with its reason and time (hookctl and the API show them); task.disabled goes to
hookd.events exactly once and reaches, signed and in the history, a task of the flow naming it;
a task that keeps succeeding in between stays enabled; 0 never disables; a bad value exits 2; a
410 publishes the event too."""
import json
import os
import re
import subprocess
import time

import jsonschema

from conftest import HOOKD, ROOT, delivery_id, read_topic
from test_api import TOKEN, Api
from test_observability import get, samples, value, wait_probe

RULE = {"HOOKD_DISABLE_AFTER": "2s", "HOOKD_RETRY_DELAYS": "1s", "HOOKD_LOG_LEVEL": "info",
        "HOOKD_API_TOKEN": TOKEN}


def default_payload_schema():
    """The JSON Schema of the default payload, as docs/api.md gives it."""
    text = open(os.path.join(ROOT, "docs", "api.md")).read()
    section = text[text.index("#### The default payload"):]
    blocks = re.findall(r"```json\n(.*?)```", section, re.S)
    return json.loads(next(b for b in blocks if "$schema" in b))


def redis_exists(stack, key):
    out = subprocess.run(["redis-cli", "-u", stack["HOOKD_REDIS_URL"], "EXISTS", key],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip() == "1"


def ready(worker):
    """Every consumer joined (hookd.events's included: a new group starts at its end)."""
    status, body = wait_probe(worker, "/readyz", 200, timeout=40)
    assert status == 200, body


def task_json(env, task_id):
    out = env.hookctl("webhooks", "get", task_id, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def wait_disabled(env, task_id, timeout):
    deadline = time.time() + timeout
    while True:
        task = task_json(env, task_id)
        if not task["enabled"] or time.time() > deadline:
            return task
        time.sleep(0.2)


def events_about(stack, task_id, n=1, timeout=20):
    return read_topic(stack, "hookd.events", lambda r: r.get("webhookId") == task_id, n,
                      timeout=timeout, since_s=120)


def publish_for(env, flow, seconds, gap=0.25, tag="e"):
    """Events of the flow, one every gap seconds, for seconds."""
    end, i = time.time() + seconds, 0
    while time.time() < end:
        job = f"{tag}-{env.tag}-{i}"
        env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
        i += 1
        time.sleep(gap)
    return i


def test_sustained_failure_disables_once_and_a_sibling_is_told(env, receiver, worker_factory,
                                                              stack):
    flow = f"dis-{env.tag}"
    receiver.status["/down"] = 500
    # fails two times in three: a delivery every third event (0.75 s apart), from either
    # worker, keeps it enabled
    receiver.script["/flaky"] = [500, 500, 204] * 100
    down = env.create_task({"flowId": flow, "url": receiver.url("/down"), "body": "$jobId",
                            "name": "down hook", "retry": {"enabled": False}})
    flaky = env.create_task({"flowId": flow, "url": receiver.url("/flaky"), "body": "$jobId",
                             "retry": {"enabled": False}})
    ops = env.create_task({"flowId": flow, "url": receiver.url("/ops"), "method": "POST",
                           "secret": "ops-secret-00001",
                           "trigger": {"types": ["task.disabled"]}})
    jobs_only = env.create_task({"flowId": flow, "url": receiver.url("/jobs"), "body": "$jobId",
                                 "trigger": {"types": ["job.completed"]}})
    # two workers of the group: both see the failures, one disables and tells
    worker = worker_factory(env.topic, env.group, env.prefix, RULE)
    second = worker_factory(env.topic, env.group, env.prefix, RULE)
    ready(worker)
    ready(second)
    started = time.time()
    publish_for(env, flow, 5.0)
    task = wait_disabled(env, down, 10)
    assert task["enabled"] is False, task
    assert "every delivery failed for more than 2s (HOOKD_DISABLE_AFTER)" in \
        task["disabledReason"], task
    assert task["disabledAt"].startswith(time.strftime("%Y-%m-%d", time.gmtime())), task
    first = min(r["time"] for r in receiver.matching("/down"))
    print(f"disabled {task['disabledAt']}; first failure {first - started:.2f} s after the "
          f"first event")
    # the API shows the same, as docs/openapi.yaml says
    api = Api(worker.port())
    got = api.call("GET", f"/v1/webhooks/{down}", "/v1/webhooks/{id}", expect=200).json()
    assert (got["enabled"], got["disabledReason"], got["disabledAt"]) == \
        (False, task["disabledReason"], task["disabledAt"])
    # the task that kept succeeding in between is still enabled, the others too
    assert task_json(env, flaky)["enabled"] is True
    assert task_json(env, ops)["enabled"] is True
    # exactly one task.disabled on hookd.events (read well after: no second worker's copy)
    time.sleep(2)
    events = events_about(stack, down, n=2, timeout=5)
    assert len(events) == 1, events
    ev = events[0]
    assert ev == {"type": "task.disabled", "eventId": f"task.disabled/{down}/{task['disabledAt']}",
                  "group": env.group, "webhookId": down, "flowId": flow,
                  "webhookName": "down hook", "reason": task["disabledReason"],
                  "disabledAt": task["disabledAt"]}, ev
    assert "secret" not in json.dumps(ev).lower()
    # the sibling naming task.disabled receives it once, signed, with the default payload
    told = receiver.wait_for("/ops", 1, timeout=15)
    time.sleep(1)
    told = receiver.matching("/ops")
    assert len(told) == 1, told
    body = json.loads(told[0]["body"])
    assert (body["type"], body["jobId"], body["jobStatus"], body["flowId"], body["reason"],
            body["finishedAt"], body["webhookId"]) == \
        ("task.disabled", down, "disabled", flow, task["disabledReason"], task["disabledAt"], ops)
    jsonschema.validate(body, default_payload_schema())
    assert told[0]["headers"]["x-webhook-id"] == delivery_id(ev["eventId"], ops)
    assert told[0]["headers"]["x-webhook-signature"], told[0]["headers"]
    # a task taking job events only, the disabled one and the flaky one got no such event
    assert all(b"task.disabled" not in r["body"]
               for p in ("/jobs", "/down", "/flaky") for r in receiver.matching(p))
    # in the history, under the disabled task's id as the job
    history = json.loads(env.hookctl("deliveries", "--job", down, "--json").stdout)
    assert [(h["webhookId"], h["status"]) for h in history] == [(ops, "delivered")], history
    # a disabled task is delivered nothing more (the flaky one goes first: idle time counts,
    # so its failing streak would outlast the rule while no event comes)
    env.delete_task(flaky)
    n = len(receiver.matching("/down"))
    publish_for(env, flow, 1.0, tag="after")
    time.sleep(2)
    assert len(receiver.matching("/down")) == n
    both = [samples(get(w, "/metrics")[1]) for w in (worker, second)]

    def total(name, **labels):
        return sum(value(s, name, **labels) for s in both)
    assert total("hookd_tasks_disabled_total", reason="failing") == 1
    assert total("hookd_tasks_disabled_total", reason="gone") == 0
    assert total("hookd_operational_events_total") == 1
    assert total("hookd_operational_event_errors_total") == 0
    # the mark went with the disable; the flaky task's is cleared by its deliveries
    assert not redis_exists(stack, f"{env.prefix}webhook:{down}:failing")
    assert jobs_only and worker.stop() == 0 and second.stop() == 0


def test_zero_never_disables(env, receiver, worker_factory, stack):
    flow = f"dis0-{env.tag}"
    receiver.status["/down"] = 500
    down = env.create_task({"flowId": flow, "url": receiver.url("/down"), "body": "$jobId",
                            "retry": {"enabled": False}})
    worker = worker_factory(env.topic, env.group, env.prefix, dict(RULE, HOOKD_DISABLE_AFTER="0"))
    ready(worker)
    publish_for(env, flow, 4.0, gap=0.3)
    time.sleep(2)
    assert len(receiver.matching("/down")) >= 10
    assert task_json(env, down)["enabled"] is True
    assert events_about(stack, down, timeout=3) == []
    assert not redis_exists(stack, f"{env.prefix}webhook:{down}:failing"), "0: nothing kept"
    assert worker.stop() == 0


def test_a_bad_value_exits_2_naming_the_variable(stack):
    for bad in ("5x", "-1d", "1.5h", ""):
        env = dict(os.environ, HOOKD_DISABLE_AFTER=bad,
                   HOOKD_KAFKA_BOOTSTRAP_SERVERS=stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
                   HOOKD_REDIS_URL=stack["HOOKD_REDIS_URL"])
        out = subprocess.run([HOOKD], env=env, capture_output=True, text=True, timeout=20)
        assert out.returncode == 2, (bad, out.stdout, out.stderr)
        text = out.stdout + out.stderr
        assert "HOOKD_DISABLE_AFTER" in text and len(text.strip().splitlines()) == 1, (bad, text)
    out = subprocess.run([HOOKD, "--help"], capture_output=True, text=True, timeout=10)
    assert "HOOKD_DISABLE_AFTER" in out.stdout and "(default: 5d)" in out.stdout


def test_a_410_publishes_task_disabled_too(env, receiver, worker_factory, stack):
    flow = f"dis410-{env.tag}"
    receiver.status["/gone"] = 410
    gone = env.create_task({"flowId": flow, "url": receiver.url("/gone"), "body": "$jobId"})
    ops = env.create_task({"flowId": flow, "url": receiver.url("/ops"), "method": "POST",
                           "trigger": {"types": ["task.disabled"]}})
    worker = worker_factory(env.topic, env.group, env.prefix, RULE)
    ready(worker)
    job = f"g-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    task = wait_disabled(env, gone, 15)
    assert task["enabled"] is False and "410" in task["disabledReason"], task
    events = events_about(stack, gone)
    assert len(events) == 1 and events[0]["reason"] == task["disabledReason"], events
    told = receiver.wait_for("/ops", 1, timeout=15)
    assert len(told) == 1 and json.loads(told[0]["body"])["jobId"] == gone, told
    assert value(samples(get(worker, "/metrics")[1]), "hookd_tasks_disabled_total",
                 reason="gone") == 1
    assert worker.stop() == 0


def test_a_space_tasks_disable_names_its_space_and_tells_the_space(env, receiver, worker_factory,
                                                                    stack):
    """A space's task has no flow: its task.disabled names the space (no flowId) and reaches the
    space's tasks that name task.disabled, whatever flow the failing event came from."""
    space, flow = f"dsp-{env.tag}", f"dspf-{env.tag}"
    receiver.status["/sgone"] = 410
    gone = env.create_task({"spaceId": space, "url": receiver.url("/sgone"), "body": "$jobId"})
    env.create_task({"spaceId": space, "url": receiver.url("/sops"), "method": "POST",
                     "trigger": {"types": ["task.disabled"]}})
    worker = worker_factory(env.topic, env.group, env.prefix, RULE)
    ready(worker)
    job = f"s-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow,
                 "spaceId": space})
    task = wait_disabled(env, gone, 15)
    assert task["enabled"] is False and "410" in task["disabledReason"], task
    [event] = events_about(stack, gone)
    assert event["spaceId"] == space and "flowId" not in event, event
    told = receiver.wait_for("/sops", 1, timeout=15)
    body = json.loads(told[0]["body"])
    assert body["jobId"] == gone and body["spaceId"] == space, body
    assert worker.stop() == 0
