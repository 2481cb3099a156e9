"""An event becomes exactly the expected request: method, URL, headers, body and signature,
for each method and each signature scheme; overrides; 50 tasks fan out; triggers filter."""
import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
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


def test_trigger_types_an_orchestration_run_reaches_the_tasks_that_take_it(running):
    """Y42's subscriptions: trigger.types chooses the event types a task takes (left out: all);
    an orchestration.completed event (runId for jobId) reaches the tasks that take it, a job's
    event the others, and a type no task can name only the tasks that take every type."""
    env, receiver, start = running
    flow = f"types-{env.tag}"
    tasks = {
        "jobs": {"event": "any", "types": ["job.completed"]},
        "runs": {"event": "success", "types": ["orchestration.completed"]},
        "both": {"event": "any", "types": ["job.completed", "orchestration.completed"]},
        "all": {"event": "any"},
    }
    for name, trigger in tasks.items():
        env.create_task({"flowId": flow, "url": receiver.url(f"/ty/{name}"),
                         "body": "$eventType $jobId", "trigger": trigger})
    start()
    env.publish({"type": "orchestration.completed", "runId": "run-7", "jobStatus": "Succeeded",
                 "flowId": flow})
    env.publish({"jobId": "job-8", "jobStatus": "Complete", "flowId": flow})
    env.publish({"type": "model.refreshed", "jobId": "m-9", "jobStatus": "Complete",
                 "flowId": flow})
    env.publish({"type": "orchestration.completed", "runId": "run-10", "jobStatus": "Failed",
                 "flowId": flow})
    assert receiver.wait_for("/ty/all", 4), receiver.matching("/ty/")
    time.sleep(1.0)  # anything else in flight lands by now
    seen = {}
    for r in receiver.matching("/ty/"):
        seen.setdefault(r["path"].split("/")[2], set()).add(r["body"].decode())
    assert seen == {
        "jobs": {"job.completed job-8"},
        "runs": {"orchestration.completed run-7"},
        "both": {"orchestration.completed run-7", "job.completed job-8",
                 "orchestration.completed run-10"},
        "all": {"orchestration.completed run-7", "job.completed job-8", "model.refreshed m-9",
                "orchestration.completed run-10"},
    }
    shown = env.hookctl("webhooks", "list", "--flow", flow, "--json")
    assert shown.returncode == 0, shown.stderr
    by_url = {t["url"].rsplit("/", 1)[1]: t["trigger"] for t in json.loads(shown.stdout)}
    assert by_url["runs"]["types"] == ["orchestration.completed"]
    assert "types" not in by_url["all"]
    refused = env.hookctl("webhooks", "create", "--file", "-", stdin=json.dumps(
        {"flowId": flow, "url": receiver.url("/x"), "trigger": {"types": ["job.done"]}}))
    assert refused.returncode == 2
    assert "trigger.types[0]: must be job.completed or orchestration.completed" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr


def test_a_get_without_a_path_is_signed_as_sent_and_rotation_signs_with_both(running):
    """The timestamped scheme signs "<t>.<url>" for GET and DELETE: the URL as the request line
    has it, so a task URL with no path ("http://host:port?q=1") is signed with its "/", and a
    receiver rebuilding the URL from what it got verifies it. With two secrets (rotation),
    t=...,sha256=<new>,sha256=<old>, each verifying with its own secret."""
    env, receiver, start = running
    flow = f"sent-{env.tag}"
    new, old = "rotated-new-secret-0123456789", "rotated-old-secret-9876543210"
    env.create_task({"flowId": flow, "url": f"http://127.0.0.1:{receiver.port}?job=1",
                     "method": "GET", "secret": SECRET, "signature": "timestamped"})
    env.create_task({"flowId": flow, "url": receiver.url("/rotated"), "body": '{"j":"$jobId"}',
                     "secrets": [new, old], "signature": "timestamped"})
    start()
    env.publish({"jobId": "j-1", "jobStatus": "Complete", "flowId": flow})
    assert receiver.wait_for("/rotated", 1)
    got = receiver.wait_for("/?job=", 1)
    assert len(got) == 1 and got[0]["method"] == "GET", got
    req = got[0]
    assert req["path"] == "/?job=1"
    url = f"http://127.0.0.1:{receiver.port}{req['path']}"  # as a receiver rebuilds it
    verify_timestamped(req["headers"]["x-webhook-signature"], url.encode())
    rot = receiver.matching("/rotated")[0]
    header = rot["headers"]["x-webhook-signature"]
    fields = header.split(",")
    assert fields[0].startswith("t=") and len(fields) == 3, header
    t = fields[0][2:]
    for field, secret in zip(fields[1:], (new, old)):
        want = hmac.new(secret.encode(), f"{t}.".encode() + rot["body"], hashlib.sha256).hexdigest()
        assert field == f"sha256={want}", (field, secret)
    refused = env.hookctl("webhooks", "create", "--file", "-", stdin=json.dumps(
        {"flowId": flow, "url": receiver.url("/x#part")}))
    assert refused.returncode == 2 and "url: has a fragment" in refused.stderr, refused.stderr


