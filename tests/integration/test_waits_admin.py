"""Waits on inbound endpoints as operators and platforms register them: `hookctl inbound wait`
and the admin API's /v1/inbound/{id}/waits, against the real Redis (and a real hookd for the
API). A wait is what a flow registers when it waits for a webhook; hookd-ingress claims it (that
side is tested with hookd-ingress itself). Here: registering (--match forms, --file, replace),
listing (soonest to expire first; an expired wait never listed), one wait by a ref that holds
'/', deleting, the endpoint's liveWaits, every refusal naming its field or flag with the
documented status or exit code, and an endpoint's waits going with it.

Every API answer is checked against docs/openapi.yaml with test_api.py's client.
"""
import json
import subprocess
import time
from datetime import datetime

import pytest

from test_api import TOKEN, Api, port_of

SECRET = "waits-secret-" + "k3y9" + "wxyz"


def ms(rfc3339):
    return datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000


def make_endpoint(env, tmp_path, name):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "flowId": "7", "source": "github",
                                "secret": SECRET}))
    out = env.hookctl("inbound", "create", "--file", str(path), "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["id"]


def wait(env, eid, *args):
    return env.hookctl("inbound", "wait", eid, *args)


def ok_json(out):
    assert out.returncode == 0, (out.stdout, out.stderr)
    return json.loads(out.stdout)


def one_error_line(out, status, start):
    assert out.returncode == status, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(start), lines
    return lines[0]


def listed(env, eid):
    return ok_json(wait(env, eid, "--list", "--json"))


# ------------------------------------------------------------------------------- hookctl --


def test_hookctl_registers_waits_from_match_flags_and_files(env, tmp_path):
    eid = make_endpoint(env, tmp_path, f"waits-cli-{env.tag}")
    got = ok_json(wait(env, eid, "--ref", "run-42/wait-1", "--match", "$.event.type=message",
                       "--match", "$.n=3", "--match", "$['a=b']=x", "--match", '$.t="3"',
                       "--match", "$.o={\"k\": [1, true]}", "--json"))
    assert got["ref"] == "run-42/wait-1"
    # VALUE is JSON when it parses as JSON, else the string as written; '=' in a quoted name
    # belongs to the path
    assert got["matches"] == {"$.event.type": "message", "$.n": 3, "$['a=b']": "x", "$.t": "3",
                              "$.o": {"k": [1, True]}}
    assert got["ttlSeconds"] == 86400
    assert ms(got["expiresAt"]) - ms(got["createdAt"]) == 86400 * 1000
    assert got["createdAt"].endswith("Z") and len(got["createdAt"]) == 24
    assert abs(ms(got["createdAt"]) - time.time() * 1000) < 60_000

    # the whole wait as a file, and from standard input; no --match matches everything
    doc = {"ref": "from-file", "matches": {"$['event']['type']": "message"}, "ttlSeconds": 600}
    path = tmp_path / "wait.json"
    path.write_text(json.dumps(doc))
    from_file = ok_json(wait(env, eid, "--file", str(path), "--json"))
    assert {k: from_file[k] for k in doc} == doc
    piped = env.hookctl("inbound", "wait", eid, "--file", "-", "--json",
                        stdin=json.dumps({"ref": "piped", "matches": {}, "ttlSeconds": 300}))
    assert ok_json(piped)["matches"] == {}
    text = wait(env, eid, "--ref", "everything", "--ttl", "900")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"registered wait everything on {eid}")
    assert "ttlSeconds  900" in text.stdout

    # the list, soonest to expire first: as a table and as JSON
    table = wait(env, eid, "--list")
    assert table.returncode == 0, table.stderr
    rows = [line.split() for line in table.stdout.splitlines()]
    assert rows[0] == ["REF", "EXPIRES", "MATCHES"]
    assert [r[0] for r in rows[1:5]] == ["piped", "from-file", "everything", "run-42/wait-1"]
    assert rows[1][2] == "{}" and rows[2][2] == '{"$[\'event\'][\'type\']":"message"}'
    assert rows[5] == ["4", "live", "waits", "on", eid]
    as_json = listed(env, eid)
    assert [w["ref"] for w in as_json] == ["piped", "from-file", "everything", "run-42/wait-1"]
    assert as_json[3] == got

    # the same ref again replaces it: its matches, and its TTL from now
    again = wait(env, eid, "--ref", "run-42/wait-1", "--match", "$.n=4", "--ttl", "60")
    assert again.returncode == 0 and again.stdout.startswith("replaced wait run-42/wait-1")
    assert [w["ref"] for w in listed(env, eid)][0] == "run-42/wait-1"
    assert listed(env, eid)[0]["matches"] == {"$.n": 4}

    # get shows how many are live; get --json, edit, update is not refused for it
    shown = ok_json(env.hookctl("inbound", "get", eid, "--json"))
    assert shown["liveWaits"] == 4 and shown["secret"] == "****wxyz"
    assert "liveWaits       4" in env.hookctl("inbound", "get", eid).stdout
    shown["name"] = f"waits-cli-renamed-{env.tag}"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(shown))
    updated = ok_json(env.hookctl("inbound", "update", eid, "--file", str(edited), "--json"))
    assert updated["name"] == shown["name"] and updated["liveWaits"] == 4
    stored = subprocess.run(["redis-cli", "-u", env.stack["HOOKD_REDIS_URL"], "GET",
                             f"{env.prefix}inbound:{eid}"], capture_output=True, text=True)
    assert "liveWaits" not in stored.stdout and SECRET in stored.stdout

    # delete: gone from the list and the count; a second delete is "not found"
    out = wait(env, eid, "--delete", "run-42/wait-1")
    assert out.returncode == 0 and out.stdout.strip() == f"deleted wait run-42/wait-1 on {eid}"
    assert ok_json(wait(env, eid, "--delete", "piped", "--json")) == {"deleted": "piped",
                                                                      "endpointId": eid}
    one_error_line(wait(env, eid, "--delete", "run-42/wait-1"), 1,
                   f"hookctl: no live wait run-42/wait-1 on inbound endpoint {eid}")
    assert [w["ref"] for w in listed(env, eid)] == ["from-file", "everything"]
    assert ok_json(env.hookctl("inbound", "get", eid, "--json"))["liveWaits"] == 2
    everything = "".join(env.hookctl(*a).stdout for a in (
        ("inbound", "wait", eid, "--list"), ("inbound", "get", eid)))
    assert SECRET not in everything


