"""What a job's history keeps and what can be done with it (issue 16, items 9 and 10), against a
real hookd, broker and Redis: the request body sent (its first 4 KiB, unless
HOOKD_HISTORY_BODIES=off), the response's status, headers (credential headers never) and first
1 KiB of body; `hookctl deliveries --job --detail` and the API show them; hookd.deliveries stays
lean. And `hookctl deliveries resend` / POST /v1/deliveries/{id}/resend: the delivery again now,
re-rendered from its kept event with the task as it is now, the same X-Webhook-Id, recorded as
its next attempt.

Every API answer is checked against docs/openapi.yaml with test_api.py's client.
"""
import json
import os
import re
import subprocess
import time

from conftest import HOOKCTL, HOOKD, delivery_id, read_topic
from test_api import SECRET, api  # noqa: F401 - api is a fixture

D = "/v1/jobs/{jobId}/deliveries"
R = "/v1/deliveries/{deliveryId}/resend"
W = "/v1/flows/{flowId}/webhooks"
ONE = "/v1/webhooks/{id}"


def resend(env, *args):
    """hookctl deliveries resend, allowed to deliver to the receiver on loopback."""
    e = dict(env.cli_env(), HOOKD_ALLOW_NETWORKS="127.0.0.0/8")
    return subprocess.run([HOOKCTL, "deliveries", "resend", *args], env=e, capture_output=True,
                          text=True, timeout=60)


def history(api, job, n, timeout=30):
    deadline = time.time() + timeout
    while True:
        got = api.call("GET", f"/v1/jobs/{job}/deliveries", D, expect=200).json()["data"]
        if len(got) >= n or time.time() > deadline:
            assert len(got) == n, got
            return got
        time.sleep(0.3)


def test_the_history_keeps_what_was_sent_and_what_came_back(api, env, receiver):
    flow = f"hist-{env.tag}"
    pad = "p" * 5000
    ok = api.call("POST", f"/v1/flows/{flow}/webhooks", W, expect=201, body={
        "name": "ok", "url": receiver.url("/h/ok"), "secret": SECRET,
        "body": '{"job":"$jobId","pad":"' + pad + '"}'}).json()["id"]
    binary = api.call("POST", f"/v1/flows/{flow}/webhooks", W, expect=201, body={
        "name": "bin", "url": receiver.url("/h/bin"), "retry": {"enabled": False},
        "body": '{"job":"$jobId"}'}).json()["id"]
    receiver.status["/h/ok"] = 200
    receiver.reply_headers["/h/ok"] = {"X-Trace": "t-1", "Set-Cookie": "sid=cookie-secret",
                                       "X-Api-Key": "key-secret", "Vary": "Accept"}
    receiver.reply_body["/h/ok"] = b"y" * 1500
    receiver.status["/h/bin"] = 500
    receiver.reply_body["/h/bin"] = b"\xff\x00\x01"

    job = f"job-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    records = {r["webhookId"]: r for r in history(api, job, 2)}

    sent = '{"job":"%s","pad":"%s"}' % (job, pad)
    rec = records[ok]
    assert rec["statusCode"] == 200 and rec["deliveryId"] == delivery_id(job, ok)
    assert rec["request"] == {"bodyBytes": len(sent), "body": sent[:4096], "bodyTruncated": True}
    headers = rec["response"]["headers"]
    assert headers["x-trace"] == "t-1" and headers["vary"] == "Accept"
    assert headers["content-length"] == "1500"
    assert "set-cookie" not in headers and "x-api-key" not in headers, headers
    assert rec["response"]["body"] == "y" * 1024 and rec["response"]["bodyTruncated"] is True
    rec = records[binary]
    assert rec["statusCode"] == 500 and rec["status"] == "failed"
    assert rec["request"]["body"] == '{"job":"%s"}' % job
    assert rec["response"]["bodyBase64"] == "/wAB" and "body" not in rec["response"]

    # hookctl shows the same, the delivery id in the table and the rest with --detail
    out = env.hookctl("deliveries", "--job", job, "--detail")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["AT", "DELIVERY", "WEBHOOK", "ATTEMPT", "RESULT", "STATUS",
                                "LATENCY", "ERROR"]
    assert delivery_id(job, ok) in out.stdout
    assert "    x-trace: t-1" in lines
    assert "  response body (cut):" in lines and "    " + "y" * 1024 in lines
    assert "  response body (binary, base64):" in lines and "    /wAB" in lines
    assert f"  sent: {len(sent)} bytes" in lines
    for secret in ("cookie-secret", "key-secret", SECRET):
        assert secret not in out.stdout and secret not in json.dumps(records)

    # delivered at once: no index entry (decision 60), so it is found with its job
    did = delivery_id(job, ok)
    err = api.call("POST", f"/v1/deliveries/{did}/resend", R, expect=404).json()["error"]
    assert err["field"] == "deliveryId" and "with its job" in err["message"], err
    again = api.call("POST", f"/v1/deliveries/{did}/resend", R, body={"jobId": job},
                     expect=200).json()
    assert again["status"] == "delivered" and again["attempt"] == 2, again
    out = resend(env, did, "--job", job)
    assert out.returncode == 0 and "attempt: 3" in out.stdout, out
    for wrong in (7, "", "a\u0001b", "j" * 257):  # each as the path's jobId is refused
        bad = api.call("POST", f"/v1/deliveries/{did}/resend", R, body={"jobId": wrong},
                       expect=400).json()["error"]
        assert bad["field"] == "jobId" and bad["message"].startswith("jobId: "), bad

    # hookd.deliveries carries the outcome alone: bodies stay in Redis
    outcomes = read_topic(env.stack, "hookd.deliveries", lambda r: r.get("jobId") == job, 2)
    assert len(outcomes) == 2
    assert all("request" not in o and "response" not in o for o in outcomes), outcomes