def test_a_post_without_a_body_sends_the_default_payload(running):
    """Y42 sends its own event JSON: a POST task with no body sends the documented default
    payload (docs/api.md), signed as any body, its deliveryId the X-Webhook-Id header."""
    env, receiver, start = running
    flow = f"default-{env.tag}"
    task_id = env.create_task({"flowId": flow, "name": "Notify ops", "url": receiver.url("/dflt"),
                               "secret": SECRET, "trigger": {"event": "any"}})
    start()
    env.publish({"eventId": f"ev-d-{env.tag}", "jobId": 77, "jobStatus": "Failed", "flowId": flow,
                 "flowName": "Nightly", "outputIds": ["3", 4], "jobType": "scheduled",
                 "finishedAt": "2026-11-22T10:00:00Z"})
    got = receiver.wait_for("/dflt", 1)
    assert len(got) == 1
    req = got[0]
    assert req["headers"]["content-type"] == "application/json"
    verify_timestamped(req["headers"]["x-webhook-signature"], req["body"])
    assert json.loads(req["body"]) == {
        "type": "job.completed", "jobId": "77", "jobStatus": "Failed", "outcome": "failure",
        "flowId": flow, "flowName": "Nightly", "spaceId": None, "jobType": "scheduled",
        "outputIds": ["3", "4"],
        "finishedAt": "2026-11-22T10:00:00Z", "eventId": f"ev-d-{env.tag}",
        "webhookId": task_id, "webhookName": "Notify ops",
        "deliveryId": req["headers"]["x-webhook-id"], "attempt": 1}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def h2_receiver(tmp_path):
    """nginx (the benchmarks' nginx-light, installed by deploy/local/setup) over TLS offering
    HTTP/2 by ALPN, answering 204 before reading the body, as many real receivers do; its log
    says which protocol each request came in."""
    d = tmp_path / "nginx"
    (d / "logs").mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(d / "key.pem"), "-out",
                    str(d / "cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    port = free_port()
    (d / "nginx.conf").write_text(f"""
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format proto '$server_protocol $status $http_x_webhook_attempt $request_uri';
    access_log {d}/logs/access.log proto;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        location / {{ return 204; }}
    }}
}}
""")
    proc = subprocess.Popen(["/usr/sbin/nginx", "-p", str(d), "-c", str(d / "nginx.conf"),
                             "-e", str(d / "logs/error.log"), "-g", "daemon off;"])
    deadline = time.time() + 10
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert proc.poll() is None and time.time() < deadline, \
            (d / "logs/error.log").read_text() if (d / "logs/error.log").exists() else "no log"
        time.sleep(0.05)
    yield f"https://127.0.0.1:{port}", d / "logs/access.log"
    proc.terminate()
    proc.wait(10)


def test_a_receiver_offering_http2_gets_http11_and_every_204_counts(running, h2_receiver):
    """curl would take h2 where TLS offers it; libcurl 7.88 then failed some of the POSTs nginx
    answered 204 ("Stream error in the HTTP/2 framing layer"), so a delivered request counted
    failed and went again. hookd asks for HTTP/1.1 (docs/decisions.md, 79)."""
    env, _, start = running
    base, log = h2_receiver
    flow = f"flow-{env.tag}"
    env.create_task({"flowId": flow, "url": f"{base}/h2", "body": '{"job":"$jobId"}',
                     "validateSsl": False})
    n = 200
    env.publish_many([{"eventId": f"h2-{env.tag}-{i}", "jobId": str(i), "jobStatus": "Complete",
                       "flowId": flow} for i in range(n)], spread=True)
    worker = start()
    deadline = time.time() + 60
    lines = []
    while time.time() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= n:
            break
        time.sleep(0.2)
    assert len(lines) == n, (len(lines), worker.lines()[-20:])
    assert {ln.split()[0] for ln in lines} == {"HTTP/1.1"}, lines[:3]
    assert {tuple(ln.split()[1:3]) for ln in lines} == {("204", "1")}, "first attempts, all 204"
    # and hookd counted each of them a success: no 204 was taken for a network error
    ok = 'hookd_delivery_attempts_total{outcome="succeeded",status_class="2xx"}'
    deadline = time.time() + 15
    while worker.metric("hookd_delivery_attempts_total") < n and time.time() < deadline:
        time.sleep(0.2)
    assert worker.metric("hookd_delivery_attempts_total") == n
    assert worker.metric(ok) == n