def test_hookctl_refusals_name_the_flag_or_field(env, tmp_path):
    eid = make_endpoint(env, tmp_path, f"waits-bad-{env.tag}")
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps({"ref": "x", "matches": {}, "ttlSeconds": 0}))
    cases = [
        (("--ref", "x", "--match", "$.a[=1"), 2, 'hookctl: --match: matches["$.a["]: '),
        (("--ref", "x", "--match", "$.a"), 2, "hookctl: --match: expected PATH=VALUE"),
        (("--ref", "x", "--match", "=1"), 2, "hookctl: --match: the path before '=' is empty"),
        (("--ref", "x", "--match", "$.a=1", "--match", "$.a=2"), 2,
         "hookctl: --match: the path $.a is given twice"),
        (("--ref", "x", "--ttl", "0"), 2, "hookctl: --ttl: "),
        (("--ref", "x", "--ttl", "1d"), 2, "hookctl: --ttl: must be a whole number of seconds"),
        (("--ref", "x", "--ttl", "31536001"), 2, "hookctl: --ttl: "),
        (("--ref", ""), 2, "hookctl: --ref: "),
        (("--ref", "a\x01b"), 2, "hookctl: --ref: "),
        (("--file", str(bad_file)), 2, "hookctl: ttlSeconds: "),
        (("--file", str(tmp_path / "missing.json")), 2, "hookctl: --file: "),
        (("--file", str(bad_file), "--match", "$.a=1"), 2, "hookctl: --match: only with --ref"),
        (("--ref", "x", "--list"), 2, "hookctl: --ref, --file, --list, --delete: one of them"),
        ((), 2, "hookctl: --ref: required"),
        (("--delete", "a\x01"), 2, "hookctl: --delete: "),
        (("--delete", "never"), 1, f"hookctl: no live wait never on inbound endpoint {eid}"),
    ]
    for args, status, start in cases:
        one_error_line(wait(env, eid, *args), status, start)
    missing = f"in_missing{env.tag}"
    for args in (("--ref", "x"), ("--list",), ("--delete", "x")):
        one_error_line(wait(env, missing, *args), 1, f"hookctl: no inbound endpoint {missing}")
    one_error_line(env.hookctl("inbound", "wait", "wh_notinbound", "--list"), 2, "hookctl: <id>: ")
    one_error_line(env.hookctl("inbound", "wait", "--list"), 2, "hookctl: <id>: required")
    one_error_line(env.hookctl("inbound", "get", eid, "--ref", "x"), 2,
                   "hookctl: --ref: not a flag")
    assert listed(env, eid) == []  # nothing was written
    usage = env.hookctl("inbound", "--help").stdout
    for needle in ("inbound wait <id> --ref R", "matchedWaits", "exactly", "86400", "31536000",
                   "--list", "--delete R", "liveWaits"):
        assert needle in usage, needle


