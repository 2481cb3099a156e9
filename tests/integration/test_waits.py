"""Waits on inbound endpoints, claimed by hookd-ingress against the real broker and Redis: a
request wakes the waits whose matches hold for its payload and no other, each exactly once (also
with two hookd-ingress processes taking the same provider delivery at once); a record that did
not reach Kafka puts its waits back for the provider's retry; an expired wait is never claimed.

Waits are registered with `hookctl inbound wait` (the path the platform's tooling takes); the
record's matchedWaits and `hookctl inbound wait <id> --list` say what was claimed.
"""
import json
import subprocess
import threading
import time
import urllib.parse

from conftest import HOOKCTL
from test_ingress import (SECRET, custom_endpoint, github_endpoint, github_headers, ingress,  # noqa: F401
                          put_endpoint, records)

SLACK_MESSAGE = {"token": "x", "team_id": "T1", "type": "event_callback", "event_id": "Ev1",
                 "event": {"type": "message", "channel": "C1", "user": "U1", "text": "hello",
                           "ts": "1700000000.000100"}}


def hookctl(stack, prefix, *args):
    env = {"HOOKD_REDIS_URL": stack["HOOKD_REDIS_URL"], "HOOKD_REDIS_PREFIX": prefix,
           "PATH": "/usr/bin:/bin"}
    return subprocess.run([HOOKCTL, *args], env=env, capture_output=True, text=True, timeout=30)


def wait_for(stack, prefix, endpoint_id, ref, matches, ttl=3600):
    args = ["inbound", "wait", endpoint_id, "--ref", ref, "--ttl", str(ttl)]
    for path, value in matches.items():
        args += ["--match", f"{path}={json.dumps(value)}"]
    out = hookctl(stack, prefix, *args)
    assert out.returncode == 0, out.stderr


def live_refs(stack, prefix, endpoint_id):
    out = hookctl(stack, prefix, "inbound", "wait", endpoint_id, "--list", "--json")
    assert out.returncode == 0, out.stderr
    return sorted(w["ref"] for w in json.loads(out.stdout))


def open_endpoint(tag, name="waits", **extra):
    return custom_endpoint(tag, name, {"type": "none"}, **extra)


def post_json(ing, ep, doc, headers=None):
    body = json.dumps(doc).encode()
    return ing.post(f"/in/{ep['id']}", body, {"Content-Type": "application/json",
                                              **(headers or {})})


def test_a_slack_payload_wakes_the_waits_whose_matches_hold_and_no_other(stack, ingress):
    ep = open_endpoint(ingress.tag, startFlow=True)
    put_endpoint(stack, ingress.prefix, ep)
    p = ingress.prefix
    wait_for(stack, p, ep["id"], "run-1/wait-1", {"$['event']['type']": "message",
                                                   "$.event.channel": "C1"})
    wait_for(stack, p, ep["id"], "run-2/wait-1", {"$['event']['type']": "message",
                                                   "$.event.channel": "C2"})
    wait_for(stack, p, ep["id"], "run-3/wait-1", {"$.event.type": "reaction_added"})
    wait_for(stack, p, ep["id"], "run-4/wait-1", {"$['event']['text']": "hello",
                                                   '$["type"]': "event_callback"})
    wait_for(stack, p, ep["id"], "run-5/any", {})
    ing = ingress()
    status, reply, _ = post_json(ing, ep, SLACK_MESSAGE)
    assert status == 200, reply
    (key, rec), = records(stack, ingress.topic, 1)
    assert key == ep["flowId"] and rec["startFlow"] is True
    assert sorted(rec["matchedWaits"]) == ["run-1/wait-1", "run-4/wait-1", "run-5/any"]
    assert live_refs(stack, p, ep["id"]) == ["run-2/wait-1", "run-3/wait-1"]
    # the same payload again: still queued, and it wakes nothing (each wait is woken once)
    assert post_json(ing, ep, SLACK_MESSAGE)[0] == 200
    got = records(stack, ingress.topic, 2)
    assert len(got) == 2 and got[1][1]["matchedWaits"] == []
    # a reaction wakes its own wait only; a type mismatch (the number 3 is not "3") wakes none
    reaction = {"type": "event_callback", "event": {"type": "reaction_added", "channel": "C2"}}
    assert post_json(ing, ep, reaction)[0] == 200
    wait_for(stack, p, ep["id"], "run-6/n", {"$.n": "3"})
    assert post_json(ing, ep, {"n": 3})[0] == 200
    got = records(stack, ingress.topic, 4)
    assert [r["matchedWaits"] for _, r in got[2:]] == [["run-3/wait-1"], []]
    assert ing.metric("hookd_ingress_waits_claimed_total") == 4
    assert live_refs(stack, p, ep["id"]) == ["run-2/wait-1", "run-6/n"]


