"""What a task or an event's override may make hookd do (issue 12, sections 1 and 3), against the
real broker and Redis: a rendering that would blow up is dead-lettered and the partition moves on;
an override url keeps the task's origin unless the task allows any; a JSON template is escaped as
JSON whatever its Content-Type; a signatureHeader naming a header hookd manages, and a NUL or a
control character in a header, are refused where a task is written."""
import json
import time
import uuid

import pytest
import requests

from conftest import Receiver, delivery_id, read_topic, wait_lag_zero


def publish_to(env, partition, value):
    env.producer.produce(env.topic, value=json.dumps(value).encode(), partition=partition)
    env.producer.flush(30)


def peak_rss_mb(proc):
    with open(f"/proc/{proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


# (name, the reference, its value's length, references in the override body, the limit)
BLOW_UPS = [
    # The case: 256 KiB of references ("$flowName" x 29,127) to a 700,000-byte value
    # is about 20 GB rendered, in an event under 1 MiB. Never run this one against code without
    # the limit. The value is the flowName here: an event with a 700 KB jobId is refused before
    # any render, as too large to retry (a retry record carries the jobId twice: decision 28,
    # tests/integration/test_limits.py); the render is refused the same way for any reference.
    pytest.param("issue", "flowName", 700_000, 29_127, None, id="issue-scale"),
    # The same shape with $jobId, small: 8 MB rendered against a 64 KiB limit. Safe on any code.
    pytest.param("small", "jobId", 2_000, 4_000, "65536", id="small"),
]


@pytest.mark.parametrize("name,ref,value_len,refs,limit", BLOW_UPS)
def test_a_rendering_blow_up_is_dead_lettered_and_the_partition_moves_on(
        env, receiver, worker_factory, stack, name, ref, value_len, refs, limit):
    flow = f"blow-{env.tag}"
    task_id = env.create_task({"flowId": flow, "url": receiver.url("/blow"),
                               "body": "{\"job\":\"$jobId\"}", "secret": "blow-secret"})
    extra = {"HOOKD_LOG_LEVEL": "info"}
    if limit:
        extra["HOOKD_MAX_BODY_BYTES"] = limit
    w = worker_factory(env.topic, env.group, env.prefix, extra)

    bad_event = f"bad-{env.tag}"
    bad = {"eventId": bad_event, "jobId": bad_event, "jobStatus": "Complete", "flowId": flow,
           "webhookOverrides": [{"webhookId": task_id, "body": f"${ref}" * refs}]}
    bad[ref] = "v" * value_len
    assert len(json.dumps(bad)) < 1024 * 1024, "the event itself is within hookd's 1 MiB"
    good_event = f"good-{env.tag}"
    publish_to(env, 0, bad)
    publish_to(env, 0, {"eventId": good_event, "jobId": good_event, "jobStatus": "Complete",
                        "flowId": flow})

    got = receiver.wait_for("/blow", 1, timeout=30)
    assert [json.loads(r["body"])["job"] for r in got] == [good_event], \
        "the next event of the partition is delivered, and only it"
    assert w.proc.poll() is None, "the worker keeps running"
    did = delivery_id(bad_event, task_id)
    dead = read_topic(stack, "hookd.dlq", lambda r: r.get("deliveryId") == did, 1, timeout=30)
    assert len(dead) == 1, dead
    assert dead[0]["reason"] == "invalid request", dead[0]
    assert dead[0]["error"].startswith(
        "invalid request: webhookOverrides.body: the rendered body is over "
        "HOOKD_MAX_BODY_BYTES"), dead[0]["error"]
    assert wait_lag_zero(stack, env) == 0, "both offsets committed"
    assert w.metric('hookd_delivery_attempts_total{outcome="invalid",status_class="none"}') >= 1
    # The render is measured before anything is allocated: the worker never holds more than
    # the event, its copies and the limit, nowhere near the tens of GB asked for.
    peak = peak_rss_mb(w.proc)
    print(f"{name}: worker peak RSS {peak:.0f} MB")
    assert peak < 256, f"peak RSS {peak:.0f} MB"
    time.sleep(1)
    assert w.proc.poll() is None
    assert len(receiver.matching("/blow")) == 1


def test_an_override_url_leaving_the_task_origin_is_dead_lettered_unless_allowed(
        env, receiver, worker_factory, stack):
    other = Receiver()  # another port of the same host: another origin
    try:
        flow = f"orig-{env.tag}"
        strict = env.create_task({"flowId": flow, "name": "strict", "url": receiver.url("/strict"),
                                  "headers": {"Authorization": "Bearer receiver-token"},
                                  "secret": "strict-secret", "body": "{\"job\":\"$jobId\"}"})
        shown = env.hookctl("webhooks", "get", strict, "--json")
        assert "allowCrossOriginOverrides" not in json.loads(shown.stdout), "false: not shown"
        worker_factory(env.topic, env.group, env.prefix, {"HOOKD_LOG_LEVEL": "info"})

        # Refused by default: dead-lettered with the reason, sent nowhere, no fallback.
        job = f"away-{env.tag}"
        env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow,
                     "webhookOverrides": [{"webhookId": strict, "url": other.url("/stolen")}]})
        did = delivery_id(job, strict)
        dead = read_topic(stack, "hookd.dlq", lambda r: r.get("deliveryId") == did, 1, timeout=20)
        assert other.matching("/stolen") == [], "the task's token went to another origin"
        assert len(dead) == 1, dead
        assert dead[0]["reason"] == "invalid request"
        assert dead[0]["error"].startswith("invalid request: webhookOverrides.url: leaves the "
                                           "origin"), dead[0]["error"]
        assert "allowCrossOriginOverrides" in dead[0]["error"]
        assert receiver.matching("/strict") == [], "never a fallback to the task's own url"

        # The same origin, spelt otherwise (upper-case scheme), is fine.
        same = f"same-{env.tag}"
        url = receiver.url("/moved-within").replace("http://", "HTTP://")
        env.publish({"eventId": same, "jobId": same, "jobStatus": "Complete", "flowId": flow,
                     "webhookOverrides": [{"webhookId": strict, "url": url}]})
        got = receiver.wait_for("/moved-within", 1, timeout=20)
        assert len(got) == 1 and got[0]["headers"]["authorization"] == "Bearer receiver-token"

        # A task that allows any origin is sent there.
        open_flow = f"open-{env.tag}"
        open_task = env.create_task({"flowId": open_flow, "url": receiver.url("/open"),
                                     "allowCrossOriginOverrides": True,
                                     "body": "{\"job\":\"$jobId\"}"})
        shown = env.hookctl("webhooks", "get", open_task, "--json")
        assert json.loads(shown.stdout)["allowCrossOriginOverrides"] is True
        time.sleep(3)  # workers see a new task within 2 s
        job = f"open-{env.tag}"
        env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": open_flow,
                     "webhookOverrides": [{"webhookId": open_task, "url": other.url("/moved")}]})
        assert len(other.wait_for("/moved", 1, timeout=20)) == 1
        assert receiver.matching("/strict") == [] and other.matching("/stolen") == []
        assert wait_lag_zero(stack, env) == 0
    finally:
        other.close()