def test_an_expired_wait_is_never_listed(env, tmp_path):
    eid = make_endpoint(env, tmp_path, f"waits-ttl-{env.tag}")
    ok_json(wait(env, eid, "--ref", "brief", "--ttl", "1", "--json"))
    ok_json(wait(env, eid, "--ref", "long", "--json"))
    assert [w["ref"] for w in listed(env, eid)] == ["brief", "long"]
    time.sleep(2.2)
    assert [w["ref"] for w in listed(env, eid)] == ["long"]
    assert ok_json(env.hookctl("inbound", "get", eid, "--json"))["liveWaits"] == 1
    one_error_line(wait(env, eid, "--delete", "brief"), 1, "hookctl: no live wait brief")


# ----------------------------------------------------------------------------- admin API --


@pytest.fixture
def api(env, worker_factory):
    worker = worker_factory(env.topic, env.group, env.prefix,
                            {"HOOKD_API_TOKEN": TOKEN, "HOOKD_LOG_LEVEL": "debug"})
    a = Api(port_of(worker))
    yield a
    log = "\n".join(worker.lines())
    for text in (log, *a.texts):
        assert SECRET not in text and TOKEN not in text


C, ONE, EP = "/v1/inbound/{id}/waits", "/v1/inbound/{id}/waits/{ref}", "/v1/inbound/{id}"