def test_an_empty_matches_wakes_on_any_event_even_a_raw_body(stack, ingress):
    ep = open_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep)
    for i in range(3):
        wait_for(stack, ingress.prefix, ep["id"], f"any-{i}", {})
    ing = ingress()
    assert ing.post(f"/in/{ep['id']}", b"\x00\x01binary",
                    {"Content-Type": "application/octet-stream"})[0] == 200
    (_, rec), = records(stack, ingress.topic, 1)
    assert sorted(rec["matchedWaits"]) == ["any-0", "any-1", "any-2"]
    assert "bodyBase64" in rec


def test_form_and_xml_payloads_are_matched_on_their_json_form(stack, ingress):
    ep = open_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep)
    wait_for(stack, ingress.prefix, ep["id"], "form", {"$.Body": "yes", "$.From": "+15550001"})
    wait_for(stack, ingress.prefix, ep["id"], "xml", {"$.order.status": "paid"})
    ing = ingress()
    form = urllib.parse.urlencode({"From": "+15550001", "Body": "yes"}).encode()
    assert ing.post(f"/in/{ep['id']}", form,
                    {"Content-Type": "application/x-www-form-urlencoded"})[0] == 200
    xml = b"<order><id>7</id><status>paid</status></order>"
    assert ing.post(f"/in/{ep['id']}", xml, {"Content-Type": "application/xml"})[0] == 200
    got = records(stack, ingress.topic, 2)
    assert [r["matchedWaits"] for _, r in got] == [["form"], ["xml"]], got