def test_a_json_template_sent_as_text_plain_takes_no_keys_from_a_job_id(
        env, receiver, worker_factory):
    flow = f"esc-{env.tag}"
    env.create_task({"flowId": flow, "url": receiver.url("/esc"),
                     "headers": {"Content-Type": "text/plain"},
                     "body": "{\"job\":\"$jobId\",\"status\":\"$jobStatus\"}"})
    worker_factory(env.topic, env.group, env.prefix, {"HOOKD_LOG_LEVEL": "info"})
    job_id = "\",\"admin\":true,\"x\":\""
    env.publish({"eventId": f"esc-{env.tag}", "jobId": job_id, "jobStatus": "Complete",
                 "flowId": flow})
    got = receiver.wait_for("/esc", 1, timeout=20)
    assert len(got) == 1
    assert got[0]["headers"]["content-type"] == "text/plain", "the task's own type is kept"
    body = json.loads(got[0]["body"])
    assert body == {"job": job_id, "status": "Complete"}, got[0]["body"]


MANAGED = ["Content-Length", "transfer-encoding", "Host", "Connection", "User-Agent",
           "X-Webhook-Id", "X-Webhook-Attempt", "Expect", "webhook-signature"]


def test_signature_header_and_header_bytes_are_refused_where_a_task_is_written(
        env, receiver, worker_factory, tmp_path):
    flow = f"sig-{env.tag}"
    base = {"flowId": flow, "url": receiver.url("/sig"), "secret": "sig-secret",
            "signature": "body"}
    path = tmp_path / f"t-{uuid.uuid4().hex[:6]}.json"
    for name in MANAGED:
        path.write_text(json.dumps({**base, "signatureHeader": name}))
        out = env.hookctl("webhooks", "create", "--file", str(path))
        assert out.returncode == 2, (name, out.stdout, out.stderr)
        assert out.stderr.startswith("hookctl: signatureHeader: "), out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    task_id = env.create_task({**base, "signatureHeader": "X-Y42-Signature"})
    path.write_text(json.dumps({**base, "signatureHeader": "Content-Length"}))
    out = env.hookctl("webhooks", "update", task_id, "--file", str(path))
    assert out.returncode == 2 and "signatureHeader: " in out.stderr, out.stderr
    path.write_text(json.dumps([{**base, "name": "x", "signatureHeader": "Host"}]))
    out = env.hookctl("webhooks", "import", "--flow", flow, "--file", str(path))
    assert out.returncode == 2 and "webhooks[0].signatureHeader: " in out.stderr, out.stderr

    # Control characters and NUL in a header, through hookctl (the JSON text, as written).
    for text, field in [
            ('{"flowId":"%s","url":"%s","headers":{"X-A":"a\\u000bb"}}', "headers.X-A"),
            ('{"flowId":"%s","url":"%s","headers":{"X-A":"ok\\u0000evil"}}', "headers.X-A"),
            ('{"flowId":"%s","url":"%s","method":"POST\\u0000x"}', "method")]:
        path.write_text(text % (flow, receiver.url("/sig")))
        out = env.hookctl("webhooks", "create", "--file", str(path))
        assert out.returncode == 2, (text, out.stdout)
        assert out.stderr.startswith(f"hookctl: {field}: "), out.stderr

    # The admin API answers 400 naming the field.
    token = "it-token-" + uuid.uuid4().hex
    w = worker_factory(env.topic, env.group, env.prefix, {"HOOKD_API_TOKEN": token})
    api = f"http://127.0.0.1:{w.port()}"
    auth = {"Authorization": f"Bearer {token}"}
    r = requests.post(f"{api}/v1/flows/{flow}/webhooks", headers=auth, timeout=30,
                      data=json.dumps({**base, "signatureHeader": "Transfer-Encoding"}))
    assert r.status_code == 400 and r.json()["error"]["field"] == "signatureHeader", r.text
    r = requests.put(f"{api}/v1/webhooks/{task_id}", headers=auth, timeout=30,
                     data=json.dumps({**base, "signatureHeader": "X-Webhook-Id"}))
    assert r.status_code == 400 and r.json()["error"]["field"] == "signatureHeader", r.text
    raw = '{"flowId":"%s","url":"%s","headers":{"X-A":"a\\u0000b"}}' % (flow, receiver.url("/"))
    r = requests.post(f"{api}/v1/flows/{flow}/webhooks", headers=auth, timeout=30, data=raw)
    assert r.status_code == 400 and r.json()["error"]["field"] == "headers.X-A", r.text