def test_api_waits_register_replace_read_and_delete(api, env):
    made = api.call("POST", "/v1/inbound", "/v1/inbound", expect=201,
                    body={"name": f"waits-api-{env.tag}", "flowId": "7", "source": "github",
                          "secret": SECRET}).json()
    eid = made["id"]
    assert made["liveWaits"] == 0
    base = f"/v1/inbound/{eid}/waits"
    assert api.call("GET", base, C, expect=200).json() == \
        {"endpointId": eid, "data": [], "iterator": None, "done": True}

    doc = {"ref": "run-42/wait-1", "matches": {"$['event']['type']": "message"},
           "ttlSeconds": 86400}
    r = api.call("POST", base, C, body=doc, expect=201)
    assert r.headers["Location"] == f"{base}/run-42%2Fwait-1"
    created = r.json()
    assert {k: created[k] for k in doc} == doc
    assert ms(created["expiresAt"]) - ms(created["createdAt"]) == 86400 * 1000
    # the ref is everything after /waits/, as written or percent-encoded
    assert api.call("GET", f"{base}/run-42/wait-1", ONE, expect=200).json() == created
    assert api.call("GET", f"{base}/run-42%2Fwait-1", ONE, expect=200).json() == created
    assert api.call("GET", r.headers["Location"], ONE, expect=200).json() == created

    # the same ref again: 200, replaced (matches and TTL anew), still one wait
    replaced = api.call("POST", base, C, expect=200,
                        body={"ref": "run-42/wait-1", "matches": {"$.n": 3}, "ttlSeconds": 60})
    assert "Location" not in replaced.headers
    assert replaced.json()["matches"] == {"$.n": 3} and replaced.json()["ttlSeconds"] == 60
    # a ref with bytes a URL must encode, read back by its encoded path: decoded once only
    odd = "a b%41?#/é"
    r = api.call("POST", base, C, body={"ref": odd, "matches": {}}, expect=201)
    assert r.headers["Location"] == f"{base}/a%20b%2541%3F%23%2F%C3%A9"
    assert api.call("GET", r.headers["Location"], ONE, expect=200).json()["ref"] == odd
    api.call("GET", f"{base}/a%20bA%3F%23%2F%C3%A9", ONE, expect=404)
    waits = api.call("GET", base, C, expect=200).json()["data"]
    assert [w["ref"] for w in waits] == ["run-42/wait-1", odd]  # soonest to expire first

    # the endpoint shows its live waits; GET, edit, PUT back is not refused for the count
    got = api.call("GET", f"/v1/inbound/{eid}", EP, expect=200).json()
    assert got["liveWaits"] == 2
    put = api.call("PUT", f"/v1/inbound/{eid}", EP, expect=200,
                   body=dict(got, name=f"renamed-{env.tag}", liveWaits=7)).json()
    assert put["liveWaits"] == 2 and put["name"] == f"renamed-{env.tag}"
    assert api.call("PATCH", f"/v1/inbound/{eid}", EP, body={"liveWaits": "many"},
                    expect=400).json()["error"]["field"] == "liveWaits"
    assert api.call("POST", "/v1/inbound", "/v1/inbound", expect=400,
                    body={"name": "x", "flowId": "7", "source": "github", "secret": SECRET,
                          "liveWaits": 0}).json()["error"]["field"] == "liveWaits"
    # hookctl sees what the API wrote
    assert [w["ref"] for w in listed(env, eid)] == ["run-42/wait-1", odd]

    api.call("DELETE", f"{base}/run-42%2Fwait-1", ONE, expect=204)
    api.call("DELETE", f"{base}/run-42/wait-1", ONE, expect=404)
    api.call("GET", f"{base}/run-42/wait-1", ONE, expect=404)
    assert [w["ref"] for w in api.call("GET", base, C).json()["data"]] == [odd]
    assert api.call("GET", f"/v1/inbound/{eid}", EP).json()["liveWaits"] == 1