def test_two_ingress_processes_taking_the_same_delivery_at_once_claim_each_wait_once(
        stack, ingress):
    """The same GitHub delivery posted to two processes at once (a provider's retry racing its
    first attempt, behind a load balancer), and distinct requests with the same payload: each
    wait is listed by exactly one record."""
    ep = github_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep, verified=True)
    rounds = 15
    for i in range(rounds):
        wait_for(stack, ingress.prefix, ep["id"], f"gh-{i}", {"$.n": i})
        wait_for(stack, ingress.prefix, ep["id"], f"many-{i}", {"$.m": i})
    a, b = ingress(), ingress()
    statuses = []

    def post(ing, body, delivery):
        statuses.append(ing.post(f"/in/{ep['id']}", body, github_headers(body, delivery=delivery))[0])

    threads = []
    for i in range(rounds):
        body = json.dumps({"n": i}).encode()
        threads += [threading.Thread(target=post, args=(ing, body, f"d-{i}")) for ing in (a, b)]
        many = json.dumps({"m": i}).encode()  # four distinct deliveries, one payload
        threads += [threading.Thread(target=post, args=(ing, many, f"m-{i}-{k}"))
                    for k, ing in enumerate((a, b, a, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(s in (200, 503) for s in statuses), statuses
    got = [rec for _, rec in records(stack, ingress.topic, rounds * 5, timeout=30)]
    claimed = [ref for rec in got for ref in rec["matchedWaits"]]
    want = sorted([f"gh-{i}" for i in range(rounds)] + [f"many-{i}" for i in range(rounds)])
    assert sorted(claimed) == want, "each wait claimed exactly once"
    per_delivery = {}
    for rec in got:
        per_delivery[rec["providerEventId"]] = per_delivery.get(rec["providerEventId"], 0) + 1
    assert all(per_delivery.get(f"d-{i}") == 1 for i in range(rounds)), per_delivery
    total = a.metric("hookd_ingress_waits_claimed_total") + b.metric(
        "hookd_ingress_waits_claimed_total")
    assert total == 2 * rounds
    assert live_refs(stack, ingress.prefix, ep["id"]) == []


def test_a_503_puts_the_claim_back_and_the_providers_retry_claims_it(stack, ingress):
    from test_faults import stack_cmd
    ep = github_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep, verified=True)
    wait_for(stack, ingress.prefix, ep["id"], "run-9/deploy", {"$.action": "deployed"})
    ing = ingress({"HOOKD_INGRESS_ACK_TIMEOUT_MS": "2000"})
    body = json.dumps({"action": "deployed"}).encode()
    stack_cmd("stop", "kafka")
    try:
        status, _, headers = ing.post(f"/in/{ep['id']}", body, github_headers(body, delivery="r-1"))
        assert status == 503 and headers.get("Retry-After") == "5"
        time.sleep(0.3)  # the release is not waited for
        assert live_refs(stack, ingress.prefix, ep["id"]) == ["run-9/deploy"], "put back"
        assert ing.metric("hookd_ingress_waits_restored_total") == 1
    finally:
        stack_cmd("up")
    deadline = time.time() + 90
    status = 0
    while time.time() < deadline and status != 200:
        status = ing.post(f"/in/{ep['id']}", body, github_headers(body, delivery="r-1"))[0]
        if status != 200:
            time.sleep(1)
    assert status == 200
    got = [rec for _, rec in records(stack, ingress.topic, 3, timeout=20)]
    woke = [rec for rec in got if rec["matchedWaits"]]
    assert len(woke) == 1 and woke[0]["matchedWaits"] == ["run-9/deploy"], got
    assert live_refs(stack, ingress.prefix, ep["id"]) == []


def test_an_expired_wait_is_never_claimed(stack, ingress):
    ep = open_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep)
    wait_for(stack, ingress.prefix, ep["id"], "short", {"$.k": "v"}, ttl=1)
    wait_for(stack, ingress.prefix, ep["id"], "long", {"$.k": "v"}, ttl=3600)
    ing = ingress()
    time.sleep(1.3)
    assert live_refs(stack, ingress.prefix, ep["id"]) == ["long"]
    assert post_json(ing, ep, {"k": "v"})[0] == 200
    (_, rec), = records(stack, ingress.topic, 1)
    assert rec["matchedWaits"] == ["long"]
    assert ing.metric("hookd_ingress_waits_expired_total") == 1


def test_an_endpoint_whose_waits_test_many_paths_reads_the_body_once(stack, ingress):
    """Past a few paths in all (the shapes' paths are walked in the body's text one at a time),
    the body is parsed once instead: the same waits match either way."""
    ep = open_endpoint(ingress.tag)
    put_endpoint(stack, ingress.prefix, ep)
    p = ingress.prefix
    for name in "abcdefgh":  # eight shapes of one path each, then one of two: 10 paths
        wait_for(stack, p, ep["id"], f"w-{name}", {f"$.{name}": 1 if name in "aceg" else 2})
    wait_for(stack, p, ep["id"], "w-ij", {"$.i": 1, "$['j']": [1, {"k": "v"}]})
    wait_for(stack, p, ep["id"], "w-none", {"$.i": 1, "$.j": []})
    ing = ingress()
    doc = {name: 1 for name in "abcdefghi"}
    doc["j"] = [1, {"k": "v"}]
    assert post_json(ing, ep, doc)[0] == 200
    (_, rec), = records(stack, ingress.topic, 1)
    assert sorted(rec["matchedWaits"]) == ["w-a", "w-c", "w-e", "w-g", "w-ij"]
    assert live_refs(stack, p, ep["id"]) == ["w-b", "w-d", "w-f", "w-h", "w-none"]
