"""Space-level hooks (issue 16, item 2; Y42's "webhooks installed on a space"), against the real
broker and Redis: a task with spaceId takes the matching events of every flow of the space (the
events that carry its spaceId) and none of a flow outside it; a flow's task and a space's task
both get an event that names both; an event's override still reaches a space's task; the
per-flow limit holds per space; hookctl's list, export and import take --space."""
import json
import subprocess

from conftest import HOOKCTL, wait_lag_zero


def bodies(receiver, path):
    return sorted((json.loads(r["body"]) for r in receiver.matching(path)),
                  key=lambda b: b.get("job") or b.get("jobId"))


def test_a_space_task_takes_every_flow_of_its_space_and_no_other(env, receiver, worker_factory,
                                                                 stack):
    space, a, b, c = f"sp-{env.tag}", f"a-{env.tag}", f"b-{env.tag}", f"c-{env.tag}"
    space_task = env.create_task({
        "spaceId": space, "name": "space", "url": receiver.url("/space"),
        "body": '{"job":"$jobId","flow":"$flowId","space":"$spaceId"}',
        "trigger": {"event": "any"}})
    dflt = env.create_task({"spaceId": space, "url": receiver.url("/dflt"),
                            "trigger": {"event": "success"}})
    env.create_task({"flowId": a, "url": receiver.url("/flow-a"), "body": '{"job":"$jobId"}',
                     "trigger": {"event": "any"}})
    env.create_task({"flowId": c, "url": receiver.url("/flow-c"), "body": '{"job":"$jobId"}',
                     "trigger": {"event": "any"}})
    w = worker_factory(env.topic, env.group, env.prefix)
    env.publish_many([
        {"jobId": "e1", "jobStatus": "Complete", "flowId": a, "spaceId": space},
        {"jobId": "e2", "jobStatus": "Failed", "flowId": b, "spaceId": space,
         "webhookOverrides": [{"webhookId": space_task,
                               "body": '{"job":"$jobId","overridden":true}'}]},
        {"jobId": "e3", "jobStatus": "Complete", "flowId": c},
        {"jobId": "e4", "jobStatus": "Complete", "flowId": c, "spaceId": f"other-{env.tag}"},
        {"jobId": "e5", "jobStatus": "Complete", "flowId": b, "spaceId": space,
         "webhookOverrides": [{"webhookId": dflt, "skip": True}]},
    ], spread=True)
    receiver.wait_for("/flow-c", 2)
    receiver.wait_for("/space", 3)
    assert wait_lag_zero(stack, env) == 0, "every event's deliveries are done"
    assert bodies(receiver, "/space") == [
        {"job": "e1", "flow": a, "space": space},
        {"job": "e2", "overridden": True},  # the event's override reached the space's task
        {"job": "e5", "flow": b, "space": space}], "flows a and b of the space, not c"
    assert [b["job"] for b in bodies(receiver, "/flow-a")] == ["e1"], \
        "an event naming its flow and its space reaches the flow's task too"
    assert [b["job"] for b in bodies(receiver, "/flow-c")] == ["e3", "e4"]
    # the default payload carries the space; the skip override held for e5 (and e2 failed)
    got = bodies(receiver, "/dflt")
    assert [(d["jobId"], d["flowId"], d["spaceId"]) for d in got] == [("e1", a, space)], got
    assert w.metric('hookd_deliveries_total{outcome="skipped"}') == 1
    assert w.metric("hookd_overrides_unknown_total") == 0, "a space's task is a known task"


def test_a_space_task_is_retried_through_its_tier(env, receiver, worker_factory, stack):
    """A retry record names the event's flow; the worker finds the space's task again through
    the space of the event the record carries."""
    space, flow = f"rs-{env.tag}", f"rf-{env.tag}"
    task_id = env.create_task({"spaceId": space, "url": receiver.url("/again"),
                               "body": '{"job":"$jobId","space":"$spaceId"}'})
    receiver.script["/again"] = [500]
    w = worker_factory(env.topic, env.group, env.prefix, {"HOOKD_RETRY_DELAYS": "1s"})
    env.publish({"eventId": f"r-{env.tag}", "jobId": "r1", "jobStatus": "Complete",
                 "flowId": flow, "spaceId": space})
    got = receiver.wait_for("/again", 2, timeout=30)
    assert [r["status"] for r in got] == [500, 204], w.lines()[-20:]
    assert [r["headers"]["x-webhook-attempt"] for r in got] == ["1", "2"]
    assert json.loads(got[1]["body"]) == {"job": "r1", "space": space}
    assert got[0]["headers"]["x-webhook-id"] == got[1]["headers"]["x-webhook-id"]
    assert wait_lag_zero(stack, env) == 0
    hist = json.loads(env.hookctl("deliveries", "--job", "r1", "--json").stdout)
    assert sorted((h["webhookId"], h["attempt"], h["status"]) for h in hist) == \
        [(task_id, 1, "failed"), (task_id, 2, "delivered")], hist


