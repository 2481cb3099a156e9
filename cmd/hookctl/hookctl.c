/*
 * hookctl.c — the operator's command line: dispatch, the `webhooks` and `deliveries` commands.
 * `publish`, `verify`, `listen`, `dlq` and `inbound` live in their own files (hookctl.h).
 * Output is a table or field list for people, JSON with --json (hk_cmd.h); secrets always
 * masked. Errors are one line on stderr naming the field or flag.
 * Exit: 0 ok, 1 runtime failure or not found, 2 bad usage or invalid input.
 */
#include "hookctl.h"

#include "hk_model.h"
#include "hk_store.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hookctl <command> [flags]\n"
            "\n"
            "Commands:\n"
            "  webhooks create --file task.json   store a new webhook task; prints it with its id\n"
            "  webhooks update <id> --file task.json\n"
            "  webhooks list --flow <flowId>      the flow's tasks (secrets masked); --space\n"
            "                                     <spaceId> for a space's\n"
            "  webhooks get <id>\n"
            "  webhooks delete <id>\n"
            "  webhooks export --flow <flowId> [--with-secrets]   the flow's tasks as JSON\n"
            "  webhooks import --flow <flowId> --file flow.json  all or nothing\n"
            "                                     (export and import take --space too)\n"
            "  webhooks rotate-secret <id> [--keep 24h]   a new secret; the old one signs beside\n"
            "                                     it until --keep has passed\n"
            "  webhooks test <id> | --file task.json   one real signed delivery now (a stored\n"
            "                                     task or a draft); prints status, latency\n"
            "                                     and the response; exit 1 if it fails\n"
            "  deliveries --job <jobId> [--detail]   recorded attempts, newest first (--detail:\n"
            "                                     what was sent and what came back)\n"
            "  deliveries resend <deliveryId>     send that delivery again now, as its next\n"
            "                                     attempt; exit 1 if it fails\n"
            "  publish --file event.json [--topic T]   publish a job event to Kafka\n"
            "  verify --secret S --header 'Name: value' [--body-file F | --url U]\n"
            "         [--scheme timestamped|body|standard]   check a signature (default scheme:\n"
            "                                     timestamped; standard for webhook-* headers)\n"
            "  listen --port N [--secret S]       a local receiver that verifies signatures\n"
            "  dlq list|replay [--webhook <id>] [--since <time>] [--until <time>]\n"
            "         [--limit N] [--dry-run]   (the last two: replay only)\n"
            "                                     read the dead-letter topic, or send its\n"
            "                                     deliveries again (attempts reset)\n"
            "  inbound create|update|list|get|delete   hookd-ingress's endpoints (in Redis)\n"
            "  inbound sign --source S --secret K --file body [--url U]\n"
            "                                     the headers provider S would send\n"
            "  inbound send <id> --file body [--to URL]   sign as the endpoint's provider and\n"
            "                                     post to hookd-ingress; exit 1 unless 2xx\n"
            "  inbound wait <id> --ref R --match 'PATH=VALUE'... [--ttl S]\n"
            "                                     a flow's wait, woken once by the first\n"
            "                                     request it matches (--list, --delete R)\n"
            "  inbound requests <id>              what hookd-ingress answered its last 50\n"
            "\n"
            "`hookctl <command> --help` explains one command, with an example. Output is\n"
            "tables and sentences for people; --json prints JSON instead. --file - reads\n"
            "standard input. Secrets are always shown masked (****abcd).\n"
            "--api-url URL (HOOKD_API_URL) with a token (HOOKD_API_TOKEN or --api-token-file F)\n"
            "sends every verb that has an admin API route through it, with the same output:\n"
            "no Redis or Kafka access needed. publish and inbound send have none.\n"
            "Exit status: 0 ok, 1 runtime failure or not found, 2 bad usage or invalid input.\n\n");
    hk_config_print_help(out, HK_CONFIG_HOOKCTL);
}

