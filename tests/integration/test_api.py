"""The admin API (docs/api.md) of a real hookd against the real Redis and Kafka.

Every response is checked against docs/openapi.yaml: its status must be documented for the
operation and its body must match the documented schema. The last test fails when an operation
of the document was never exercised, so the document and the server cannot drift apart.
"""
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import subprocess
import time
import uuid

import jsonschema
import pytest
import requests
import yaml
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conftest import HOOKD, ROOT, delivery_id

SPEC = yaml.safe_load(open(os.path.join(ROOT, "docs", "openapi.yaml")))
SPEC_URI = "urn:hookd-openapi"
REGISTRY = Registry().with_resource(
    SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012))
TOKEN = "it-token-" + uuid.uuid4().hex
SECRET = "api-secret-" + uuid.uuid4().hex[:12] + "wxyz"  # shown only as ****wxyz
EXERCISED = set()  # (path template, method) answered and checked, across this module


def pointer(*parts):
    return "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def check_schema(instance, ref):
    jsonschema.Draft202012Validator({"$ref": f"{SPEC_URI}#/{ref}"}, registry=REGISTRY) \
        .validate(instance)


class Api:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.port = port
        self.texts = []  # every response body, for the secrets check

    def call(self, method, path, template=None, body=None, raw=None, token=TOKEN, expect=None):
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        r = requests.request(method, self.base + path, data=data, headers=headers, timeout=60)
        self.texts.append(r.text + json.dumps(dict(r.headers)))
        if template:
            self.check(method, template, r)
        else:  # no such operation: an unknown path or method still answers the error form
            assert r.headers.get("Content-Type") == "application/json", r.headers
            check_schema(r.json(), "components/schemas/Error")
        if expect is not None:
            assert r.status_code == expect, (method, path, r.status_code, r.text)
        return r

    def check(self, method, template, r):
        op = SPEC["paths"][template][method.lower()]
        code = str(r.status_code)
        assert code in op["responses"], \
            f"{method} {template} answered {code}, which docs/openapi.yaml does not document"
        where = ["paths", template, method.lower(), "responses", code]
        resp = op["responses"][code]
        if "$ref" in resp:  # "#/components/responses/X"
            where = resp["$ref"][2:].split("/")
            resp = SPEC["components"]["responses"][where[-1]]
        if "content" in resp:
            assert r.headers.get("Content-Type") == "application/json", r.headers
            check_schema(r.json(), pointer(*where, "content", "application/json", "schema"))
        else:
            assert r.text == "", f"{method} {template} {code} has a body: {r.text!r}"
        for name in resp.get("headers", {}):
            assert name in r.headers, f"{method} {template} {code} lacks {name}"
        EXERCISED.add((template, method.lower()))


def port_of(worker):
    assert any('"event":"http"' in line and "admin API" in line for line in worker.lines()), \
        "hookd did not log the admin API"
    return worker.port()


@pytest.fixture
def api(env, worker_factory):
    worker = worker_factory(env.topic, env.group, env.prefix,
                            {"HOOKD_API_TOKEN": TOKEN, "HOOKD_LOG_LEVEL": "debug"})
    a = Api(port_of(worker))
    a.worker = worker
    yield a
    log = "\n".join(worker.lines())
    for text in (log, *a.texts):  # secrets never leave: not in a response, not in the log
        assert SECRET not in text and TOKEN not in text


def test_the_document_is_valid_openapi():
    validate_spec(SPEC)


def test_crud_with_the_secret_masked_and_kept(api, env, receiver):
    flow = f"api-{env.tag}"
    W, ONE = "/v1/flows/{flowId}/webhooks", "/v1/webhooks/{id}"
    listed = api.call("GET", f"/v1/flows/{flow}/webhooks", W, expect=200).json()
    assert listed == {"flowId": flow, "maxWebhooks": 50, "data": [], "iterator": None, "done": True}

    task = {"name": "Notify Slack", "url": receiver.url("/api/a"), "secret": SECRET,
            "body": '{"text":"Job $jobId: $jobStatus"}',
            "trigger": {"event": "success", "objects": "any"}}
    r = api.call("POST", f"/v1/flows/{flow}/webhooks", W, body=task, expect=201)
    created = r.json()
    wid = created["id"]
    assert r.headers["Location"] == f"/v1/webhooks/{wid}"
    assert created["flowId"] == flow and created["secret"] == "****wxyz"

    got = api.call("GET", f"/v1/webhooks/{wid}", ONE, expect=200).json()
    assert got == created
    # GET, edit, PUT back: the masked secret keeps the real one (the worker signs with it).
    got["name"] = "Renamed"
    put = api.call("PUT", f"/v1/webhooks/{wid}", ONE, body=got, expect=200).json()
    assert put["name"] == "Renamed" and put["secret"] == "****wxyz"
    full = json.loads(env.hookctl("webhooks", "export", "--flow", flow, "--with-secrets",
                                  "--json").stdout)
    assert full["webhooks"][0]["secret"] == SECRET
    # hookctl sees what the API wrote: one store, one validation path
    assert json.loads(env.hookctl("webhooks", "get", wid, "--json").stdout)["name"] == "Renamed"

    api.call("PUT", f"/v1/webhooks/{wid}", ONE, body=dict(got, id="wh_other"), expect=400)
    api.call("PUT", f"/v1/webhooks/wh_missing{env.tag}", ONE, body=task, expect=404)
    bad = api.call("POST", f"/v1/flows/{flow}/webhooks", W,
                   body=dict(task, url="ftp://example.com"), expect=400).json()
    assert bad == {"error": {"code": "invalid", "field": "url",
                             "message": "url: scheme must be http or https"}}
    # a taken id: 409, code conflict (a program can tell it from a limit)
    taken = api.call("POST", f"/v1/flows/{flow}/webhooks", W, body=dict(task, id=wid),
                     expect=409).json()["error"]
    assert taken["code"] == "conflict" and taken["field"] == "id", taken
    other = api.call("POST", f"/v1/flows/{flow}/webhooks", W, body=dict(task, flowId="elsewhere"),
                     expect=400).json()
    assert other["error"]["field"] == "flowId"
    masked = api.call("POST", f"/v1/flows/{flow}/webhooks", W,
                      body=dict(task, secret="****wxyz"), expect=400).json()
    assert masked["error"]["field"] == "secret"

    listed = api.call("GET", f"/v1/flows/{flow}/webhooks", W, expect=200).json()
    assert [t["id"] for t in listed["data"]] == [wid]
    r = api.call("DELETE", f"/v1/webhooks/{wid}", ONE, expect=204)
    api.call("GET", f"/v1/webhooks/{wid}", ONE, expect=404)
    api.call("DELETE", f"/v1/webhooks/{wid}", ONE, expect=404)


