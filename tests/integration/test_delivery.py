"""An event becomes exactly the expected request: method, URL, headers, body and signature,
for each method and each signature scheme; overrides; 50 tasks fan out; triggers filter."""
import base64
import hashlib
import hmac
import json
import os
import time

import pytest
from standardwebhooks import Webhook

from conftest import delivery_id, hookd_version

SECRET = "mySecretValue-integration"


def verify_timestamped(header, payload, secret=SECRET):
    parts = dict(p.split("=", 1) for p in header.split(","))
    t = parts["t"]
    expected = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    assert parts["sha256"] == expected, "signature does not verify"
    assert abs(time.time() * 1000 - int(t)) < 60_000, "t is a unix time in milliseconds"


@pytest.fixture
def running(env, receiver, worker_factory):
    """Tests create their tasks first, then start the worker, so its first snapshot has them."""
    return env, receiver, lambda: worker_factory(env.topic, env.group, env.prefix)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "GET", "DELETE"])
def test_request_shape_per_method(running, method):
    env, receiver, start = running
    flow = f"flow-{env.tag}-{method}"
    path = f"/hook/{method.lower()}?q=1&r=two"
    task_id = env.create_task({
        "flowId": flow, "name": "Shape", "url": receiver.url(path), "method": method,
        "headers": {"Content-Type": "application/json", "X-Custom": "yes"},
        "body": '{"job":"$jobId","status":"$jobStatus","flow":"$flowName","outputs":"$outputIds"}',
        "trigger": {"event": "success", "objects": "any"},
        "secret": SECRET, "signature": "timestamped",
    })
    worker = start()
    event_id = f"ev-{env.tag}-{method}"
    env.publish({"eventId": event_id, "jobId": 12345, "jobStatus": "Complete", "flowId": flow,
                 "flowName": 'Sales "Q4"\ncleanup', "outputIds": ["3", "4"]})
    got = receiver.wait_for("/hook/", 1)
    assert len(got) == 1, worker.lines()[-20:]
    req = got[0]
    assert req["method"] == method
    assert req["path"] == path
    h = req["headers"]
    assert h["x-custom"] == "yes"
    assert h["user-agent"] == f"hookd/{hookd_version()}"
    assert h["x-webhook-id"] == delivery_id(event_id, task_id)
    assert h["x-webhook-attempt"] == "1"
    if method in ("POST", "PUT", "PATCH"):
        body = json.loads(req["body"])
        assert body == {"job": "12345", "status": "Complete", "flow": 'Sales "Q4"\ncleanup',
                        "outputs": "3,4"}
        assert h["content-type"] == "application/json"
        verify_timestamped(h["x-webhook-signature"], req["body"])
    else:
        assert req["body"] == b""
        verify_timestamped(h["x-webhook-signature"], receiver.url(path).encode())


def test_body_scheme_with_custom_header(running):
    env, receiver, start = running
    flow = f"flow-{env.tag}"
    env.create_task({"flowId": flow, "url": receiver.url("/y42"), "body": "job $jobId",
                     "secret": SECRET, "signature": "body", "signatureHeader": "x-y42-signature"})
    start()
    env.publish({"jobId": "7", "jobStatus": "Success", "flowId": flow})
    req = receiver.wait_for("/y42", 1)[0]
    assert req["body"] == b"job 7"
    expected = hmac.new(SECRET.encode(), b"job 7", hashlib.sha256).hexdigest()
    assert req["headers"]["x-y42-signature"] == f"sha256={expected}"
    assert "x-webhook-signature" not in req["headers"]
    assert req["headers"]["content-type"] == "text/plain; charset=utf-8"