static void webhooks_usage(FILE *out)
{
    fprintf(out,
            "Usage: hookctl webhooks create --file task.json\n"
            "       hookctl webhooks update <id> --file task.json\n"
            "       hookctl webhooks list --flow <flowId> | --space <spaceId>\n"
            "       hookctl webhooks get <id>\n"
            "       hookctl webhooks delete <id>\n"
            "       hookctl webhooks test <id> [--job-id ID] [--job-status STATUS] [--json]\n"
            "       hookctl webhooks test --file task.json   (a draft: nothing is stored)\n"
            "       hookctl webhooks rotate-secret <id> [--keep 24h] [--secret-file F]\n"
            "       hookctl webhooks export --flow <flowId> | --space <spaceId> [--with-secrets]\n"
            "       hookctl webhooks import --flow <flowId> | --space <spaceId> --file flow.json\n"
            "\n"
            "Manages webhook tasks in Redis (HOOKD_REDIS_URL, HOOKD_REDIS_PREFIX). A task is\n"
            "the contract's JSON: url and flowId are required (or spaceId instead of flowId:\n"
            "a space's task takes the matching events of every flow of the space, those that\n"
            "carry its spaceId); method (POST), headers, body\n"
            "with $jobId, $jobStatus, ... references, trigger {event: success|failure|any,\n"
            "types: [job.completed, orchestration.completed] (left out: every type),\n"
            "objects: \"any\" | [output ids]}, secret, signature (timestamped|body|standard),\n"
            "signatureHeader, validateSsl, retry {enabled, maxAttempts}, timeoutMs, enabled,\n"
            "rateLimit (deliveries per second across every worker, 1 to 100000; left out:\n"
            "no limit; over it deliveries wait, they never fail).\n"
            "Every field is validated; a flow, and a space, holds at most\n"
            "HOOKD_MAX_WEBHOOKS_PER_FLOW tasks.\n"
            "Secrets are printed masked (****abcd); update keeps a masked secret as it is,\n"
            "so get, edit and update does not lose it. Output is a table (list) or a field\n"
            "list; --json prints the task JSON.\n"
            "export writes the flow's tasks as one JSON document (secrets masked unless\n"
            "--with-secrets). import validates every entry before writing anything and names\n"
            "each bad one (webhooks[2].url: ...); an entry updates the flow's task with its id,\n"
            "else the one with its name, else creates one, so importing twice does not\n"
            "duplicate; a masked secret keeps the existing task's. The flow limit applies.\n"
            "--space instead of --flow lists, exports or imports a space's own tasks (an\n"
            "export of a flow may be imported into a space, and back).\n"
            "Exit status: 0 ok, 1 not found or runtime failure, 2 invalid input or the limit.\n"
            "\n"
            "Examples:\n"
            "  hookctl webhooks create --file task.json\n"
            "  hookctl webhooks list --flow 7 --json\n"
            "  hookctl webhooks get wh_1a2b\n"
            "  hookctl webhooks get wh_1a2b --json > t.json && hookctl webhooks update wh_1a2b "
            "--file t.json\n"
            "  hookctl webhooks delete wh_1a2b\n"
            "  hookctl webhooks test wh_1a2b --job-status Failed\n"
            "  hookctl webhooks export --flow 7 > flow7.json\n"
            "  hookctl webhooks import --flow 8 --file flow7.json\n"
            "  hookctl webhooks list --space sales\n"
            "  hookctl webhooks export --space sales > sales.json\n");
}

int hk_ctl_fail(int status, const char *msg)
{
    fprintf(stderr, "hookctl: %s\n", msg);
    return status;
}

int hk_ctl_status(int rc)
{
    return rc == HK_EINVAL || rc == HK_ELIMIT || rc == HK_ECONFLICT ? 2 : 1;
}

int hk_ctl_open_store(const hk_config *cfg, hk_store **store)
{
    hk_store_config scfg = hk_store_config_of(cfg);
    hk_error err = {0};
    int rc = hk_store_open(&scfg, store, &err);
    if (rc != HK_OK)
        return hk_ctl_fail(hk_ctl_status(rc), err.msg);
    return 0;
}

int hk_ctl_verb(int argc, char **argv, const char *command, const char *verbs,
                void (*usage)(FILE *out))
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    size_t n = strlen(argv[1]);
    for (const char *p = verbs; n && (p = strstr(p, argv[1])); p += n)
        if ((p == verbs || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return -1;
    fprintf(stderr, "hookctl: unknown command '%s %s' (see hookctl %s --help)\n", command, argv[1],
            command);
    return 2;
}

void hk_ctl_print_one(cJSON *json, const char *headline)
{
    if (hk_cmd_json) {
        hk_print_json(json);
    } else {
        if (headline)
            printf("%s\n\n", headline);
        hk_print_fields(json);
    }
    cJSON_Delete(json);
}

int hk_ctl_other_flag(const hk_cmd_args *args, int c, const char **id, const char *help)
{
    if (c == HK_CMD_ARG && !*id) {
        *id = args->value;
        return -1;
    }
    if (c == HK_CMD_ARG)
        fprintf(stderr, "hookctl: %s: unexpected argument\n", args->value);
    else if (c == HK_CMD_NO_VALUE)
        fprintf(stderr, "hookctl: %s: needs a value\n", args->token);
    else
        fprintf(stderr, "hookctl: %s: unknown flag (see %s)\n", args->token, help);
    return 2;
}

void hk_ctl_print_deleted(const char *id)
{
    if (hk_cmd_json)
        printf("{\"deleted\": \"%s\"}\n", id);
    else
        printf("deleted %s\n", id);
}

/* Reads --file as JSON; the store validates it (hk_store_task_create_json / _update_json). */
static int load_json(const char *file, cJSON **json)
{
    hk_error err = {0};
    if (hk_cmd_load_json(file, "--file", json, &err) != HK_OK)
        return hk_ctl_fail(2, err.msg);
    return 0;
}

/* "success, any job" / "failure, outputs 3,4", from the task's JSON trigger. */
static void trigger_text(const cJSON *task, hk_buf *b)
{
    const cJSON *trigger = cJSON_GetObjectItemCaseSensitive(task, "trigger");
    hk_buf_printf(b, "%s, ", hk_ctl_str(trigger, "event"));
    const cJSON *objects = cJSON_GetObjectItemCaseSensitive(trigger, "objects");
    if (!cJSON_IsArray(objects)) {
        hk_buf_puts(b, "any job");
        return;
    }
    hk_buf_puts(b, cJSON_GetArraySize(objects) == 1 ? "output " : "outputs ");
    const cJSON *o;
    bool first = true;
    cJSON_ArrayForEach(o, objects)
    {
        hk_buf_printf(b, "%s%s", first ? "" : ",", cJSON_IsString(o) ? o->valuestring : "");
        first = false;
    }
}

/* The tasks (their masked JSON, from Redis or the API: one printer, so the two agree). */
static void print_task_table(const cJSON *tasks, const hk_scope *scope, int limit)
{
    static const char *const head[] = {"ID", "NAME", "TRIGGER", "ENABLED", "METHOD", "RATE", "URL"};
    hk_table *t = hk_table_new(head, 7);
    const cJSON *task;
    cJSON_ArrayForEach(task, tasks)
    {
        hk_buf trig = {0};
        trigger_text(task, &trig);
        char rate[24] = "-"; /* rateLimit: deliveries per second, "-" for none */
        const cJSON *limit_json = cJSON_GetObjectItemCaseSensitive(task, "rateLimit");
        if (cJSON_IsNumber(limit_json) && limit_json->valuedouble > 0)
            snprintf(rate, sizeof rate, "%u/s", (unsigned)limit_json->valuedouble);
        bool enabled = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(task, "enabled"));
        const char *name = hk_ctl_str(task, "name");
        const char *row[] = {hk_ctl_str(task, "id"),
                             *name ? name : "-",
                             trig.data,
                             enabled                               ? "yes"
                             : *hk_ctl_str(task, "disabledReason") ? "no (by hookd)"
                                                                   : "no",
                             hk_ctl_str(task, "method"),
                             rate,
                             hk_ctl_str(task, "url")};
        hk_table_row(t, row);
        hk_buf_free(&trig);
    }
    hk_table_print(t, stdout);
    printf("%d of %d webhook tasks in %s %s\n", cJSON_GetArraySize(tasks), limit,
           hk_scope_noun(scope->kind), scope->id);
}