def test_bad_requests_are_refused_and_named(api, env):
    flow = f"bad-{env.tag}"
    W = "/v1/flows/{flowId}/webhooks"
    # no token, a wrong one, a wrong scheme: the same 401, whatever the path
    first = None
    for token, path in ((None, f"/v1/flows/{flow}/webhooks"), ("wrong", "/v1/webhooks/wh_x"),
                        (TOKEN + "x", f"/v1/flows/{flow}/webhooks"), ("", "/v1/nothing")):
        r = api.call("GET", path, W if path.startswith("/v1/flows") else None, token=token,
                     expect=401)
        assert r.json() == {"error": {"code": "unauthorized", "field": None,
                                      "message": "unauthorized"}}
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="hookd"'
        first = first or r.text
        assert r.text == first
    r = requests.get(api.base + f"/v1/flows/{flow}/webhooks",
                     headers={"Authorization": f"Basic {TOKEN}"}, timeout=10)
    assert r.status_code == 401

    broken = api.call("POST", f"/v1/flows/{flow}/webhooks", W, raw='{"url": "http://x",',
                      expect=400).json()
    assert broken["error"]["field"] == "body"
    assert broken["error"]["message"].startswith("body: not valid JSON")
    api.call("POST", f"/v1/flows/{flow}/webhooks", W, raw="", expect=400)
    api.call("POST", f"/v1/flows/{flow}/webhooks", W, raw="[1, 2]", expect=400)
    trailing = api.call("POST", f"/v1/flows/{flow}/webhooks", W,
                        raw='{"url": "https://x.example/h"} {"url": "https://y.example/h"}',
                        expect=400).json()
    assert trailing["error"]["message"] == "body: not valid JSON (at byte 31)", trailing

    invalid = api.call("GET", "/v1/webhooks/not-an-id", "/v1/webhooks/{id}", expect=400).json()
    assert invalid["error"]["field"] == "id"
    assert api.call("GET", "/v1/flows/a:b/webhooks", W, expect=400).json()["error"]["field"] \
        == "flowId"
    assert api.call("GET", "/v1/jobs/%01/deliveries", "/v1/jobs/{jobId}/deliveries",
                    expect=400).json()["error"]["field"] == "jobId"
    api.call("GET", "/v1/nothing/here", expect=404)
    r = api.call("PATCH", "/v1/webhooks/wh_x", expect=405)
    assert r.headers["Allow"] == "GET, PUT, DELETE"

    # over 1 MiB: refused from Content-Length before the body is read, and when chunked
    big = '{"name": "' + "x" * (1024 * 1024) + '"}'
    r = api.call("POST", f"/v1/flows/{flow}/webhooks", W, raw=big, expect=413)
    assert r.json()["error"]["field"] == "body"
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    conn.putrequest("POST", f"/v1/flows/{flow}/webhooks")
    conn.putheader("Authorization", f"Bearer {TOKEN}")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    chunk = b"x" * 65536
    for _ in range(20):
        conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    conn.send(b"0\r\n\r\n")
    resp = conn.getresponse()
    assert resp.status == 413 and json.loads(resp.read())["error"]["field"] == "body"
    conn.close()

    # the 51st task of a flow: 409, and nothing written
    for i in range(50):
        api.call("POST", f"/v1/flows/{flow}/webhooks", W,
                 body={"url": f"https://example.com/{i}"}, expect=201)
    over = api.call("POST", f"/v1/flows/{flow}/webhooks", W,
                    body={"url": "https://example.com/51"}, expect=409).json()
    assert over["error"]["field"] == "flowId" and "HOOKD_MAX_WEBHOOKS_PER_FLOW" in \
        over["error"]["message"]
    assert over["error"]["code"] == "limit_exceeded"
    assert len(api.call("GET", f"/v1/flows/{flow}/webhooks", W).json()["data"]) == 50
    assert api.worker.metric('hookd_api_requests_total{code="401"}') >= 5
    assert sum(api.worker.metric(f'hookd_api_requests_total{{code="{code}"}}')
               for code in ("400", "403", "404", "405", "409", "413", "415", "422", "429",
                            "4xx")) >= 11


