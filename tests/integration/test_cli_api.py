"""hookctl through the admin API (--api-url, HOOKD_API_URL): every verb with a route, run both
ways against one real hookd and one Redis, prints the same thing. In API mode hookctl is given
an unreachable Redis and Kafka, so it cannot have read them. Verbs with no route fail in one
line naming them; API errors are one line with the API's code; the token is never printed."""
import json
import re
import subprocess
import time
import uuid

import pytest

from conftest import HOOKCTL, delivery_id

TOKEN = "cli-api-token-" + uuid.uuid4().hex


@pytest.fixture
def both(env, worker_factory, tmp_path):
    """(direct, api): hookctl against Redis and Kafka, and hookctl against the worker's API."""
    worker = worker_factory(env.topic, env.group, env.prefix, {"HOOKD_API_TOKEN": f"{TOKEN},"
                                                                                  f"{TOKEN}-old"})
    api_env = {k: v for k, v in env.cli_env().items() if not k.startswith("HOOKD_")}
    api_env.update({"HOOKD_API_URL": f"http://127.0.0.1:{worker.port()}/",
                    "HOOKD_API_TOKEN": TOKEN,
                    "HOOKD_REDIS_URL": "redis://127.0.0.1:1/0",  # nothing listens there
                    "HOOKD_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    outputs = []

    direct_env = {**env.cli_env(), "HOOKD_ALLOW_NETWORKS": "127.0.0.0/8",  # as the worker's
                  "HOOKD_KAFKA_GROUP_ID": env.group}

    def direct(*args, stdin=None):
        out = subprocess.run([HOOKCTL, *args], env=direct_env, capture_output=True, text=True,
                             input=stdin, timeout=120)
        outputs.append(out.stdout + out.stderr)
        return out

    def api(*args, stdin=None, extra=None):
        out = subprocess.run([HOOKCTL, *args], env={**api_env, **(extra or {})},
                             capture_output=True, text=True, input=stdin, timeout=120)
        outputs.append(out.stdout + out.stderr)
        return out

    api.url = api_env["HOOKD_API_URL"]
    yield direct, api
    for text in outputs + ["\n".join(worker.lines())]:
        assert TOKEN not in text, "the token was printed or logged"


def same(direct, api, *args, normalize=lambda s: s):
    a, b = direct(*args), api(*args)
    assert a.returncode == b.returncode, (args, a.stderr, b.stderr)
    assert normalize(a.stdout) == normalize(b.stdout), (args, a.stdout, b.stdout)
    return a


def write(tmp_path, doc):
    path = tmp_path / f"doc-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_each_webhooks_verb_prints_the_same_both_ways(both, env, receiver, tmp_path):
    direct, api = both
    flow, space = f"cli-{env.tag}", f"clis-{env.tag}"
    task = {"flowId": flow, "name": "ok", "url": receiver.url("/cli/ok"), "secret": "cliSecret1234",
            "trigger": {"event": "any", "objects": ["3", "4"]}, "rateLimit": 7}
    ids = {}
    for mode, run in (("direct", direct), ("api", api)):
        wid = f"wh_{mode}{env.tag}"
        out = run("webhooks", "create", "--file", write(tmp_path, dict(task, id=wid)))
        assert out.returncode == 0, out.stderr
        ids[mode] = (wid, out.stdout)
    assert ids["direct"][1].replace(ids["direct"][0], "ID") == \
        ids["api"][1].replace(ids["api"][0], "ID")
    wid = ids["direct"][0]
    for json_flag in ((), ("--json",)):
        same(direct, api, "webhooks", "list", "--flow", flow, *json_flag)
        same(direct, api, "webhooks", "get", wid, *json_flag)
    edited = write(tmp_path, dict(task, id=wid, name="renamed", secret="****1234"))
    same(direct, api, "webhooks", "update", wid, "--file", edited)
    same(direct, api, "webhooks", "update", wid, "--file", edited, "--json")
    no_time = lambda s: re.sub(r'"exportedAt":\s*"[^"]*"', "", s)
    exported = same(direct, api, "webhooks", "export", "--flow", flow, normalize=no_time)
    doc = write(tmp_path, json.loads(exported.stdout))
    same(direct, api, "webhooks", "import", "--flow", flow, "--file", doc)
    same(direct, api, "webhooks", "import", "--flow", flow, "--file", doc, "--json")

    # a space's list, and a space's task created through the API
    stask = {"spaceId": space, "name": "s", "url": receiver.url("/cli/s")}
    assert api("webhooks", "create", "--file", write(tmp_path, stask)).returncode == 0
    same(direct, api, "webhooks", "list", "--space", space)

    # the Test button, a draft and a stored task: the same lines but the time and the id
    varying = lambda s: re.sub(r'msg_[0-9a-f]+|\d+ ms|"latencyMs":\s*\d+', "X", s)
    same(direct, api, "webhooks", "test", wid, "--job-id", "42", normalize=varying)
    same(direct, api, "webhooks", "test", wid, "--json", normalize=varying)
    draft = write(tmp_path, {"flowId": flow, "id": f"wh_draft{env.tag}",
                             "url": receiver.url("/cli/draft")})
    same(direct, api, "webhooks", "test", "--file", draft, normalize=varying)

    # a rotation: two equal tasks, one rotated each way, with the same new secret
    secret = tmp_path / "new-secret"
    secret.write_text("rotatedSecret5678\n")
    until = lambda s: re.sub(r'(previousSecretsUntil"?:?\s*)"?[0-9TZ:.-]+"?', r"\1U", s)
    rotated = []
    for run in (direct, api):
        rid = f"wh_rot{uuid.uuid4().hex[:8]}"
        assert run("webhooks", "create", "--file",
                   write(tmp_path, dict(task, id=rid, name="rot"))).returncode == 0
        out = run("webhooks", "rotate-secret", rid, "--keep", "1h", "--secret-file", str(secret))
        assert out.returncode == 0, out.stderr
        rotated.append(until(out.stdout.replace(rid, "ID")))
    assert rotated[0] == rotated[1]

    # delete: one each way
    for run, victim in ((direct, ids["api"][0]), (api, ids["direct"][0])):
        out = run("webhooks", "delete", victim)
        assert out.returncode == 0 and out.stdout == f"deleted {victim}\n", out.stderr

    # errors: one line each, the API's with its code; the same exit status
    gone = f"wh_gone{env.tag}"
    a, b = direct("webhooks", "get", gone), api("webhooks", "get", gone)
    assert a.returncode == b.returncode == 1
    assert b.stderr == f"hookctl: not_found: webhook {gone} not found\n", b.stderr
    bad = write(tmp_path, dict(task, url="ftp://x.example"))
    a, b = direct("webhooks", "create", "--file", bad), api("webhooks", "create", "--file", bad)
    assert a.returncode == b.returncode == 2
    assert b.stderr == "hookctl: invalid: url: scheme must be http or https\n", b.stderr
    out = api("webhooks", "export", "--flow", flow, "--with-secrets")
    assert out.returncode == 2 and out.stderr.startswith("hookctl: --with-secrets: ")


def test_deliveries_and_resend_print_the_same_both_ways(both, env, receiver, tmp_path):
    direct, api = both
    flow = f"clid-{env.tag}"
    wid = env.create_task({"flowId": flow, "url": receiver.url("/cli/down"),
                           "retry": {"enabled": False}})
    receiver.status["/cli/down"] = 500
    job = f"clijob-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    receiver.wait_for("/cli/down", 1, timeout=30)
    deadline = time.time() + 20
    while "failed" not in direct("deliveries", "--job", job).stdout and time.time() < deadline:
        time.sleep(0.3)
    for flags in ((), ("--detail",), ("--json",)):
        same(direct, api, "deliveries", "--job", job, *flags)
    same(direct, api, "deliveries", "--job", "never-ran")
    did = delivery_id(job, wid)
    results = [run("deliveries", "resend", did) for run in (direct, api)]
    assert [r.returncode for r in results] == [1, 1]  # the receiver still answers 500
    lines = [re.sub(r"\d+ ms", "X", r.stdout).replace("attempt: 2", "attempt: N")
             .replace("attempt: 3", "attempt: N") for r in results]
    assert lines[0] == lines[1], lines
    same(direct, api, "deliveries", "--job", job, "--json")  # both resends recorded
    out = api("deliveries", "resend", "msg_none")
    assert out.returncode == 1 and out.stderr.startswith("hookctl: not_found: "), out.stderr
    assert len(out.stderr.splitlines()) == 1


def test_inbound_verbs_print_the_same_both_ways(both, env, tmp_path):
    direct, api = both
    made = {}
    for mode, run in (("direct", direct), ("api", api)):
        eid = f"in_{mode}{env.tag}"
        out = run("inbound", "create", "--file", write(tmp_path, {
            "id": eid, "name": f"{mode}-{env.tag}", "flowId": "7", "source": "github",
            "secret": "inboundSecret99"}))
        assert out.returncode == 0, out.stderr
        made[mode] = (eid, out.stdout)
    strip = lambda mode: re.sub(r"\d{4}-\d\d-\d\dT[0-9:.]+Z", "T", made[mode][1]
                                .replace(made[mode][0], "ID").replace(mode, "M"))
    assert strip("direct") == strip("api")
    eid = made["direct"][0]
    for json_flag in ((), ("--json",)):
        same(direct, api, "inbound", "list", *json_flag)
        same(direct, api, "inbound", "get", eid, *json_flag)
    same(direct, api, "inbound", "update", eid, "--file", write(tmp_path, {
        "name": f"direct-{env.tag}", "flowId": "7", "source": "github", "secret": "****ts99"}))
    # waits: registered (then replaced) each way, listed, deleted
    for run, ref in ((direct, "r-direct"), (api, "r-api")):
        out = run("inbound", "wait", eid, "--ref", ref, "--match", "$.a=1", "--ttl", "600")
        assert out.returncode == 0 and out.stdout.startswith(f"registered wait {ref} on "), \
            out.stdout + out.stderr
        out = run("inbound", "wait", eid, "--ref", ref, "--match", "$.a=2", "--ttl", "900")
        assert out.stdout.startswith(f"replaced wait {ref} on "), out.stdout + out.stderr
    same(direct, api, "inbound", "wait", eid, "--list")
    same(direct, api, "inbound", "wait", eid, "--list", "--json")
    for run, ref in ((direct, "r-api"), (api, "r-direct")):
        out = run("inbound", "wait", eid, "--delete", ref)
        assert out.returncode == 0 and out.stdout == f"deleted wait {ref} on {eid}\n", out.stderr
    # recent requests (hookd-ingress writes them; two put here as it writes them)
    for i, outcome in enumerate(("accepted", "rejected")):
        subprocess.run(["redis-cli", "-u", env.stack["HOOKD_REDIS_URL"], "LPUSH",
                        f"{env.prefix}inbound:recent:{eid}", json.dumps(
                            {"id": f"rq_{i}", "at": "2026-12-03T10:00:00.000Z", "method": "POST",
                             "status": 200 if i == 0 else 404, "outcome": outcome,
                             "bytes": 9, "latencyMs": 2})], check=True, capture_output=True)
    out = same(direct, api, "inbound", "requests", eid)
    assert out.stdout.splitlines()[-1] == "2 recent requests (--json for each one's detail)"
    same(direct, api, "inbound", "requests", eid, "--json")
    for run, victim in ((direct, made["api"][0]), (api, eid)):
        assert run("inbound", "delete", victim).stdout == f"deleted {victim}\n"


def test_dlq_list_and_replay_print_the_same_both_ways(both, env, receiver, stack):
    """dlq list (GET /v1/dlq, newest first: the same rows in another order) and dlq replay
    (POST /v1/dlq/replay: the same dry run, row for row, and the same replay)."""
    from conftest import read_topic
    direct, api = both
    flow = f"clidlq-{env.tag}"
    receiver.status["/clidlq"] = 500
    wid = env.create_task({"flowId": flow, "url": receiver.url("/clidlq"),
                           "retry": {"enabled": False}})
    jobs = [f"clidlq-{env.tag}-{i}" for i in range(2)]
    for job in jobs:
        env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    assert len(read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") in jobs, 2)) == 2

    def rows(text):  # the table's rows in any order, the count line last
        lines = text.splitlines()
        return sorted(lines[1:-1]), lines[0], lines[-1]

    a = same(direct, api, "dlq", "list", "--webhook", wid, normalize=rows)
    assert a.stdout.splitlines()[-1].startswith("2 dead letters of group ")
    by_place = lambda text: sorted(json.loads(text), key=lambda d: (d["dlqPartition"],
                                                                   d["dlqOffset"]))
    same(direct, api, "dlq", "list", "--webhook", wid, "--json", normalize=by_place)
    # a scan takes the partitions in the order their records come: the same rows, any order
    same(direct, api, "dlq", "replay", "--webhook", wid, "--dry-run", normalize=rows)

    def replay_by_place(text):
        doc = json.loads(text)
        doc["deliveries"].sort(key=lambda d: (d["dlqPartition"], d["dlqOffset"]))
        return doc

    same(direct, api, "dlq", "replay", "--webhook", wid, "--dry-run", "--json",
         normalize=replay_by_place)
    out = api("dlq", "replay", "--webhook", wid, "--since", "not-a-time")
    assert out.returncode == 2 and out.stderr.startswith("hookctl: --since:"), out.stderr
    receiver.status["/clidlq"] = 200
    out = api("dlq", "replay", "--webhook", wid, "--limit", "1")
    assert out.returncode == 0 and out.stdout.startswith("replayed 1 delivery to "), out.stdout
    assert "(stopped at --limit 1)" in out.stdout
    assert len(receiver.wait_for("/clidlq", 3, timeout=30)) == 3


def test_verbs_without_a_route_and_the_token_rules(both, env, tmp_path):
    direct, api = both
    for args, named in ((("publish", "--file", write(tmp_path, {"jobId": "1"})), "publish"),
                        (("inbound", "send", "in_x", "--file", "/dev/null"), "inbound send")):
        out = api(*args)
        assert out.returncode == 2 and len(out.stderr.splitlines()) == 1, out.stderr
        assert out.stderr.startswith(f"hookctl: {named}: has no admin API route"), out.stderr
    # verify needs neither Redis nor the API: it runs as ever (and finds the signature wrong)
    out = api("verify", "--secret", "s", "--header", "X-Webhook-Signature: sha256=00",
              "--body-file", "/dev/null")
    assert out.returncode != 0 and "admin API" not in out.stderr, out.stderr
    # the token from a file (not on the command line), a wrong one, none at all
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "-old\n")  # the second accepted token
    flow = f"tok-{env.tag}"
    assert api("webhooks", "list", "--flow", flow, "--api-token-file", str(token_file),
               extra={"HOOKD_API_TOKEN": "wrong-token-00000000"}).returncode == 0
    # --api-url on the command line is taken over HOOKD_API_URL (here unset, then wrong)
    for url_env in ("", "http://127.0.0.1:1"):
        out = api("webhooks", "list", "--flow", flow, "--api-url", api.url,
                  extra={"HOOKD_API_URL": url_env})
        assert out.returncode == 0, (url_env, out.stderr)
    out = api("webhooks", "list", "--flow", flow, extra={"HOOKD_API_TOKEN": "wrong-token-0000000"})
    assert out.returncode == 1 and out.stderr == "hookctl: unauthorized: unauthorized\n"
    out = api("webhooks", "list", "--flow", flow, extra={"HOOKD_API_TOKEN": ""})
    assert out.returncode == 2 and out.stderr.startswith("hookctl: --api-token: required")
    out = api("webhooks", "list", "--flow", flow, extra={"HOOKD_API_URL": "http://127.0.0.1:1"})
    assert out.returncode == 1 and out.stderr.startswith("hookctl: --api-url: GET "), out.stderr
    out = api("webhooks", "list", "--flow", flow, extra={"HOOKD_API_URL": "ftp://x"})
    assert out.returncode == 2 and "--api-url: must start with http://" in out.stderr