def test_standard_webhooks_verify_with_reference_library(running):
    env, receiver, start = running
    flow = f"flow-{env.tag}"
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    task_id = env.create_task({"flowId": flow, "url": receiver.url("/std"),
                               "body": '{"job":"$jobId"}', "secret": secret,
                               "signature": "standard"})
    start()
    env.publish({"eventId": f"std-{env.tag}", "jobId": "8", "jobStatus": "Complete",
                 "flowId": flow})
    req = receiver.wait_for("/std", 1)[0]
    headers = req["headers"]
    payload = Webhook(secret).verify(req["body"], headers)
    assert payload == {"job": "8"}
    assert headers["webhook-id"] == delivery_id(f"std-{env.tag}", task_id)
    with pytest.raises(Exception):
        Webhook("whsec_" + base64.b64encode(os.urandom(32)).decode()).verify(req["body"], headers)


def test_overrides_replace_url_and_body_for_one_job(running):
    env, receiver, start = running
    flow = f"flow-{env.tag}"
    task_id = env.create_task({"flowId": flow, "url": receiver.url("/orig"), "body": "orig"})
    start()
    env.publish({"jobId": "1", "jobStatus": "Complete", "flowId": flow,
                 "webhookOverrides": [{"webhookId": task_id, "url": receiver.url("/over"),
                                       "body": "over $jobId"}]})
    env.publish({"jobId": "2", "jobStatus": "Complete", "flowId": flow})
    over = receiver.wait_for("/over", 1)
    orig = receiver.wait_for("/orig", 1)
    assert [r["body"] for r in over] == [b"over 1"]
    assert [r["body"] for r in orig] == [b"orig"]


def test_fifty_tasks_fan_out_and_the_51st_is_refused(running):
    env, receiver, start = running
    flow = f"fan-{env.tag}"
    ids = [env.create_task({"flowId": flow, "url": receiver.url(f"/fan/{i}"),
                            "body": "$jobId"}) for i in range(50)]
    extra = env.tmp_path / "extra.json"
    extra.write_text(json.dumps({"flowId": flow, "url": receiver.url("/fan/51")}))
    out = env.hookctl("webhooks", "create", "--file", str(extra))
    assert out.returncode == 2
    assert "flowId" in out.stderr and "50" in out.stderr
    start()
    env.publish({"eventId": f"fan-{env.tag}", "jobId": "50", "jobStatus": "Complete",
                 "flowId": flow})
    got = receiver.wait_for("/fan/", 50, timeout=30)
    assert len(got) == 50
    assert {r["headers"]["x-webhook-id"] for r in got} == {
        delivery_id(f"fan-{env.tag}", i) for i in ids}
    assert {r["path"] for r in got} == {f"/fan/{i}" for i in range(50)}


def test_trigger_filtering(running):
    env, receiver, start = running
    flow = f"trig-{env.tag}"
    tasks = {
        "succ": {"event": "success", "objects": "any"},
        "fail": {"event": "failure", "objects": "any"},
        "any": {"event": "any", "objects": "any"},
        "out3": {"event": "any", "objects": ["3"]},
    }
    for name, trigger in tasks.items():
        env.create_task({"flowId": flow, "url": receiver.url(f"/t/{name}"),
                         "body": "$jobId", "trigger": trigger})
    disabled = env.create_task({"flowId": flow, "url": receiver.url("/t/disabled"),
                                "trigger": {"event": "any"}, "enabled": False})
    assert disabled
    sentinel_flow = f"sentinel-{env.tag}"
    env.create_task({"flowId": sentinel_flow, "url": receiver.url("/sentinel")})
    start()
    env.publish({"jobId": "ok3", "jobStatus": "Complete", "flowId": flow, "outputIds": ["3"]})
    env.publish({"jobId": "bad4", "jobStatus": "Failed", "flowId": flow, "outputIds": ["4"]})
    env.publish({"jobId": "cancel", "jobStatus": "Canceled", "flowId": flow})
    env.publish({"jobId": "s", "jobStatus": "Complete", "flowId": sentinel_flow})
    assert receiver.wait_for("/sentinel", 1)
    time.sleep(1.0)  # anything else in flight lands by now
    seen = {}
    for r in receiver.matching("/t/"):
        seen.setdefault(r["path"].split("/")[2], set()).add(r["body"].decode())
    assert seen == {
        "succ": {"ok3"},
        "fail": {"bad4"},
        "any": {"ok3", "bad4", "cancel"},
        "out3": {"ok3"},
    }