def test_export_import_test_and_deliveries(api, env, receiver, tmp_path):
    src, dst = f"src-{env.tag}", f"dst-{env.tag}"
    W = "/v1/flows/{flowId}/webhooks"
    ok = api.call("POST", f"/v1/flows/{src}/webhooks", W, expect=201, body={
        "name": "ok", "url": receiver.url("/api/ok"), "secret": SECRET,
        "body": '{"job":"$jobId","status":"$jobStatus"}'}).json()["id"]
    down = api.call("POST", f"/v1/flows/{src}/webhooks", W, expect=201, body={
        "name": "down", "url": receiver.url("/api/down"), "retry": {"enabled": False}}).json()["id"]
    receiver.status["/api/down"] = 500

    doc = api.call("GET", f"/v1/flows/{src}/webhooks/export", W + "/export", expect=200).json()
    assert doc["secretsIncluded"] is False and len(doc["webhooks"]) == 2
    imp = W + "/import"
    # masked secrets cannot seed a new flow: every bad entry named, nothing written
    refused = api.call("POST", f"/v1/flows/{dst}/webhooks/import", imp, body=doc,
                       expect=400).json()["error"]
    assert refused["message"] == "webhooks: 1 bad entry, nothing imported"
    secret_at = [i for i, w in enumerate(doc["webhooks"]) if "secret" in w]
    assert [d["field"] for d in refused["details"]] == [f"webhooks[{secret_at[0]}].secret"]
    assert api.call("GET", f"/v1/flows/{dst}/webhooks", W).json()["data"] == []
    # ... but re-import into its own flow updates in place and keeps the secret
    same = api.call("POST", f"/v1/flows/{src}/webhooks/import", imp, body=doc, expect=200).json()
    assert same == {"flowId": src, "created": 0, "updated": 2}
    bare = [{"name": "n1", "url": receiver.url("/n1")}, {"name": "n2", "url": "ftp://x"},
            {"name": "n3", "url": receiver.url("/n3"), "method": "FETCH"}]
    bad = api.call("POST", f"/v1/flows/{dst}/webhooks/import", imp, body=bare,
                   expect=400).json()["error"]
    assert [d["field"] for d in bad["details"]] == ["webhooks[1].url", "webhooks[2].method"]
    fresh = api.call("POST", f"/v1/flows/{dst}/webhooks/import", imp, body=bare[:1],
                     expect=200).json()
    assert fresh == {"flowId": dst, "created": 1, "updated": 0}

    # the Test button: one real signed delivery, whatever its outcome
    T = "/v1/webhooks/{id}/test"
    res = api.call("POST", f"/v1/webhooks/{ok}/test", T, body={"jobId": "42"}, expect=200).json()
    assert res["status"] == "delivered" and res["statusCode"] == 204
    got = receiver.wait_for("/api/ok", 1)
    assert json.loads(got[0]["body"]) == {"job": "42", "status": "Complete"}
    assert got[0]["headers"]["x-webhook-id"] == res["deliveryId"]
    assert re.fullmatch(r"t=\d+,sha256=[0-9a-f]{64}", got[0]["headers"]["x-webhook-signature"])
    failed = api.call("POST", f"/v1/webhooks/{down}/test", T, expect=200).json()
    assert failed["status"] == "failed" and failed["statusCode"] == 500
    assert failed["error"] == "HTTP 500"
    api.call("POST", f"/v1/webhooks/wh_none{env.tag}/test", T, expect=404)
    api.call("POST", f"/v1/webhooks/{ok}/test", T, body={"jobId": 7}, expect=400)
    # ... and on the form before Create: a draft, delivered, nothing stored
    DT = "/v1/flows/{flowId}/webhooks/test"
    before = api.call("GET", f"/v1/flows/{src}/webhooks", W).json()["data"]
    draft = {"name": "draft", "url": receiver.url("/api/draft"), "secret": "draftSecret123",
             "body": '{"d":"$jobId"}'}
    res = api.call("POST", f"/v1/flows/{src}/webhooks/test", DT, body=draft, expect=200).json()
    assert res["status"] == "delivered", res
    got = receiver.wait_for("/api/draft", 1)
    assert json.loads(got[0]["body"]) == {"d": "test"}
    assert got[0]["headers"]["x-webhook-id"] == res["deliveryId"]
    assert api.call("GET", f"/v1/flows/{src}/webhooks", W).json()["data"] == before
    bad_draft = api.call("POST", f"/v1/flows/{src}/webhooks/test", DT,
                         body={"url": "ftp://x.example"}, expect=400).json()["error"]
    assert bad_draft["field"] == "url", bad_draft
    api.call("POST", f"/v1/flows/{src}/webhooks/test", DT,
             body={"url": receiver.url("/x"), "flowId": "other"}, expect=400)

    # a real event through the worker, then its history
    job = f"job-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": src})
    receiver.wait_for("/api/down", 2, timeout=30)
    D = "/v1/jobs/{jobId}/deliveries"
    deadline = time.time() + 20
    while True:
        hist = api.call("GET", f"/v1/jobs/{job}/deliveries", D, expect=200).json()
        if len(hist["data"]) == 2 or time.time() > deadline:
            break
        time.sleep(0.3)
    assert hist["jobId"] == job
    assert sorted((d["webhookId"], d["status"], d["statusCode"]) for d in hist["data"]) == \
        sorted([(ok, "delivered", 204), (down, "failed", 500)])
    assert {d["deliveryId"] for d in hist["data"]} == \
        {delivery_id(job, ok), delivery_id(job, down)}
    assert api.call("GET", "/v1/jobs/never/deliveries", D, expect=200).json()["data"] == []
    # ... and one of them sent again (test_history.py has the rest of it)
    RS = "/v1/deliveries/{deliveryId}/resend"
    again = api.call("POST", f"/v1/deliveries/{delivery_id(job, down)}/resend", RS,
                     expect=200).json()
    assert again["status"] == "failed" and again["attempt"] == 2, again
    assert api.call("POST", "/v1/deliveries/msg_none/resend", RS,
                    expect=404).json()["error"]["field"] == "deliveryId"


def test_the_api_is_off_without_a_token_and_refuses_a_short_one(env, worker_factory, stack):
    worker = worker_factory(env.topic, env.group, env.prefix)
    r = requests.get(f"http://127.0.0.1:{worker.port()}/v1/flows/7/webhooks",
                     headers={"Authorization": "Bearer anything-at-all-really"}, timeout=10)
    assert r.status_code == 404 and "HOOKD_API_TOKEN" in r.json()["error"]["message"]
    short = subprocess.run([HOOKD], capture_output=True, text=True, timeout=30, env={
        **os.environ, "HOOKD_API_TOKEN": "short-s3cret", "HOOKD_LISTEN": "127.0.0.1:0",
        "HOOKD_PROBE_LISTEN": "127.0.0.1:0",
        "HOOKD_KAFKA_BOOTSTRAP_SERVERS": stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
        "HOOKD_REDIS_URL": stack["HOOKD_REDIS_URL"]})
    assert short.returncode == 2
    assert "HOOKD_API_TOKEN: must be at least 16 characters" in short.stderr
    assert "short-s3cret" not in short.stdout + short.stderr


# ------------------------------------------------------- /v1/inbound (helper G) --
# Before test_every_documented_operation_was_exercised, which must stay the module's last test.