/* The task's scope from its JSON: its spaceId, else its flowId (borrowed from json). */
static hk_scope json_scope(const cJSON *task)
{
    const char *space = hk_ctl_str(task, "spaceId");
    return *space ? (hk_scope){HK_SCOPE_SPACE, space}
                  : (hk_scope){HK_SCOPE_FLOW, hk_ctl_str(task, "flowId")};
}

/* One task's masked JSON (taken) as JSON (--json) or as a field list after a headline. */
static void print_task_json(cJSON *json, const char *headline)
{
    char line[256];
    hk_scope scope = json_scope(json);
    if (headline)
        snprintf(line, sizeof line, "%s %s in %s %s", headline, hk_ctl_str(json, "id"),
                 hk_scope_noun(scope.kind), scope.id);
    hk_ctl_print_one(json, headline ? line : NULL);
}

static void print_task(const hk_task *task, const char *headline)
{
    print_task_json(hk_task_to_json(task, HK_SECRETS_MASKED), headline);
}

/* What `hookctl webhooks <verb>`'s flags gave. */
typedef struct {
    const char *file, *flow, *space, *id;
    bool with_secrets;
} webhooks_opts;

/* ------------------------------------------------ the same verbs through the admin API --- */

/* "/v1/<kind>s/<id escaped><rest>": a flow's or a space's route ("/webhooks", ...). */
static char *scope_path(const hk_scope *scope, const char *rest)
{
    char *id = hk_ctl_api_escape(scope->id);
    hk_buf b = {0};
    hk_buf_printf(&b, "/v1/%s/%s%s", scope->kind == HK_SCOPE_SPACE ? "spaces" : "flows", id, rest);
    free(id);
    return hk_buf_take(&b);
}

/* The scope a task's JSON names (flowId or spaceId; a number as its text), for the route that
 * creates it or tests it as a draft. -1 with *scope set, else 2 after the store's own message. */
static int input_scope(const cJSON *doc, char text[64], hk_scope *scope)
{
    const char *names[] = {"flowId", "spaceId"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, names[i]);
        if (cJSON_IsString(v))
            snprintf(text, 64, "%s", v->valuestring);
        else if (cJSON_IsNumber(v))
            snprintf(text, 64, "%.17g", v->valuedouble);
        else
            continue;
        *scope = (hk_scope){i ? HK_SCOPE_SPACE : HK_SCOPE_FLOW, text};
        return -1;
    }
    if (!cJSON_IsObject(doc))
        return hk_ctl_fail(2, "--file: must hold a JSON object (a task)");
    return hk_ctl_fail(2, "flowId: required (or spaceId)");
}

/* "/v1/webhooks/<id><rest>" (id validated: [A-Za-z0-9_-]). */
static char *task_path(const char *id, const char *rest)
{
    hk_buf b = {0};
    hk_buf_printf(&b, "/v1/webhooks/%s%s", id, rest);
    return hk_buf_take(&b);
}