def test_the_per_space_limit_refuses_the_next_task(env, receiver, tmp_path):
    space = f"lim-{env.tag}"
    cli = dict(env.cli_env(), HOOKD_MAX_WEBHOOKS_PER_FLOW="3")

    def hookctl(*args, stdin=None):
        return subprocess.run([HOOKCTL, *args], env=cli, capture_output=True, text=True,
                              input=stdin, timeout=60)

    for i in range(3):
        ok = hookctl("webhooks", "create", "--file", "-",
                     stdin=json.dumps({"spaceId": space, "url": receiver.url(f"/{i}")}))
        assert ok.returncode == 0, ok.stderr
    over = hookctl("webhooks", "create", "--file", "-",
                   stdin=json.dumps({"spaceId": space, "url": receiver.url("/4")}))
    assert over.returncode == 2, over
    assert over.stderr == (f"hookctl: spaceId: space {space} already has 3 webhook tasks "
                           "(HOOKD_MAX_WEBHOOKS_PER_FLOW)\n")
    # a flow of the same name is another scope, with room of its own
    ok = hookctl("webhooks", "create", "--file", "-",
                 stdin=json.dumps({"flowId": space, "url": receiver.url("/f")}))
    assert ok.returncode == 0, ok.stderr
    path = tmp_path / "more.json"
    path.write_text(json.dumps([{"name": "new", "url": receiver.url("/n")}]))
    imp = hookctl("webhooks", "import", "--space", space, "--file", str(path))
    assert imp.returncode == 2, imp
    assert imp.stderr.startswith(f"hookctl: spaceId: space {space} has 3 webhook tasks; "), \
        imp.stderr
    listed = json.loads(hookctl("webhooks", "list", "--space", space, "--json").stdout)
    assert len(listed) == 3 and all(t["spaceId"] == space for t in listed)


def test_hookctl_lists_exports_and_imports_a_space(env, receiver, tmp_path):
    space, flow = f"rt-{env.tag}", f"rtf-{env.tag}"
    one = env.create_task({"spaceId": space, "name": "one", "url": receiver.url("/1"),
                           "secret": "space-secret-1234"})
    two = env.create_task({"spaceId": space, "name": "two", "url": receiver.url("/2")})
    table = env.hookctl("webhooks", "list", "--space", space)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[-1] == f"2 of 50 webhook tasks in space {space}"
    got = env.hookctl("webhooks", "get", one)
    assert got.returncode == 0 and "space-secret-1234" not in got.stdout
    assert json.loads(env.hookctl("webhooks", "get", one, "--json").stdout)["spaceId"] == space

    exported = env.hookctl("webhooks", "export", "--space", space, "--with-secrets")
    assert exported.returncode == 0, exported.stderr
    doc = json.loads(exported.stdout)
    assert doc["spaceId"] == space and "flowId" not in doc
    assert [t["id"] for t in doc["webhooks"]] == sorted([one, two])
    path = tmp_path / "space.json"
    path.write_text(exported.stdout)
    assert env.hookctl("webhooks", "delete", two).returncode == 0
    imp = env.hookctl("webhooks", "import", "--space", space, "--file", str(path))
    assert imp.returncode == 0, imp.stderr
    assert imp.stdout == f"imported into space {space}: 1 created, 1 updated\n"
    listed = json.loads(env.hookctl("webhooks", "list", "--space", space, "--json").stdout)
    assert sorted(t["name"] for t in listed) == ["one", "two"]
    assert all(t["spaceId"] == space and "flowId" not in t for t in listed)
    # an export of a space seeds a flow (and back)
    seeded = env.hookctl("webhooks", "import", "--flow", flow, "--file", str(path), "--json")
    assert json.loads(seeded.stdout) == {"flowId": flow, "created": 2, "updated": 0}
    in_flow = json.loads(env.hookctl("webhooks", "list", "--flow", flow, "--json").stdout)
    assert all(t["flowId"] == flow and "spaceId" not in t for t in in_flow)

    # usage errors, each one line naming the flag or the field, exit 2
    for args, msg in [
        (("webhooks", "list"), "--flow: required (or --space)"),
        (("webhooks", "list", "--flow", flow, "--space", space),
         "--space: give --flow or --space, not both"),
        (("webhooks", "export", "--space", "a:b"),
         "--space: must be 1 to 128 characters without spaces, control characters, ':' or "
         "glob characters"),
        (("webhooks", "get", one, "--space", space), "--space: only for list, export and import"),
    ]:
        out = env.hookctl(*args)
        assert (out.returncode, out.stderr) == (2, f"hookctl: {msg}\n"), args
    both = env.hookctl("webhooks", "create", "--file", "-", stdin=json.dumps(
        {"flowId": flow, "spaceId": space, "url": receiver.url("/x")}))
    assert (both.returncode, both.stderr) == (
        2, "hookctl: spaceId: a task has flowId or spaceId, not both\n")
    neither = env.hookctl("webhooks", "create", "--file", "-",
                          stdin=json.dumps({"url": receiver.url("/x")}))
    assert (neither.returncode, neither.stderr) == (2, "hookctl: flowId: required (or spaceId)\n")
    helped = env.hookctl("webhooks", "--help")
    assert "hookctl webhooks list --flow <flowId> | --space <spaceId>" in helped.stdout
    assert "spaceId" in helped.stdout