def test_inbound_crud_with_secrets_masked_and_the_state(api, env):
    C, ONE = "/v1/inbound", "/v1/inbound/{id}"
    assert api.call("GET", "/v1/inbound", C, expect=200).json() == \
        {"data": [], "iterator": None, "done": True}
    doc = {"name": f"gh-{env.tag}", "flowId": 7, "source": "GitHub", "secret": SECRET}
    r = api.call("POST", "/v1/inbound", C, body=doc, expect=201)
    created = r.json()
    eid = created["id"]
    assert r.headers["Location"] == f"/v1/inbound/{eid}"
    assert created["secret"] == "****wxyz" and created["source"] == "github"
    assert created["flowId"] == "7" and created["verified"] is False
    assert created["stateChangedAt"].endswith("Z")
    assert api.call("GET", f"/v1/inbound/{eid}", ONE, expect=200).json() == created
    listed = api.call("GET", "/v1/inbound", C, expect=200).json()["data"]
    assert [e["id"] for e in listed] == [eid]
    # hookctl reads what the API wrote: one store, one validation path
    assert json.loads(env.hookctl("inbound", "get", eid, "--json").stdout) == created

    # refusals: 400 naming the field, 409 for a taken name or id; nothing written
    for bad, field in ((dict(doc, name="x", source="gitlab"), "source"),
                       (dict(doc, name="x", secret="****wxyz"), "secret"),
                       (dict(doc, name="x", verified=True), "verified"),
                       (dict(doc, name="x", extra=1), "extra")):
        got = api.call("POST", "/v1/inbound", C, body=bad, expect=400).json()
        assert got["error"]["field"] == field, got
    taken = api.call("POST", "/v1/inbound", C, body=doc, expect=409).json()
    assert taken["error"]["field"] == "name" and taken["error"]["code"] == "conflict"
    mine = f"in_chosen{env.tag}"
    api.call("POST", "/v1/inbound", C, body=dict(doc, id=mine, name="chosen"), expect=201)
    again = api.call("POST", "/v1/inbound", C, body=dict(doc, id=mine, name="other"),
                     expect=409).json()
    assert again["error"]["field"] == "id"
    assert len(api.call("GET", "/v1/inbound", C).json()["data"]) == 2

    # PUT: the whole endpoint, the masked secret kept; PATCH: a merge patch
    edited = dict(created, name=f"renamed-{env.tag}", publicUrl="https://hooks.example.com/in")
    put = api.call("PUT", f"/v1/inbound/{eid}", ONE, body=edited, expect=200).json()
    assert put["name"] == f"renamed-{env.tag}" and put["secret"] == "****wxyz"
    assert put["publicUrl"] == "https://hooks.example.com/in"
    stored = subprocess.run(["redis-cli", "-u", env.stack["HOOKD_REDIS_URL"], "GET",
                             f"{env.prefix}inbound:{eid}"], capture_output=True, text=True)
    assert json.loads(stored.stdout)["secret"] == SECRET
    patched = api.call("PATCH", f"/v1/inbound/{eid}", ONE,
                       body={"enabled": False, "publicUrl": None}, expect=200).json()
    assert patched["enabled"] is False and "publicUrl" not in patched
    assert patched["name"] == f"renamed-{env.tag}" and patched["secret"] == "****wxyz"
    replaced = api.call("PUT", f"/v1/inbound/{eid}", ONE,
                        body={"name": "bare", "source": "github", "secret": "****wxyz"},
                        expect=200).json()
    assert replaced["enabled"] is True and replaced["flowId"] == "7"  # defaults; flowId stays
    assert api.call("PATCH", f"/v1/inbound/{eid}", ONE, body={"name": "chosen"},
                    expect=409).json()["error"]["field"] == "name"
    assert api.call("PATCH", f"/v1/inbound/{eid}", ONE, body={"source": "nope"},
                    expect=400).json()["error"]["field"] == "source"
    assert api.call("PUT", f"/v1/inbound/{eid}", ONE, body=dict(doc, id=mine),
                    expect=400).json()["error"]["field"] == "id"
    api.call("PATCH", f"/v1/inbound/{eid}", ONE, raw='{"enabled": false', expect=400)
    api.call("PUT", f"/v1/inbound/in_missing{env.tag}", ONE, body=doc, expect=404)
    api.call("PATCH", f"/v1/inbound/in_missing{env.tag}", ONE, body={}, expect=404)
    assert api.call("GET", "/v1/inbound/wh_notinbound", ONE, expect=400).json()["error"][
        "field"] == "id"
    r = api.call("POST", f"/v1/inbound/{eid}", expect=405)
    assert r.headers["Allow"] == "GET, PUT, PATCH, DELETE"

    # the state is hookd-ingress's (the store's state hash), shown as it is
    subprocess.run(["redis-cli", "-u", env.stack["HOOKD_REDIS_URL"], "HSET",
                    f"{env.prefix}inbound:state", eid, "1:1764547200000"], check=True,
                   capture_output=True)
    got = api.call("GET", f"/v1/inbound/{eid}", ONE, expect=200).json()
    assert got["verified"] is True and got["stateChangedAt"] == "2025-12-01T00:00:00.000Z"
    assert api.call("PUT", f"/v1/inbound/{eid}", ONE, body=got, expect=200).json()["verified"]

    for token in (None, "wrong-token-wrong-token"):
        api.call("GET", "/v1/inbound", C, token=token, expect=401)
        api.call("DELETE", f"/v1/inbound/{eid}", ONE, token=token, expect=401)
    api.call("DELETE", f"/v1/inbound/{eid}", ONE, expect=204)
    api.call("GET", f"/v1/inbound/{eid}", ONE, expect=404)
    api.call("DELETE", f"/v1/inbound/{eid}", ONE, expect=404)
    assert env.hookctl("inbound", "get", eid).returncode == 1


def test_inbound_waits_each_operation(api, env):
    """The waits' routes, once each (test_waits_admin.py covers them in depth), so that the
    next test sees every documented operation exercised."""
    C, ONE = "/v1/inbound/{id}/waits", "/v1/inbound/{id}/waits/{ref}"
    eid = api.call("POST", "/v1/inbound", "/v1/inbound", expect=201,
                   body={"name": f"waits-{env.tag}", "flowId": "7", "source": "github",
                         "secret": SECRET}).json()["id"]
    base = f"/v1/inbound/{eid}/waits"
    r = api.call("POST", base, C, body={"ref": "run-1/w", "matches": {"$.a": 1}}, expect=201)
    assert r.headers["Location"] == f"{base}/run-1%2Fw"
    assert [w["ref"] for w in api.call("GET", base, C, expect=200).json()["data"]] == ["run-1/w"]
    assert api.call("GET", f"{base}/run-1%2Fw", ONE, expect=200).json()["matches"] == {"$.a": 1}
    api.call("DELETE", f"{base}/run-1/w", ONE, expect=204)
    api.call("GET", f"{base}/run-1/w", ONE, expect=404)
    # its recent requests (test_ingress.py fills them through hookd-ingress): as kept in Redis,
    # newest first, in pages; an unknown endpoint is a 404
    R = "/v1/inbound/{id}/requests"
    key = f"{env.prefix}inbound:recent:{eid}"
    for i in range(3):
        subprocess.run(["redis-cli", "-u", env.stack["HOOKD_REDIS_URL"], "LPUSH", key, json.dumps(
            {"id": f"rq_{i}", "at": "2026-12-03T10:00:00.000Z", "method": "POST", "status": 404,
             "outcome": "rejected", "reason": "bad_signature", "detail": "X-Hub-Signature-256",
             "bytes": 7, "latencyMs": 1})], check=True, capture_output=True)
    page = api.call("GET", f"/v1/inbound/{eid}/requests?limit=2", R, expect=200).json()
    assert [q["id"] for q in page["data"]] == ["rq_2", "rq_1"] and page["done"] is False
    rest = api.call("GET", f"/v1/inbound/{eid}/requests?iterator={page['iterator']}", R,
                    expect=200).json()
    assert [q["id"] for q in rest["data"]] == ["rq_0"] and rest["done"] is True
    api.call("GET", "/v1/inbound/in_nope/requests", R, expect=404)