/* create, update, get, delete or list through the API, printed as webhooks_apply prints. */
static int webhooks_api(const char *verb, const webhooks_opts *o, const hk_scope *scope,
                        const cJSON *input, const hk_config *cfg)
{
    bool is_create = strcmp(verb, "create") == 0, is_update = strcmp(verb, "update") == 0;
    cJSON *out = NULL;
    char *path = NULL;
    int status;
    if (strcmp(verb, "list") == 0) {
        cJSON *first = NULL;
        path = scope_path(scope, "/webhooks");
        if (!(status = hk_ctl_api_list(cfg, path, &out, &first))) {
            const cJSON *max = cJSON_GetObjectItemCaseSensitive(first, "maxWebhooks");
            if (hk_cmd_json)
                hk_print_json(out);
            else
                print_task_table(out, scope, cJSON_IsNumber(max) ? max->valueint : 0);
        }
        cJSON_Delete(first);
    } else if (is_create) {
        char text[64];
        hk_scope in;
        if ((status = input_scope(input, text, &in)) >= 0)
            return status;
        path = scope_path(&in, "/webhooks");
        if (!(status = hk_ctl_api(cfg, "POST", path, input, &out))) {
            print_task_json(out, "created");
            out = NULL;
        }
    } else if (is_update || strcmp(verb, "get") == 0) {
        path = task_path(o->id, "");
        if (!(status = hk_ctl_api(cfg, is_update ? "PUT" : "GET", path, input, &out))) {
            print_task_json(out, is_update ? "updated" : NULL);
            out = NULL;
        }
    } else {
        path = task_path(o->id, "");
        if (!(status = hk_ctl_api(cfg, "DELETE", path, NULL, &out)))
            hk_ctl_print_deleted(o->id);
    }
    cJSON_Delete(out);
    free(path);
    return status;
}

/* export and import through the API: the answers are what cmd_webhooks_flow prints. */
static int webhooks_flow_api(bool is_import, const hk_scope *scope, cJSON *doc,
                             const hk_config *cfg)
{
    char *path = scope_path(scope, is_import ? "/webhooks/import" : "/webhooks/export");
    cJSON *out = NULL;
    int status = hk_ctl_api(cfg, is_import ? "POST" : "GET", path, doc, &out);
    free(path);
    if (!status && (!is_import || hk_cmd_json)) {
        hk_print_json(out);
    } else if (!status) {
        const cJSON *created = cJSON_GetObjectItemCaseSensitive(out, "created");
        const cJSON *updated = cJSON_GetObjectItemCaseSensitive(out, "updated");
        printf("imported into %s %s: %.0f created, %.0f updated\n", hk_scope_noun(scope->kind),
               scope->id, cJSON_IsNumber(created) ? created->valuedouble : 0,
               cJSON_IsNumber(updated) ? updated->valuedouble : 0);
    }
    cJSON_Delete(out);
    return status;
}

/* test <id> or --file through the API: POST /v1/webhooks/{id}/test or the draft's scope's
 * /webhooks/test; printed as the direct test prints, with its exit status. */
static int test_api(const char *id, const char *file, const char *job_id, const char *job_status,
                    bool json, const hk_config *cfg)
{
    hk_error bad = {0};
    cJSON *body = NULL, *out = NULL;
    char *path = NULL;
    int status = 0;
    if (file) {
        char text[64];
        hk_scope in;
        if ((status = load_json(file, &body)))
            return status;
        if ((status = input_scope(body, text, &in)) >= 0) {
            cJSON_Delete(body);
            return status;
        }
        status = 0;
        path = scope_path(&in, "/webhooks/test");
    } else {
        if (hk_validate_task_id(id, "<id>", &bad) != HK_OK)
            return hk_ctl_fail(2, bad.msg);
        path = task_path(id, "");
        if ((status = hk_ctl_api(cfg, "GET", path, NULL, &out)))
            goto done;
        if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(out, "enabled")) && !json) {
            const char *reason = hk_ctl_str(out, "disabledReason");
            fprintf(stderr, "hookctl: note: webhook %s is disabled%s%s; testing it anyway\n", id,
                    *reason ? ": " : "", reason);
        }
        cJSON_Delete(out);
        out = NULL;
        free(path);
        path = task_path(id, "/test");
        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "jobId", job_id);
        cJSON_AddStringToObject(body, "jobStatus", job_status);
    }
    if (!(status = hk_ctl_api(cfg, "POST", path, body, &out))) {
        hk_test_result r;
        hk_ctl_api_test_result(out, &r);
        hk_ctl_print_test(hk_ctl_str(out, "webhookId"), &r);
        status = r.delivered ? 0 : 1;
    }
done:
    cJSON_Delete(out);
    cJSON_Delete(body);
    free(path);
    return status;
}

static void test_usage(FILE *out)
{
    fprintf(
        out,
        "Usage: hookctl webhooks test <id> [--job-id ID] [--job-status STATUS] [--json]\n"
        "       hookctl webhooks test --file task.json [--job-id ID] [--job-status S] [--json]\n"
        "\n"
        "Sends one real, signed delivery of the task now, through the worker's own request\n"
        "building, signing and private-address guard (HOOKD_ALLOW_NETWORKS), with a sample\n"
        "event of the task's flow: jobId 'test' and jobStatus 'Complete' unless given. It is\n"
        "sent whether or not the task is enabled or its trigger matches. Prints the status,\n"
        "the latency and the first 1 KiB of the response; --json prints them as JSON.\n"
        "--file tests a draft before it is created (the form's Test button): the task JSON\n"
        "is checked as create checks it (flowId required, the secret in full) and nothing\n"
        "is stored; Redis is not needed.\n"
        "Exit status: 0 delivered (2xx), 1 not delivered, 2 bad usage or an invalid task.\n"
        "Example: hookctl webhooks test wh_1a2b --job-id 12345 --job-status Failed\n"
        "         hookctl webhooks test --file draft.json\n");
}