def test_history_bodies_off_keeps_sizes_and_answers_only(env, worker_factory, receiver):
    w = worker_factory(env.topic, env.group, env.prefix, {"HOOKD_HISTORY_BODIES": "off"})
    flow = f"off-{env.tag}"
    env.create_task({"flowId": flow, "url": receiver.url("/off"), "body": '{"job":"$jobId"}'})
    receiver.reply_body["/off"] = b"thanks"
    receiver.status["/off"] = 200
    job = f"off-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    receiver.wait_for("/off", 1)
    deadline = time.time() + 20
    while True:
        out = env.hookctl("deliveries", "--job", job, "--json")
        recs = json.loads(out.stdout)
        if recs or time.time() > deadline:
            break
        time.sleep(0.3)
    assert len(recs) == 1, recs
    assert recs[0]["request"] == {"bodyBytes": len('{"job":"%s"}' % job)}
    assert recs[0]["response"]["body"] == "thanks"
    w.stop()

    bad = subprocess.run([HOOKD], env=dict(os.environ, HOOKD_HISTORY_BODIES="maybe"),
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith("HOOKD_HISTORY_BODIES: must be on or off, got 'maybe'"), \
        bad.stderr


def test_resend_sends_the_delivery_again_as_its_next_attempt(api, env, receiver):
    flow = f"rs-{env.tag}"
    task = {"name": "rs", "url": receiver.url("/rs"), "secret": SECRET,
            "retry": {"enabled": False}, "body": '{"v":1,"job":"$jobId"}'}
    wid = api.call("POST", f"/v1/flows/{flow}/webhooks", W, body=task, expect=201).json()["id"]
    receiver.status["/rs"] = 500
    job = f"rs-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    first = history(api, job, 1)[0]
    did = first["deliveryId"]
    assert did == delivery_id(job, wid) and first["status"] == "failed"

    # the receiver is fixed and the task changed: the resend is rendered with the task as it is
    del receiver.status["/rs"]
    got = api.call("GET", f"/v1/webhooks/{wid}", ONE, expect=200).json()
    api.call("PUT", f"/v1/webhooks/{wid}", ONE, body=dict(got, body='{"v":2,"job":"$jobId"}'),
             expect=200)
    res = api.call("POST", f"/v1/deliveries/{did}/resend", R, expect=200).json()
    assert res["status"] == "delivered" and res["statusCode"] == 204, res
    assert res["deliveryId"] == did and res["attempt"] == 2 and res["webhookId"] == wid
    sent = receiver.wait_for("/rs", 2)[-1]
    assert json.loads(sent["body"]) == {"v": 2, "job": job}
    assert sent["headers"]["x-webhook-id"] == did
    assert sent["headers"]["x-webhook-attempt"] == "2"
    assert re.fullmatch(r"t=\d+,sha256=[0-9a-f]{64}", sent["headers"]["x-webhook-signature"])
    recs = history(api, job, 2)
    assert recs[0]["attempt"] == 2 and recs[0]["resent"] is True
    assert recs[0]["status"] == "delivered" and recs[0]["request"]["body"] == sent["body"].decode()
    assert "resent" not in recs[1]

    # hookctl: the same, as the attempt after
    out = resend(env, did)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("delivered: HTTP 204") and "attempt: 3" in out.stdout
    out = resend(env, did, "--json")
    assert json.loads(out.stdout)["attempt"] == 4
    assert receiver.wait_for("/rs", 4)[-1]["headers"]["x-webhook-attempt"] == "4"
    # ... a failed resend is recorded too, and exits 1
    receiver.status["/rs"] = 503
    out = resend(env, did)
    assert out.returncode == 1 and out.stdout.startswith("failed: HTTP 503"), out
    assert history(api, job, 5)[0]["statusCode"] == 503

    # refusals, each naming its field
    err = api.call("POST", "/v1/deliveries/msg_none/resend", R, expect=404).json()["error"]
    assert err["field"] == "deliveryId", err
    out = resend(env, "msg_none")
    assert out.returncode == 1
    assert out.stderr.startswith("hookctl: deliveryId: no failed delivery msg_none"), out.stderr
    out = resend(env)
    assert out.returncode == 2 and out.stderr.startswith("hookctl: <deliveryId>: required")
    got = api.call("GET", f"/v1/webhooks/{wid}", ONE, expect=200).json()
    api.call("PUT", f"/v1/webhooks/{wid}", ONE, body=dict(got, enabled=False), expect=200)
    err = api.call("POST", f"/v1/deliveries/{did}/resend", R, expect=409).json()["error"]
    assert err["field"] == "webhookId" and "disabled" in err["message"], err
    out = resend(env, did)
    assert out.returncode == 2 and out.stderr.startswith("hookctl: webhookId:"), out.stderr
    api.call("DELETE", f"/v1/webhooks/{wid}", ONE, expect=204)
    err = api.call("POST", f"/v1/deliveries/{did}/resend", R, expect=404).json()["error"]
    assert err["field"] == "webhookId", err
    assert len(receiver.matching("/rs")) == 5, "refused resends send nothing"