def test_a_secret_rotated_in_one_call_signs_beside_the_old_one(api, env, receiver):
    """POST /v1/webhooks/{id}/rotate-secret: the new secret first, the old one beside it until
    previousSecretsUntil; keep "0" drops it; the answer never carries a secret."""
    W, R = "/v1/flows/{flowId}/webhooks", "/v1/webhooks/{id}/rotate-secret"
    flow = f"rot-{env.tag}"
    old, new = "rotate-old-secret-1111", "rotate-new-secret-2222"
    tid = api.call("POST", f"/v1/flows/{flow}/webhooks", W, expect=201, body={
        "url": receiver.url("/rot"), "secret": old, "body": "$jobId"}).json()["id"]
    t0 = time.time()
    rotated = api.call("POST", f"/v1/webhooks/{tid}/rotate-secret", R, expect=200,
                       body={"secret": new, "keep": "1h"}).json()
    assert rotated["secrets"] == ["****2222", "****1111"], rotated
    until = datetime.datetime.fromisoformat(rotated["previousSecretsUntil"].replace("Z", "+00:00"))
    assert abs(until.timestamp() - (t0 + 3600)) < 60, rotated["previousSecretsUntil"]
    assert old not in json.dumps(rotated) and new not in json.dumps(rotated)
    res = api.call("POST", f"/v1/webhooks/{tid}/test", "/v1/webhooks/{id}/test",
                   expect=200).json()
    assert res["status"] == "delivered"
    [req] = receiver.wait_for("/rot", 1)
    fields = req["headers"]["x-webhook-signature"].split(",")
    t = fields[0][2:]
    assert fields[1:] == [
        "sha256=" + hmac.new(k.encode(), f"{t}.".encode() + req["body"], hashlib.sha256).hexdigest()
        for k in (new, old)], fields
    # drawn at random, the old one dropped at once: one secret, never shown
    again = api.call("POST", f"/v1/webhooks/{tid}/rotate-secret", R, expect=200,
                     body={"keep": "0"}).json()
    assert again["secret"].startswith("****"), again
    assert "secrets" not in again and "previousSecretsUntil" not in again, again
    for keep in ("soon", "31d", "99999999999d"):
        bad = api.call("POST", f"/v1/webhooks/{tid}/rotate-secret", R, body={"keep": keep},
                       expect=400).json()["error"]
        assert bad["field"] == "keep", bad
    api.call("POST", f"/v1/webhooks/wh_none{env.tag}/rotate-secret", R, expect=404)


def test_a_rate_limit_is_shown_and_refused_naming_it_as_hookctl_does(api, env, receiver,
                                                                    tmp_path):
    flow = f"rl-{env.tag}"
    W, ONE = "/v1/flows/{flowId}/webhooks", "/v1/webhooks/{id}"
    task = {"url": receiver.url("/rl"), "rateLimit": 20}
    created = api.call("POST", f"/v1/flows/{flow}/webhooks", W, body=task, expect=201).json()
    assert created["rateLimit"] == 20
    wid = created["id"]
    assert api.call("GET", f"/v1/webhooks/{wid}", ONE, expect=200).json()["rateLimit"] == 20
    listed = api.call("GET", f"/v1/flows/{flow}/webhooks", W, expect=200).json()
    assert listed["data"][0]["rateLimit"] == 20
    shown = json.loads(env.hookctl("webhooks", "get", wid, "--json").stdout)
    assert shown["rateLimit"] == 20
    for bad in (0, -5, 2.5, 100001, "20", True):
        r = api.call("PUT", f"/v1/webhooks/{wid}", ONE, body=dict(task, rateLimit=bad),
                     expect=400).json()
        assert r["error"]["field"] == "rateLimit", r
        assert r["error"]["message"] == "rateLimit: must be an integer from 1 to 100000", r
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(dict(task, flowId=flow, rateLimit=bad)))
        out = env.hookctl("webhooks", "create", "--file", str(path))
        assert out.returncode == 2 and out.stderr.strip().endswith(r["error"]["message"]), \
            out.stderr
    # Written without it: no limit, and the field is gone.
    put = api.call("PUT", f"/v1/webhooks/{wid}", ONE, body={"url": task["url"]},
                   expect=200).json()
    assert "rateLimit" not in put