/* The task to test: the stored one with the id, or the draft in file. Prints why not. */
static int test_subject(const char *id, const char *file, bool json, const hk_config *cfg,
                        hk_task **task)
{
    hk_error err = {0};
    if (file) {
        cJSON *doc = NULL;
        int status = load_json(file, &doc);
        if (status)
            return status;
        int rc = hk_store_task_draft(NULL, doc, task, &err);
        cJSON_Delete(doc);
        return rc == HK_OK ? 0 : hk_ctl_fail(2, err.msg);
    }
    if (hk_validate_task_id(id, "<id>", &err) != HK_OK)
        return hk_ctl_fail(2, err.msg);
    hk_store *store = NULL;
    int status = hk_ctl_open_store(cfg, &store);
    if (status)
        return status;
    int rc = hk_store_task_get(store, id, task, &err);
    hk_store_close(store);
    if (rc != HK_OK)
        return hk_ctl_fail(rc == HK_ENOTFOUND ? 1 : hk_ctl_status(rc), err.msg);
    if (!(*task)->enabled && !json)
        fprintf(stderr, "hookctl: note: webhook %s is disabled%s%s; testing it anyway\n", id,
                (*task)->disabled_reason ? ": " : "",
                (*task)->disabled_reason ? (*task)->disabled_reason : "");
    return 0;
}

static int cmd_webhooks_test(int argc, char **argv, const hk_config *cfg)
{
    const char *id = NULL, *file = NULL, *job_id = "test", *job_status = "Complete";
    bool json = hk_cmd_json;
    static const struct option flags[] = {
        {"help", no_argument, NULL, 'h'},
        {"job-id", required_argument, NULL, 'j'},
        {"job-status", required_argument, NULL, 's'},
        {"file", required_argument, NULL, 'f'},
        {0},
    };
    hk_cmd_args args = {.argc = argc - 1, .argv = argv + 1, .flags = flags};
    for (int c; (c = hk_cmd_next(&args)) != -1;) {
        switch (c) {
        case 'h':
            test_usage(stdout);
            return 0;
        case 'j':
            job_id = args.value;
            break;
        case 's':
            job_status = args.value;
            break;
        case 'f':
            file = args.value;
            break;
        default:
            if (hk_ctl_other_flag(&args, c, &id, "hookctl webhooks test --help") >= 0)
                return 2;
        }
    }
    if (!id && !file)
        return hk_ctl_fail(2, "<id>: required (or --file with a draft task)");
    if (id && file)
        return hk_ctl_fail(2, "--file: give a task id or --file, not both");
    if (!*job_id)
        return hk_ctl_fail(2, "--job-id: must not be empty");
    if (!*job_status)
        return hk_ctl_fail(2, "--job-status: must not be empty");
    if (hk_ctl_api_on(cfg))
        return test_api(id, file, job_id, job_status, json, cfg);
    hk_task *task = NULL;
    int status = test_subject(id, file, json, cfg, &task);
    if (status)
        return status;
    hk_test_result r;
    hk_error err = {0};
    int rc = hk_webhook_test(cfg, task, job_id, job_status, &r, &err);
    if (rc != HK_OK) {
        hk_task_destroy(task);
        return hk_ctl_fail(hk_ctl_status(rc), err.msg);
    }
    hk_ctl_print_test(task->id, &r);
    hk_task_destroy(task);
    return r.delivered ? 0 : 1;
}

void hk_ctl_print_test(const char *webhook_id, const hk_test_result *r)
{
    if (hk_cmd_json) {
        cJSON *o = hk_test_result_json(webhook_id, r);
        hk_print_json(o);
        cJSON_Delete(o);
        return;
    }
    if (r->delivered)
        printf("delivered: HTTP %ld in %llu ms\n", r->http_status,
               (unsigned long long)r->latency_ms);
    else
        printf("failed: %s in %llu ms\n", r->error[0] ? r->error : "no response",
               (unsigned long long)r->latency_ms);
    printf("delivery id: %s (X-Webhook-Id)\n", r->delivery_id);
    if (r->attempt > 0)
        printf("attempt: %d\n", r->attempt);
    if (r->response_len)
        printf("response%s:\n%s\n", r->response_truncated ? " (first 1 KiB)" : "", r->response);
}

/* export --flow F | --space S [--with-secrets] | import --flow F | --space S --file X */
static int cmd_webhooks_flow(bool is_import, const hk_scope *scope, const char *file,
                             const char *id, bool with_secrets, const hk_config *cfg)
{
    if (id) {
        fprintf(stderr, "hookctl: %s: unexpected argument\n", id);
        return 2;
    }
    if (is_import && !file)
        return hk_ctl_fail(2, "--file: required");
    if (is_import && with_secrets)
        return hk_ctl_fail(2, "--with-secrets: only for export");
    if (!is_import && file)
        return hk_ctl_fail(2, "--file: only for import (export writes to standard output)");
    if (with_secrets && hk_ctl_api_on(cfg))
        return hk_ctl_fail(2, "--with-secrets: not through the admin API, which never returns a "
                              "secret; run it without --api-url, with Redis access");
    cJSON *doc = NULL;
    int status;
    if (is_import && (status = load_json(file, &doc)))
        return status;
    if (hk_ctl_api_on(cfg)) {
        status = webhooks_flow_api(is_import, scope, doc, cfg);
        cJSON_Delete(doc);
        return status;
    }
    hk_store *store = NULL;
    if ((status = hk_ctl_open_store(cfg, &store))) {
        cJSON_Delete(doc);
        return status;
    }
    hk_error err = {0};
    int rc;
    if (!is_import) {
        cJSON *out = NULL;
        rc = hk_store_export_in(store, scope, with_secrets ? HK_SECRETS_FULL : HK_SECRETS_MASKED,
                                &out, &err);
        if (rc == HK_OK)
            hk_print_json(out);
        cJSON_Delete(out);
    } else {
        hk_import_report *rep = hk_xcalloc(1, sizeof *rep);
        rc = hk_store_import_in(store, scope, doc, rep, &err);
        for (size_t i = 0; i < rep->errors_len; i++) /* every bad entry, one line each */
            fprintf(stderr, "hookctl: %s\n", rep->errors[i]);
        if (rep->errors_dropped)
            fprintf(stderr, "hookctl: ... and %zu more bad entries\n", rep->errors_dropped);
        if (rc == HK_OK && hk_cmd_json) { /* the API's answer, the same fields */
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, hk_scope_field(scope->kind), scope->id);
            cJSON_AddNumberToObject(o, "created", (double)rep->created);
            cJSON_AddNumberToObject(o, "updated", (double)rep->updated);
            hk_print_json(o);
            cJSON_Delete(o);
        } else if (rc == HK_OK)
            printf("imported into %s %s: %zu created, %zu updated\n", hk_scope_noun(scope->kind),
                   scope->id, rep->created, rep->updated);
        free(rep);
        cJSON_Delete(doc);
    }
    hk_store_close(store);
    if (rc != HK_OK) /* after the bad entries: the verdict */
        return hk_ctl_fail(hk_ctl_status(rc), err.msg);
    return 0;
}