def test_an_override_may_skip_a_task_and_one_naming_no_task_is_reported(
        env, receiver, worker_factory, stack):
    """An event's override may skip a task for that run ("skip": true: nothing sent, counted);
    an override naming a task that is not in the flow is not silently dropped: a warning in
    the log, a metric, and the same line in the outcome of each of the event's deliveries."""
    flow = f"skip-{env.tag}"
    skipped = env.create_task({"flowId": flow, "name": "skipped", "url": receiver.url("/sk/a"),
                               "body": "$jobId"})
    kept = env.create_task({"flowId": flow, "name": "kept", "url": receiver.url("/sk/b"),
                            "body": "$jobId"})
    w = worker_factory(env.topic, env.group, env.prefix, {"HOOKD_LOG_LEVEL": "info"})
    job = f"skip-{env.tag}"
    ghost = f"wh_ghost{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow,
                 "webhookOverrides": [{"webhookId": skipped, "skip": True},
                                      {"webhookId": ghost, "body": "lost"}]})
    assert receiver.wait_for("/sk/b", 1)
    did = delivery_id(job, kept)
    [outcome] = read_topic(stack, "hookd.deliveries", lambda r: r.get("deliveryId") == did, 1,
                           timeout=20)
    assert outcome["status"] == "delivered"
    assert outcome["warning"] == f"webhookOverrides[1]: no webhook task {ghost} in flow {flow}"
    time.sleep(1.0)  # a delivery to the skipped task would have landed by now
    assert receiver.matching("/sk/a") == [], "the override skipped it"
    assert w.metric('hookd_deliveries_total{outcome="skipped"}') == 1
    assert w.metric("hookd_overrides_unknown_total") == 1
    assert any('"event":"event.override.unknown"' in line and ghost in line for line in w.lines())
    assert any('"event":"event.override.skip"' in line and skipped in line for line in w.lines())
    # a bad skip is a poison event, naming the field
    bad = f"badskip-{env.tag}"
    env.publish({"eventId": bad, "jobId": bad, "jobStatus": "Complete", "flowId": flow,
                 "webhookOverrides": [{"webhookId": kept, "skip": "yes"}]})
    dead = read_topic(stack, "hookd.dlq",
                      lambda r: r.get("kind") == "poison" and r.get("topic") == env.topic, 1,
                      timeout=20)
    assert len(dead) == 1, dead
    assert dead[0]["reason"].startswith("webhookOverrides[0].skip: must be true or false"), dead