def test_api_wait_refusals(api, env):
    eid = api.call("POST", "/v1/inbound", "/v1/inbound", expect=201,
                   body={"name": f"waits-api-bad-{env.tag}", "flowId": "7", "source": "github",
                         "secret": SECRET}).json()["id"]
    base = f"/v1/inbound/{eid}/waits"
    good = {"ref": "r", "matches": {"$.a": 1}}
    for body, field in ((dict(good, matches={"$.a[": 1}), 'matches["$.a["]'),
                        (dict(good, ttlSeconds=0), "ttlSeconds"),
                        (dict(good, ttlSeconds=31536001), "ttlSeconds"),
                        (dict(good, ttlSeconds="60"), "ttlSeconds"),
                        (dict(good, ref=""), "ref"),
                        (dict(good, ref="x" * 257), "ref"),
                        ({"matches": {}}, "ref"),
                        ({"ref": "r"}, "matches"),
                        (dict(good, matches=[1]), "matches"),
                        (dict(good, matches={"$.a": 1, "$['a']": 2}), "matches"),
                        (dict(good, colour="red"), "colour")):
        err = api.call("POST", base, C, body=body, expect=400).json()["error"]
        assert err["field"] == field and err["message"].startswith(field + ": "), (body, err)
    assert api.call("POST", base, C, raw='{"ref": ', expect=400).json()["error"]["field"] == "body"
    assert api.call("GET", base, C).json()["data"] == []  # nothing was written

    missing = f"in_missing{env.tag}"
    for method, path, template, body in (("POST", f"/v1/inbound/{missing}/waits", C, good),
                                         ("GET", f"/v1/inbound/{missing}/waits", C, None),
                                         ("GET", f"/v1/inbound/{missing}/waits/r", ONE, None),
                                         ("DELETE", f"/v1/inbound/{missing}/waits/r", ONE, None)):
        err = api.call(method, path, template, body=body, expect=404).json()["error"]
        assert err["message"] == f"no inbound endpoint {missing}", (method, path, err)
    err = api.call("GET", f"{base}/never", ONE, expect=404).json()["error"]
    assert err["message"] == f"no live wait never on inbound endpoint {eid}"
    assert api.call("GET", "/v1/inbound/wh_notinbound/waits", C,
                    expect=400).json()["error"]["field"] == "id"
    assert api.call("GET", f"{base}/a%01b", ONE, expect=400).json()["error"]["field"] == "ref"
    r = api.call("PUT", base, expect=405)
    assert r.headers["Allow"] == "GET, POST"
    r = api.call("POST", f"{base}/run-42/wait-1", expect=405)
    assert r.headers["Allow"] == "GET, DELETE"

    # an endpoint holds waits on at most 32 sets of paths: the 33rd is a 409, the same set is not
    for i in range(32):
        api.call("POST", base, C, body={"ref": f"s{i}", "matches": {f"$.p{i}": i}}, expect=201)
    err = api.call("POST", base, C, body={"ref": "s32", "matches": {"$.p32": 1}},
                   expect=409).json()["error"]
    assert err["field"] == "matches", err
    api.call("POST", base, C, body={"ref": "again", "matches": {"$.p3": "other"}}, expect=201)
    api.call("DELETE", f"{base}/s5", ONE, expect=204)  # its set is gone: room for another
    api.call("POST", base, C, body={"ref": "s32", "matches": {"$.p32": 1}}, expect=201)
    for token in (None, "wrong-token-wrong-token"):
        api.call("GET", base, C, token=token, expect=401)
        api.call("DELETE", f"{base}/s1", ONE, token=token, expect=401)


def test_deleting_the_endpoint_deletes_its_waits(api, env):
    mine = f"in_gone{env.tag}"
    body = {"id": mine, "name": f"waits-gone-{env.tag}", "flowId": "7", "source": "github",
            "secret": SECRET}
    api.call("POST", "/v1/inbound", "/v1/inbound", body=body, expect=201)
    for ref in ("a", "b/c"):
        api.call("POST", f"/v1/inbound/{mine}/waits", C, expect=201,
                 body={"ref": ref, "matches": {"$.x": ref}})
    assert api.call("GET", f"/v1/inbound/{mine}", EP).json()["liveWaits"] == 2
    api.call("DELETE", f"/v1/inbound/{mine}", EP, expect=204)
    api.call("GET", f"/v1/inbound/{mine}/waits", C, expect=404)
    keys = subprocess.run(["redis-cli", "-u", env.stack["HOOKD_REDIS_URL"], "--scan", "--pattern",
                           f"{env.prefix}inbound:waits:{mine}*"], capture_output=True, text=True)
    # every key but the waits' version, which the deletion bumps (docs/redis.md)
    assert keys.stdout.split() == [f"{env.prefix}inbound:waits:{mine}:version"]
    # the same id again starts with none
    assert api.call("POST", "/v1/inbound", "/v1/inbound", body=body,
                    expect=201).json()["liveWaits"] == 0
    assert api.call("GET", f"/v1/inbound/{mine}/waits", C, expect=200).json()["data"] == []