/* Reads the flags after the verb into o: -1 to go on, else the exit code (0 after --help, 2 on
 * bad usage). */
static int webhooks_flags(int argc, char **argv, webhooks_opts *o)
{
    static const struct option flags[] = {
        {"help", no_argument, NULL, 'h'},
        {"with-secrets", no_argument, NULL, 'S'},
        {"file", required_argument, NULL, 'f'},
        {"flow", required_argument, NULL, 'F'},
        {"space", required_argument, NULL, 'P'},
        {0},
    };
    hk_cmd_args args = {.argc = argc - 1, .argv = argv + 1, .flags = flags};
    for (int c; (c = hk_cmd_next(&args)) != -1;) {
        switch (c) {
        case 'h':
            webhooks_usage(stdout);
            return 0;
        case 'S':
            o->with_secrets = true;
            break;
        case 'f':
            o->file = args.value;
            break;
        case 'F':
            o->flow = args.value;
            break;
        case 'P':
            o->space = args.value;
            break;
        default:
            if (hk_ctl_other_flag(&args, c, &o->id, "hookctl webhooks --help") >= 0)
                return 2;
        }
    }
    return -1;
}

/* --flow F or --space S, checked: exactly one for list, export and import (needed), neither for
 * the other verbs. -1 to go on with *scope set, else the exit code. */
static int webhooks_scope(const webhooks_opts *o, bool needed, hk_scope *scope)
{
    hk_error bad = {0};
    if (o->flow && o->space)
        return hk_ctl_fail(2, "--space: give --flow or --space, not both");
    if (needed && !o->flow && !o->space)
        return hk_ctl_fail(2, "--flow: required (or --space)");
    if (!needed && (o->flow || o->space))
        return hk_ctl_fail(2, o->flow ? "--flow: only for list, export and import"
                                      : "--space: only for list, export and import");
    *scope = (hk_scope){o->space ? HK_SCOPE_SPACE : HK_SCOPE_FLOW, o->space ? o->space : o->flow};
    if (scope->id && hk_validate_flow_id(scope->id, o->space ? "--space" : "--flow", &bad) != HK_OK)
        return hk_ctl_fail(2, bad.msg);
    return -1;
}

/* `webhooks list`: the flow's (or space's) tasks, as JSON or a table. */
static int webhooks_list(hk_store *store, const hk_scope *scope, const hk_config *cfg,
                         hk_error *err)
{
    hk_task **tasks = NULL;
    size_t n = 0;
    int rc = hk_store_task_list_in(store, scope, &tasks, &n, err);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, hk_task_to_json(tasks[i], HK_SECRETS_MASKED));
    if (rc == HK_OK && hk_cmd_json)
        hk_print_json(arr);
    else if (rc == HK_OK)
        print_task_table(arr, scope, cfg->max_webhooks_per_flow);
    cJSON_Delete(arr);
    for (size_t i = 0; i < n; i++)
        hk_task_destroy(tasks[i]);
    free(tasks);
    return rc;
}

/* create, update, get, delete or list (verb, already checked) against the store, printing the
 * result; returns the store's code with err set. */
static int webhooks_apply(hk_store *store, const char *verb, const webhooks_opts *o,
                          const hk_scope *scope, const cJSON *input, const hk_config *cfg,
                          hk_error *err)
{
    bool is_create = strcmp(verb, "create") == 0, is_update = strcmp(verb, "update") == 0;
    hk_task *task = NULL;
    int rc;
    if (is_create || is_update) {
        rc = is_create ? hk_store_task_create_json(store, NULL, input, &task, err)
                       : hk_store_task_update_json(store, o->id, input, &task, err);
        if (rc == HK_OK)
            print_task(task, is_create ? "created" : "updated");
    } else if (strcmp(verb, "get") == 0) {
        rc = hk_store_task_get(store, o->id, &task, err);
        if (rc == HK_OK)
            print_task(task, NULL);
    } else if (strcmp(verb, "delete") == 0) {
        if ((rc = hk_store_task_delete(store, o->id, err)) == HK_OK)
            hk_ctl_print_deleted(o->id);
    } else {
        rc = webhooks_list(store, scope, cfg, err);
    }
    hk_task_destroy(task);
    return rc;
}