def test_a_space_has_the_routes_of_a_flow(api, env, receiver):
    """/v1/spaces/{spaceId}/webhooks mirrors /v1/flows/{flowId}/webhooks: list, create (the
    path's spaceId filled in, a flowId refused), the draft test, export, import, the limit."""
    space, flow = f"sp-{env.tag}", f"spf-{env.tag}"
    S = "/v1/spaces/{spaceId}/webhooks"
    assert api.call("GET", f"/v1/spaces/{space}/webhooks", S, expect=200).json() == \
        {"spaceId": space, "maxWebhooks": 50, "data": [], "iterator": None,
         "done": True}
    task = {"name": "space hook", "url": receiver.url("/api/space"), "secret": SECRET}
    created = api.call("POST", f"/v1/spaces/{space}/webhooks", S, body=task, expect=201).json()
    assert created["spaceId"] == space and "flowId" not in created
    assert created["secret"] == "****wxyz"
    both = api.call("POST", f"/v1/spaces/{space}/webhooks", S, body=dict(task, flowId=flow),
                    expect=400).json()["error"]
    assert both["field"] == "flowId", both
    other = api.call("POST", f"/v1/spaces/{space}/webhooks", S, body=dict(task, spaceId="x"),
                     expect=400).json()["error"]
    assert other == {"code": "invalid", "field": "spaceId",
                     "message": "spaceId: does not match the space in the path"}
    bad = api.call("POST", f"/v1/flows/{flow}/webhooks", "/v1/flows/{flowId}/webhooks",
                   body=dict(task, spaceId=space), expect=400).json()["error"]
    assert bad["field"] == "spaceId", bad
    path = api.call("GET", "/v1/spaces/a:b/webhooks", S, expect=400).json()["error"]
    assert path["field"] == "spaceId", path
    # PUT without spaceId or flowId keeps the task in its space
    ONE = "/v1/webhooks/{id}"
    put = api.call("PUT", f"/v1/webhooks/{created['id']}", ONE,
                   body={"url": receiver.url("/api/space"), "name": "renamed",
                         "secret": created["secret"]}, expect=200).json()
    assert put["spaceId"] == space and put["name"] == "renamed"

    res = api.call("POST", f"/v1/spaces/{space}/webhooks/test", S + "/test",
                   body={"url": receiver.url("/api/space-draft")}, expect=200).json()
    assert res["status"] == "delivered", res
    got = json.loads(receiver.wait_for("/api/space-draft", 1)[0]["body"])
    assert (got["spaceId"], got["flowId"]) == (space, "test"), got

    doc = api.call("GET", f"/v1/spaces/{space}/webhooks/export", S + "/export", expect=200).json()
    assert doc["spaceId"] == space and [w["id"] for w in doc["webhooks"]] == [created["id"]]
    again = api.call("POST", f"/v1/spaces/{space}/webhooks/import", S + "/import", body=doc,
                     expect=200).json()
    assert again == {"spaceId": space, "created": 0, "updated": 1}
    bare = [{"name": f"n{i}", "url": receiver.url(f"/n{i}")} for i in range(48)]
    fill = api.call("POST", f"/v1/spaces/{space}/webhooks/import", S + "/import", body=bare,
                    expect=200).json()
    assert fill == {"spaceId": space, "created": 48, "updated": 0}
    api.call("POST", f"/v1/spaces/{space}/webhooks", S, body=dict(task, name="50th"),
             expect=201)
    over = api.call("POST", f"/v1/spaces/{space}/webhooks", S, body=dict(task, name="51st"),
                    expect=409).json()["error"]
    assert over == {"code": "limit_exceeded", "field": "spaceId",
                    "message": f"spaceId: space {space} already has 50 "
                    "webhook tasks (HOOKD_MAX_WEBHOOKS_PER_FLOW)"}
    more = api.call("POST", f"/v1/spaces/{space}/webhooks/import", S + "/import",
                    body=[{"name": "more", "url": receiver.url("/m")}], expect=409).json()
    assert more["error"]["field"] == "spaceId", more
    assert len(api.call("GET", f"/v1/spaces/{space}/webhooks", S).json()["data"]) == 50


# ------------------------------------------------------- token rotation (issue 17, 12b) --

def test_several_tokens_are_accepted_for_a_rotation_and_a_removed_one_is_not(env, worker_factory,
                                                                          stack):
    new, old, gone = ("rot-new-" + uuid.uuid4().hex, "rot-old-" + uuid.uuid4().hex,
                      "rot-gone-" + uuid.uuid4().hex)
    W = "/v1/flows/{flowId}/webhooks"
    path = f"/v1/flows/rot-{env.tag}/webhooks"
    # the rotation's middle step: the new token first, the old one still accepted
    worker = worker_factory(env.topic, env.group, env.prefix,
                            {"HOOKD_API_TOKEN": f"{new}, {old}"})
    api = Api(port_of(worker))
    api.call("GET", path, W, token=new, expect=200)
    before = worker.metric("hookd_api_previous_token_requests_total")
    api.call("GET", path, W, token=old, expect=200)
    api.call("POST", path, W, token=old, body={"url": "https://example.com/r"}, expect=201)
    api.call("GET", path, W, token=gone, expect=401)
    api.call("GET", path, W, token=f"{new}, {old}", expect=401)  # the list is no token
    api.call("GET", path, W, token=new, expect=200)
    # the old token's use is counted (the operator waits for it to stop), the new one's is not
    assert worker.metric("hookd_api_previous_token_requests_total") == before + 2
    worker.stop()
    # the last step: the old token removed
    worker = worker_factory(env.topic, env.group, env.prefix, {"HOOKD_API_TOKEN": new})
    api = Api(port_of(worker))
    assert len(api.call("GET", path, W, token=new, expect=200).json()["data"]) == 1
    assert api.call("GET", path, W, token=old, expect=401).json()["error"]["code"] == \
        "unauthorized"
    for text in ["\n".join(worker.lines()), *api.texts]:
        assert new not in text and old not in text

    base = {**os.environ, "HOOKD_LISTEN": "127.0.0.1:0", "HOOKD_PROBE_LISTEN": "127.0.0.1:0",
            "HOOKD_KAFKA_BOOTSTRAP_SERVERS": stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
            "HOOKD_REDIS_URL": stack["HOOKD_REDIS_URL"]}
    for tokens, says in ((f"{new},,{old}", "HOOKD_API_TOKEN: token 2 of 3 is empty"),
                         (f"{new},short-s3cret", "HOOKD_API_TOKEN: token 2 of 2 must be at least "
                                                 "16 characters"),
                         (f"{new}," * 8 + new, "HOOKD_API_TOKEN: at most 8 comma-separated tokens")):
        bad = subprocess.run([HOOKD], capture_output=True, text=True, timeout=30,
                             env={**base, "HOOKD_API_TOKEN": tokens})
        assert bad.returncode == 2 and says in bad.stderr, (tokens, bad.stderr)
        assert new not in bad.stdout + bad.stderr and "short-s3cret" not in bad.stderr


# ------------------------------------------------- the API's own listener (issue 17, 12c) --

def api_port(worker):
    for line in worker.lines():
        m = re.search(r'"event":"http.api".*\(port (\d+)\)', line)
        if m:
            return int(m.group(1))
    raise AssertionError("hookd logged no admin API listener")