static void rotate_usage(FILE *out)
{
    fprintf(out,
            "Usage: hookctl webhooks rotate-secret <id> [--keep DURATION] [--secret-file F]\n"
            "\n"
            "Rotates the task's secret in one write: the new secret signs first, and the\n"
            "current one keeps signing beside it (t=...,sha256=<new>,sha256=<old>) for\n"
            "--keep (default 24h, at most 30d; 0 drops it at once), so receivers can move over\n"
            "meanwhile. After that the worker signs with the new one only, with no other write\n"
            "(the task shows previousSecretsUntil). Older secrets are dropped now.\n"
            "The new secret is read from --secret-file (- for standard input), or else drawn\n"
            "at random (whsec_... for the standard scheme). It is never printed: read it with\n"
            "hookctl webhooks export --flow <flowId> (or --space) --with-secrets.\n"
            "Exit status: 0 rotated, 1 no such task, 2 bad usage or an invalid secret.\n"
            "Example: hookctl webhooks rotate-secret wh_1a2b --keep 48h\n");
}

/* The drawn secret's note, after a rotation without --secret-file. */
static void print_drawn(const cJSON *task)
{
    hk_scope scope = json_scope(task);
    printf("the new secret was drawn at random: read it with hookctl webhooks export --%s %s "
           "--with-secrets\n",
           hk_scope_noun(scope.kind), scope.id);
}

/* rotate-secret through the API: POST /v1/webhooks/{id}/rotate-secret {"secret"?, "keep"}.
 * given (NULL: drawn by hookd) is wiped and freed here. */
static int rotate_api(const char *id, const char *keep, hk_buf *given, const hk_config *cfg)
{
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    if (given)
        cJSON_AddStringToObject(body, "secret", given->data ? given->data : "");
    cJSON_AddStringToObject(body, "keep", keep);
    if (given && given->data) {
        OPENSSL_cleanse(given->data, given->len);
        hk_buf_free(given);
    }
    char *path = task_path(id, "/rotate-secret");
    int status = hk_ctl_api(cfg, "POST", path, body, &out);
    free(path);
    cJSON *secret = cJSON_GetObjectItemCaseSensitive(body, "secret");
    if (cJSON_IsString(secret))
        OPENSSL_cleanse(secret->valuestring, strlen(secret->valuestring));
    cJSON_Delete(body);
    if (status)
        return status;
    print_task_json(cJSON_Duplicate(out, true), hk_cmd_json ? NULL : "rotated the secret of");
    if (!hk_cmd_json && !given)
        print_drawn(out);
    cJSON_Delete(out);
    return 0;
}

static int cmd_webhooks_rotate(int argc, char **argv, const hk_config *cfg)
{
    const char *id = NULL, *keep = "24h", *secret_file = NULL;
    static const struct option flags[] = {
        {"help", no_argument, NULL, 'h'},
        {"keep", required_argument, NULL, 'k'},
        {"secret-file", required_argument, NULL, 's'},
        {0},
    };
    hk_cmd_args args = {.argc = argc - 1, .argv = argv + 1, .flags = flags};
    for (int c; (c = hk_cmd_next(&args)) != -1;) {
        if (c == 'h') {
            rotate_usage(stdout);
            return 0;
        } else if (c == 'k') {
            keep = args.value;
        } else if (c == 's') {
            secret_file = args.value;
        } else if (hk_ctl_other_flag(&args, c, &id, "hookctl webhooks rotate-secret --help") >= 0) {
            return 2;
        }
    }
    hk_error err = {0};
    uint64_t keep_ms = 0;
    if (!id)
        return hk_ctl_fail(2, "<id>: required");
    if (hk_validate_task_id(id, "<id>", &err) != HK_OK)
        return hk_ctl_fail(2, err.msg);
    if ((strcmp(keep, "0") != 0 && !hk_parse_duration(keep, &keep_ms)) ||
        keep_ms > HK_ROTATE_KEEP_MAX_MS)
        return hk_ctl_fail(2, "--keep: not a duration up to 30d (24h, 90m, 7d; 0 drops the old "
                              "secret now)");
    hk_buf given = {0};
    if (secret_file && hk_cmd_read_file(secret_file, &given) != HK_OK)
        return hk_ctl_fail(2, "--secret-file: cannot be read");
    while (given.len && (given.data[given.len - 1] == '\n' || given.data[given.len - 1] == '\r'))
        given.data[--given.len] = '\0'; /* a file's last newline is not the secret's */
    if (hk_ctl_api_on(cfg))
        return rotate_api(id, keep, secret_file ? &given : NULL, cfg);
    hk_store *store = NULL;
    int status = hk_ctl_open_store(cfg, &store);
    hk_task *t = NULL;
    int rc = status ? HK_ERR
                    : hk_cmd_rotate_secret(store, id,
                                           secret_file ? (given.data ? given.data : "") : NULL,
                                           keep_ms, hk_wall_ms(), &t, &err);
    hk_store_close(store);
    if (given.data)
        OPENSSL_cleanse(given.data, given.len);
    hk_buf_free(&given);
    if (status)
        return status;
    if (rc != HK_OK)
        return hk_ctl_fail(rc == HK_ENOTFOUND ? 1 : hk_ctl_status(rc), err.msg);
    cJSON *json = hk_task_to_json(t, HK_SECRETS_MASKED);
    print_task_json(cJSON_Duplicate(json, true), hk_cmd_json ? NULL : "rotated the secret of");
    if (!hk_cmd_json && !secret_file)
        print_drawn(json);
    cJSON_Delete(json);
    hk_task_destroy(t);
    return 0;
}