def test_the_api_on_a_listener_of_its_own_and_on_the_main_one_by_default(api, env, worker_factory,
                                                                         stack):
    path, W = f"/v1/flows/own-{env.tag}/webhooks", "/v1/flows/{flowId}/webhooks"
    # by default: /v1 beside /healthz, /readyz and /metrics on HOOKD_LISTEN
    api.call("GET", path, W, expect=200)
    base = f"http://127.0.0.1:{api.port}"
    assert requests.get(base + "/metrics", timeout=10).status_code == 200
    assert requests.get(base + "/healthz", timeout=10).status_code == 200

    worker = worker_factory(env.topic, env.group + "-own", env.prefix,
                            {"HOOKD_API_TOKEN": TOKEN, "HOOKD_API_LISTEN": "127.0.0.1:0"})
    main, own = f"http://127.0.0.1:{worker.port()}", Api(api_port(worker))
    assert worker.port() != own.port
    auth = {"Authorization": f"Bearer {TOKEN}"}
    # HOOKD_LISTEN keeps the probes and the metrics, and no longer serves /v1
    assert requests.get(main + "/metrics", timeout=10).status_code == 200
    assert requests.get(main + "/healthz", timeout=10).status_code == 200
    r = requests.get(main + path, headers=auth, timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert "HOOKD_API_LISTEN" in r.json()["error"]["message"]
    assert requests.post(main + path, headers=auth, timeout=10,
                         json={"url": "https://example.com/x"}).status_code == 404
    # HOOKD_API_LISTEN serves /v1 alone, with its token
    own.call("GET", path, W, expect=200)
    own.call("POST", path, W, body={"url": "https://example.com/own"}, expect=201)
    own.call("GET", path, W, token="wrong-token-0123456789", expect=401)
    for other in ("/metrics", "/healthz", "/readyz"):
        assert requests.get(f"http://127.0.0.1:{own.port}{other}", timeout=10).status_code == 404
    # the console goes with the API: on its own listener, not on HOOKD_LISTEN
    assert requests.get(f"http://127.0.0.1:{own.port}/console/", timeout=10).status_code == 200
    assert requests.get(main + "/console/", timeout=10).status_code == 404
    assert any('"event":"http"' in line and "admin API" not in line for line in worker.lines())

    # set without a token: a one-line error naming it, exit 2
    off = subprocess.run([HOOKD], capture_output=True, text=True, timeout=30, env={
        **os.environ, "HOOKD_API_LISTEN": "127.0.0.1:0", "HOOKD_LISTEN": "127.0.0.1:0",
        "HOOKD_PROBE_LISTEN": "127.0.0.1:0", "HOOKD_API_TOKEN": "",
        "HOOKD_KAFKA_BOOTSTRAP_SERVERS": stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
        "HOOKD_REDIS_URL": stack["HOOKD_REDIS_URL"]})
    assert off.returncode == 2, off.stderr
    assert "HOOKD_API_LISTEN: is set, but the admin API is off" in off.stderr


# ------------------------------------------------------------ pagination (issue 17, 12a) --

def pages(api, path, template, limit, between=None):
    """Every page of a list, following its iterator; between(n) runs after page n."""
    got, iterator, n = [], None, 0
    while True:
        query = f"?limit={limit}" + (f"&iterator={iterator}" if iterator else "")
        page = api.call("GET", path + query, template, expect=200).json()
        assert len(page["data"]) <= limit
        got.append(page)
        if page["done"]:
            assert page["iterator"] is None
            return got
        assert page["iterator"] and page["data"], page
        iterator = page["iterator"]
        n += 1
        if between:
            between(n)


def test_lists_come_in_pages_that_hold_under_concurrent_writes(api, env, stack):
    flow = f"pg-{env.tag}"
    W, ONE = "/v1/flows/{flowId}/webhooks", "/v1/webhooks/{id}"
    ids = sorted(api.call("POST", f"/v1/flows/{flow}/webhooks", W, expect=201,
                          body={"id": f"wh_m{i}{env.tag}", "url": f"https://example.com/{i}"})
                 .json()["id"] for i in range(7))
    whole = pages(api, f"/v1/flows/{flow}/webhooks", W, 3)
    assert [len(p["data"]) for p in whole] == [3, 3, 1]
    assert [t["id"] for p in whole for t in p["data"]] == ids
    one = api.call("GET", f"/v1/flows/{flow}/webhooks?limit=250", W, expect=200).json()
    assert one["done"] is True and [t["id"] for t in one["data"]] == ids

    # between pages: the page's last task deleted, one created before it and one after it.
    # Every task that exists throughout comes exactly once; the later new one comes too.
    def writes(n):
        if n == 1:
            api.call("DELETE", f"/v1/webhooks/{ids[2]}", ONE, expect=204)
            for new in (f"wh_a{env.tag}", f"wh_z{env.tag}"):
                api.call("POST", f"/v1/flows/{flow}/webhooks", W, expect=201,
                         body={"id": new, "url": "https://example.com/new"})
    seen = [t["id"] for p in pages(api, f"/v1/flows/{flow}/webhooks", W, 3, writes)
            for t in p["data"]]
    assert seen == ids[:3] + ids[3:] + [f"wh_z{env.tag}"], seen

    # a bad limit or iterator: 400 naming the parameter, code invalid
    for query, field in (("limit=0", "limit"), ("limit=251", "limit"), ("limit=ten", "limit"),
                         ("limit=", "limit"), ("limit=-1", "limit"), ("iterator=zz", "iterator"),
                         ("iterator=t0", "iterator"), ("iterator=t00", "iterator"),
                         ("iterator=e" + "61" * 4, "iterator")):  # an endpoint list's
        err = api.call("GET", f"/v1/flows/{flow}/webhooks?{query}", W, expect=400).json()["error"]
        assert err["code"] == "invalid" and err["field"] == field, (query, err)
        assert err["message"].startswith(field + ": "), err
    api.call("GET", "/v1/inbound?limit=0", "/v1/inbound", expect=400)

    # a job's history, newest first: attempts recorded between pages go to its head, before
    # the iterator, and the pages go on where they were
    job, key = f"pgjob-{env.tag}", f"{env.prefix}job:pgjob-{env.tag}:deliveries"

    def attempt(i):
        return json.dumps({"deliveryId": f"msg_{i:02d}", "webhookId": "wh_x", "flowId": flow,
                           "jobId": job, "eventId": job, "attempt": 1, "status": "delivered",
                           "statusCode": 204, "latencyMs": 1,
                           "at": f"2026-12-01T10:00:{i:02d}.000Z"})
    for i in range(5):
        subprocess.run(["redis-cli", "-u", stack["HOOKD_REDIS_URL"], "LPUSH", key, attempt(i)],
                       check=True, capture_output=True)
    D = "/v1/jobs/{jobId}/deliveries"
    newer = lambda n: subprocess.run(["redis-cli", "-u", stack["HOOKD_REDIS_URL"], "LPUSH", key,
                                      attempt(10 + n)], check=True, capture_output=True)
    hist = pages(api, f"/v1/jobs/{job}/deliveries", D, 2, newer)
    assert [a["deliveryId"] for p in hist for a in p["data"]] == \
        ["msg_04", "msg_03", "msg_02", "msg_01", "msg_00"]
    assert all(p["jobId"] == job for p in hist)

    # inbound endpoints by id, waits soonest to expire first
    eids = sorted(api.call("POST", "/v1/inbound", "/v1/inbound", expect=201,
                           body={"name": f"pg{i}-{env.tag}", "flowId": "7", "source": "github",
                                 "secret": SECRET}).json()["id"] for i in range(3))
    eps = pages(api, "/v1/inbound", "/v1/inbound", 2)
    assert [e["id"] for p in eps for e in p["data"]] == eids
    base, C = f"/v1/inbound/{eids[0]}/waits", "/v1/inbound/{id}/waits"
    for ref, ttl in (("late", 300), ("soon", 100), ("mid-b", 200), ("mid-a", 200)):
        api.call("POST", base, C, body={"ref": ref, "matches": {}, "ttlSeconds": ttl}, expect=201)
    waits = pages(api, base, C, 3)
    refs = [w["ref"] for p in waits for w in p["data"]]
    assert refs == ["soon", "mid-a", "mid-b", "late"] or \
        refs == ["soon", "mid-b", "mid-a", "late"], refs  # mid-a and mid-b: one ms apart or not
    assert all(p["endpointId"] == eids[0] for p in waits)


def test_dead_letters_are_listed_newest_first_and_replayed_from_a_selection(api, env, receiver,
                                                                             stack):
    """GET /v1/dlq and POST /v1/dlq/replay: the group's dead letters in pages, a dry run that
    publishes nothing, then a replay of one selected delivery, sent again with its id."""
    from conftest import read_topic
    flow = f"dlq-{env.tag}"
    receiver.status["/dlq"] = 500
    wid = api.call("POST", f"/v1/flows/{flow}/webhooks", "/v1/flows/{flowId}/webhooks",
                   body={"url": receiver.url("/dlq"), "retry": {"enabled": False}},
                   expect=201).json()["id"]
    jobs = [f"dlq-{env.tag}-{i}" for i in range(3)]
    for job in jobs:
        env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    dead = read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") in jobs, 3, timeout=30)
    assert len(dead) == 3
    D = "/v1/dlq"
    page = api.call("GET", f"{D}?webhookId={wid}&limit=2", D, expect=200).json()
    assert page["group"] == env.group and page["topic"] == "hookd.dlq"
    assert len(page["data"]) == 2 and page["done"] is False and page["iterator"]
    rest = api.call("GET", f"{D}?webhookId={wid}&limit=2&iterator={page['iterator']}", D,
                    expect=200).json()
    assert len(rest["data"]) == 1 and rest["done"] is True and rest["iterator"] is None
    listed = page["data"] + rest["data"]
    assert sorted(d["jobId"] for d in listed) == sorted(jobs)
    at = [d["deadAt"] for d in listed]
    assert at == sorted(at, reverse=True)  # newest first
    assert all(d["reason"] == "retry disabled" and d["webhookId"] == wid for d in listed)
    # since in the future: none; refusals name their field
    later = "2099-01-01T00:00:00Z"
    assert api.call("GET", f"{D}?since={later}", D, expect=200).json()["data"] == []
    for query, field in (("since=yesterday", "since"), ("limit=0", "limit"),
                         ("webhookId=nope", "webhookId"), ("iterator=x", "iterator"),
                         (f"since={later}&until=2098-01-01T00:00:00Z", "until")):
        r = api.call("GET", f"{D}?{query}", D, expect=400)
        assert r.json()["error"]["field"] == field, (query, r.text)

    R = "/v1/dlq/replay"
    chosen = listed[-1]
    before = len(receiver.matching("/dlq"))
    dry = api.call("POST", R, R, body={"deliveryIds": [chosen["deliveryId"]], "dryRun": True},
                   expect=200).json()
    assert dry["dryRun"] is True and dry["replayed"] == 1 and dry["skipped"] == 0
    assert [d["deliveryId"] for d in dry["deliveries"]] == [chosen["deliveryId"]]
    time.sleep(2)
    assert len(receiver.matching("/dlq")) == before  # a dry run sends nothing
    for body, field in (({"color": 1}, "color"), ({"deliveryIds": []}, "deliveryIds"),
                        ({"deliveryIds": ["a", 2]}, "deliveryIds[1]"), ({"limit": 0}, "limit"),
                        ({"dryRun": "yes"}, "dryRun"), ({"since": "soon"}, "since")):
        r = api.call("POST", R, R, body=body, expect=400)
        assert r.json()["error"]["field"] == field, (body, r.text)
    # a field given twice (which would be meant?), a limit far out of range, a forged iterator
    for raw, field in (('{"deliveryIds": ["a", "b", "c"], "deliveryIds": ["d"]}', "deliveryIds"),
                       ('{"limit": 1e300}', "limit"), ('{"limit": -1e300}', "limit"),
                       ('{"webhookId": "wh_\\u0001"}', "webhookId")):
        r = api.call("POST", R, R, raw=raw, expect=400)
        assert r.json()["error"]["field"] == field, (raw, r.text)
        assert "\n" not in r.json()["error"]["message"]
    forged = "l" + "-1.0.5".encode().hex()  # the list's form, around a place it never gave
    r = api.call("GET", f"{D}?iterator={forged}", D, expect=400)
    assert r.json()["error"]["field"] == "iterator"
    receiver.status["/dlq"] = 200
    done = api.call("POST", R, R, body={"deliveryIds": [chosen["deliveryId"]]},
                    expect=200).json()
    assert done["dryRun"] is False and done["replayed"] == 1
    again = receiver.wait_for("/dlq", before + 1, timeout=30)[before:]
    assert len(again) == 1
    assert again[0]["headers"]["x-webhook-id"] == chosen["deliveryId"]
    assert again[0]["headers"]["x-webhook-attempt"] == "1"


def test_every_documented_operation_was_exercised():
    """Runs last in this module: each operation of docs/openapi.yaml got a checked answer."""
    documented = {(path, method) for path, ops in SPEC["paths"].items()
                  for method in ops if method != "parameters"}
    assert documented - EXERCISED == set()