static int cmd_webhooks(int argc, char **argv, const hk_config *cfg)
{
    int status = hk_ctl_verb(argc, argv, "webhooks",
                             "create update list get delete test export import rotate-secret",
                             webhooks_usage);
    if (status >= 0)
        return status;
    const char *verb = argv[1];
    if (strcmp(verb, "test") == 0)
        return cmd_webhooks_test(argc, argv, cfg);
    if (strcmp(verb, "rotate-secret") == 0)
        return cmd_webhooks_rotate(argc, argv, cfg);
    webhooks_opts o = {0};
    status = webhooks_flags(argc, argv, &o);
    if (status >= 0)
        return status;
    const char *file = o.file, *id = o.id;
    bool is_create = strcmp(verb, "create") == 0, is_update = strcmp(verb, "update") == 0;
    bool is_list = strcmp(verb, "list") == 0, is_get = strcmp(verb, "get") == 0;
    bool is_delete = strcmp(verb, "delete") == 0;
    bool is_export = strcmp(verb, "export") == 0, is_import = strcmp(verb, "import") == 0;
    hk_scope scope;
    if ((status = webhooks_scope(&o, is_list || is_export || is_import, &scope)) >= 0)
        return status;
    if (is_export || is_import)
        return cmd_webhooks_flow(is_import, &scope, file, id, o.with_secrets, cfg);
    if (o.with_secrets)
        return hk_ctl_fail(2, "--with-secrets: only for export");
    if ((is_create || is_update) && !file)
        return hk_ctl_fail(2, "--file: required");
    if ((is_update || is_get || is_delete) && !id)
        return hk_ctl_fail(2, "<id>: required");
    if (is_create && id) {
        fprintf(stderr, "hookctl: %s: unexpected argument (create takes --file)\n", id);
        return 2;
    }
    hk_error bad = {0};
    if (id && hk_validate_task_id(id, "<id>", &bad) != HK_OK)
        return hk_ctl_fail(2, bad.msg);

    cJSON *input = NULL;
    if ((is_create || is_update) && (status = load_json(file, &input)))
        return status;
    if (hk_ctl_api_on(cfg)) {
        status = webhooks_api(verb, &o, &scope, input, cfg);
        cJSON_Delete(input);
        return status;
    }
    hk_store *store = NULL;
    if ((status = hk_ctl_open_store(cfg, &store))) {
        cJSON_Delete(input);
        return status;
    }
    hk_error err = {0};
    int rc = webhooks_apply(store, verb, &o, &scope, input, cfg, &err);
    cJSON_Delete(input);
    hk_store_close(store);
    if (rc != HK_OK)
        return hk_ctl_fail(rc == HK_ENOTFOUND ? 1 : hk_ctl_status(rc), err.msg);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("hookctl %s\n", HK_VERSION);
        return 0;
    }
    hk_config cfg;
    hk_error err = {0};
    int rest = 0;
    if (hk_config_load(&cfg, argc, argv, environ, &rest, &err) != HK_OK)
        return hk_ctl_fail(2, err.msg);
    int kept = 0; /* --json applies to every command: take it out of argv here */
    for (int i = 0; i < rest; i++) {
        if (i >= 1 && strcmp(argv[i], "--json") == 0)
            hk_cmd_json = true;
        else
            argv[kept++] = argv[i];
    }
    rest = kept;
    hk_log_set_level(HK_LOG_WARN);
    hk_log_set_stream(stderr); /* stdout is the command's output */
    hk_config_log_service_links(&cfg);
    int status;
    const char *cmd = argv[1];
    if (rest < 2)
        status = hk_ctl_fail(2, "a command is required (see hookctl --help)");
    else if (strcmp(cmd, "webhooks") == 0)
        status = cmd_webhooks(rest - 1, argv + 1, &cfg);
    else if (strcmp(cmd, "deliveries") == 0)
        status = hk_cmd_deliveries(rest - 1, argv + 1, &cfg);
    else if (hk_ctl_api_on(&cfg) && strcmp(cmd, "publish") == 0)
        status = hk_ctl_api_none(cmd); /* Kafka only: no admin API route */
    else if (strcmp(cmd, "publish") == 0)
        status = hk_cmd_publish(rest - 1, argv + 1, &cfg);
    else if (strcmp(cmd, "verify") == 0)
        status = hk_cmd_verify(rest - 1, argv + 1, &cfg);
    else if (strcmp(cmd, "listen") == 0)
        status = hk_cmd_listen(rest - 1, argv + 1, &cfg);
    else if (strcmp(cmd, "dlq") == 0)
        status = hk_cmd_dlq(rest - 1, argv + 1, &cfg);
    else if (strcmp(cmd, "inbound") == 0)
        status = hk_cmd_inbound(rest - 1, argv + 1, &cfg);
    else {
        fprintf(stderr, "hookctl: unknown command '%s' (see hookctl --help)\n", cmd);
        status = 2;
    }
    hk_config_free(&cfg);
    return status;
}
