/*
 * dlq.c — the dead-letter topic for operators: `hookctl dlq list|replay`. The reading and the
 * replay are hk_dlq_scan() and hk_dlq_replay() (cmd/common/dlq.c), which the admin API calls too;
 * with --api-url (HOOKD_API_URL) both verbs go through GET /v1/dlq and POST /v1/dlq/replay.
 *
 * <prefix>dlq (HOOKD_TOPIC_PREFIX, "hookd." by default) is shared by every deployment on the
 * cluster that keeps the same prefix; each dead letter names its consumer group, and both commands
 * take only the configured group's (HOOKD_KAFKA_GROUP_ID). A replay puts each selected delivery
 * back on the first retry tier, due at once, as attempt 1 with the same delivery id; the workers of
 * the group deliver it like any retry. Kafka records cannot be removed, so the dead letters stay
 * where they are: replaying the same selection twice sends twice (receivers dedupe on
 * X-Webhook-Id); --since narrows a replay to recent ones.
 */
#include "hookctl.h"

#include "hk_consumer.h"
#include "hk_producer.h"
#include "hk_retry.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_TIMEOUT_MS 120000

/* ------------------------------------------------------------------------------- list --- */

typedef struct list_state {
    const hk_dead_letter_filter *filter;
    size_t n;
    hk_table *table; /* NULL with --json */
} list_state;

static const char *str(const cJSON *obj, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

static int list_one(cJSON *rec, int32_t partition, int64_t offset, void *arg)
{
    list_state *s = arg;
    if (s->table) {
        char attempts[16] = "-", where[48];
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(rec, "attempts");
        if (cJSON_IsNumber(n))
            snprintf(attempts, sizeof attempts, "%d", n->valueint);
        snprintf(where, sizeof where, "%d:%lld", (int)partition, (long long)offset);
        const char *row[] = {str(rec, "deadAt"),
                             str(rec, "kind"),
                             str(rec, "webhookId"),
                             str(rec, "jobId"),
                             attempts,
                             str(rec, "reason"),
                             where};
        hk_table_row(s->table, row);
        s->n++;
    } else {
        char *text = cJSON_PrintUnformatted(rec);
        printf("%s%s", s->n++ ? ",\n" : "[\n", text);
        free(text);
    }
    cJSON_Delete(rec);
    return HK_OK;
}

/* ------------------------------------------------------------------- replay's output --- */

typedef struct preview_state {
    hk_table *table; /* NULL with --json */
    cJSON *list;     /* --json: the deliveries */
} preview_state;

/* A dry run's line per delivery that would be replayed. */
static void preview_one(const cJSON *rec, int32_t partition, int64_t offset, void *arg)
{
    preview_state *p = arg;
    if (p->list) {
        cJSON *o = cJSON_CreateObject();
        const char *keys[] = {"deliveryId", "webhookId", "jobId", "deadAt", "reason"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            cJSON_AddStringToObject(o, keys[i], str(rec, keys[i]) ? str(rec, keys[i]) : "");
        cJSON_AddNumberToObject(o, "dlqPartition", partition);
        cJSON_AddNumberToObject(o, "dlqOffset", (double)offset);
        cJSON_AddItemToArray(p->list, o);
        return;
    }
    char where[48];
    snprintf(where, sizeof where, "%d:%lld", (int)partition, (long long)offset);
    const char *row[] = {str(rec, "deadAt"), str(rec, "deliveryId"), str(rec, "webhookId"),
                         str(rec, "jobId"),  str(rec, "reason"),     where};
    hk_table_row(p->table, row);
}

static void print_replay(const hk_dlq_replay_stats *stats, const hk_dlq_replay_opts *opts,
                         const char *group, preview_state *p)
{
    if (hk_cmd_json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "dryRun", opts->dry_run);
        cJSON_AddNumberToObject(o, "replayed", (double)stats->replayed);
        cJSON_AddNumberToObject(o, "skipped", (double)stats->skipped);
        cJSON_AddBoolToObject(o, "limited", stats->limited);
        cJSON_AddStringToObject(o, "topic", stats->topic);
        cJSON_AddStringToObject(o, "group", group);
        if (p->list) {
            cJSON_AddItemToObject(o, "deliveries", p->list);
            p->list = NULL;
        }
        hk_print_json(o);
        cJSON_Delete(o);
        return;
    }
    char limited[64] = "";
    if (stats->limited)
        snprintf(limited, sizeof limited, " (stopped at --limit %zu)", opts->limit);
    if (opts->dry_run) {
        hk_table_print(p->table, stdout);
        printf("dry run: would replay %zu deliver%s to %s for group %s%s; skipped %zu not "
               "replayable; nothing was published\n",
               stats->replayed, stats->replayed == 1 ? "y" : "ies", stats->topic, group, limited,
               stats->skipped);
    } else {
        printf("replayed %zu deliver%s to %s for group %s, due now%s; skipped %zu not "
               "replayable\n",
               stats->replayed, stats->replayed == 1 ? "y" : "ies", stats->topic, group, limited,
               stats->skipped);
    }
}

/* ------------------------------------------------------------- through the admin API --- */

/* The filter as the API takes it: webhookId, since and until (RFC 3339). */
static void filter_fields(const hk_dead_letter_filter *f, cJSON *o)
{
    char t[32];
    if (f->webhook_id)
        cJSON_AddStringToObject(o, "webhookId", f->webhook_id);
    if (f->since_ms) {
        hk_format_time(f->since_ms, t);
        cJSON_AddStringToObject(o, "since", t);
    }
    if (f->until_ms) {
        hk_format_time(f->until_ms, t);
        cJSON_AddStringToObject(o, "until", t);
    }
}

/* list: every page of GET /v1/dlq (newest first), printed as without the API. */
static int list_api(const hk_config *cfg, const hk_dead_letter_filter *filter, list_state *s,
                    char *group, size_t group_size)
{
    cJSON *q = cJSON_CreateObject();
    filter_fields(filter, q);
    hk_buf path = {0};
    hk_buf_printf(&path, "/v1/dlq");
    const cJSON *f;
    char sep = '?';
    cJSON_ArrayForEach(f, q)
    {
        char *v = hk_ctl_api_escape(f->valuestring);
        hk_buf_printf(&path, "%c%s=%s", sep, f->string, v);
        free(v);
        sep = '&';
    }
    cJSON_Delete(q);
    cJSON *items = NULL, *first = NULL;
    int status = hk_ctl_api_list(cfg, path.data, &items, &first);
    hk_buf_free(&path);
    if (status)
        return status;
    const char *g = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "group"));
    snprintf(group, group_size, "%s", g ? g : "");
    cJSON *rec;
    while ((rec = cJSON_DetachItemFromArray(items, 0))) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(rec, "dlqPartition");
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(rec, "dlqOffset");
        list_one(rec, cJSON_IsNumber(p) ? p->valueint : -1,
                 cJSON_IsNumber(o) ? (int64_t)o->valuedouble : -1, s);
    }
    cJSON_Delete(items);
    cJSON_Delete(first);
    return 0;
}

/* replay: POST /v1/dlq/replay, printed as without the API. */
static int replay_api(const hk_config *cfg, const hk_dead_letter_filter *filter,
                      const hk_dlq_replay_opts *opts, preview_state *p)
{
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    filter_fields(filter, body);
    if (opts->limit)
        cJSON_AddNumberToObject(body, "limit", (double)opts->limit);
    cJSON_AddBoolToObject(body, "dryRun", opts->dry_run);
    int status = hk_ctl_api(cfg, "POST", "/v1/dlq/replay", body, &out);
    cJSON_Delete(body);
    if (status)
        return status;
    hk_dlq_replay_stats stats = {0};
    const cJSON *v;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(out, "replayed")))
        stats.replayed = (size_t)v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(out, "skipped")))
        stats.skipped = (size_t)v->valuedouble;
    stats.limited = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(out, "limited"));
    snprintf(stats.topic, sizeof stats.topic, "%s", str(out, "topic") ? str(out, "topic") : "");
    const cJSON *rec;
    cJSON_ArrayForEach(rec, cJSON_GetObjectItemCaseSensitive(out, "deliveries"))
    {
        const cJSON *pa = cJSON_GetObjectItemCaseSensitive(rec, "dlqPartition");
        const cJSON *of = cJSON_GetObjectItemCaseSensitive(rec, "dlqOffset");
        if (opts->dry_run)
            preview_one(rec, cJSON_IsNumber(pa) ? pa->valueint : -1,
                        cJSON_IsNumber(of) ? (int64_t)of->valuedouble : -1, p);
    }
    const char *group = str(out, "group");
    print_replay(&stats, opts, group ? group : "", p);
    cJSON_Delete(out);
    return 0;
}

/* ---------------------------------------------------------------------------- command --- */

static void dlq_usage(FILE *out)
{
    fprintf(out,
            "Usage: hookctl dlq list [--webhook <id>] [--since <time>] [--until <time>]\n"
            "       hookctl dlq replay [--webhook <id>] [--since <time>] [--until <time>]\n"
            "                          [--limit N] [--dry-run]\n"
            "\n"
            "Reads the dead-letter topic (<prefix>dlq: HOOKD_TOPIC_PREFIX / --topic-prefix,\n"
            "hookd.dlq by default) from its start, taking only the dead\n"
            "letters of this deployment's consumer group (HOOKD_KAFKA_GROUP_ID).\n"
            "  list    prints them as a table (when, kind, webhook, job, attempts, reason);\n"
            "          --json prints the whole records: the event and every attempt's outcome\n"
            "  replay  puts each selected delivery back on the first retry tier (from\n"
            "          HOOKD_RETRY_DELAYS), due at once, as attempt 1 with the same X-Webhook-Id;\n"
            "          the workers send it like any retry. Poison events (no task to send to)\n"
            "          are skipped. Dead letters stay on the topic: replaying the same selection\n"
            "          again sends again, so narrow it with --webhook and --since.\n"
            "--webhook <id>  only this task's deliveries\n"
            "--since <time>  only those dead at or after it: an RFC 3339 time\n"
            "                (2026-11-23T10:00:00Z), epoch milliseconds (1795435200000), or a\n"
            "                duration back from now: 90s, 30m, 2h, 7d\n"
            "--until <time>  only those dead at or before it (the same forms)\n"
            "--limit N       replay: at most N deliveries, the first in the topic's order\n"
            "--dry-run       replay: print what would be replayed (deliveries, where they go);\n"
            "                publish nothing\n"
            "With --api-url (HOOKD_API_URL) both go through the admin API: GET /v1/dlq (the\n"
            "same rows, newest first) and POST /v1/dlq/replay, as the worker's group sees them.\n"
            "Example: hookctl dlq replay --webhook wh_1a2b --since 2h --dry-run\n"
            "         hookctl dlq replay --until 2026-11-23T10:00:00Z --limit 100\n");
}

/* "2026-11-23T10:00:00Z", epoch milliseconds ("1795435200000"), or "30m" back from now. */
static bool parse_since(const char *text, uint64_t *ms)
{
    if (hk_parse_time(text, ms))
        return true;
    size_t digits = strspn(text, "0123456789");
    if (digits && digits <= 15 && !text[digits]) { /* a duration always has a unit */
        *ms = strtoull(text, NULL, 10);
        return *ms > 0;
    }
    uint64_t back = 0, now = hk_wall_ms();
    if (!hk_parse_duration(text, &back) || back > now)
        return false;
    *ms = now - back;
    return true;
}

int hk_cmd_dlq(int argc, char **argv, const hk_config *cfg)
{
    int usage = hk_ctl_verb(argc, argv, "dlq", "list replay", dlq_usage);
    if (usage >= 0)
        return usage;
    const char *verb = argv[1];
    hk_dead_letter_filter filter = {.group = hk_config_kafka(cfg, "group.id")};
    hk_dlq_replay_opts opts = {0};
    static const struct option flags[] = {
        {"help", no_argument, NULL, 'h'},
        {"webhook", required_argument, NULL, 'w'},
        {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"limit", required_argument, NULL, 'l'},
        {"dry-run", no_argument, NULL, 'n'},
        {0},
    };
    bool replay = strcmp(verb, "replay") == 0;
    hk_cmd_args args = {.argc = argc - 1, .argv = argv + 1, .flags = flags};
    for (int c; (c = hk_cmd_next(&args)) != -1;) {
        const char *v = args.value;
        switch (c) {
        case 'h':
            dlq_usage(stdout);
            return 0;
        case 'w':
            filter.webhook_id = v;
            break;
        case 's':
            if (!parse_since(v, &filter.since_ms)) {
                fprintf(stderr,
                        "hookctl: --since: '%s' is neither a time (2026-11-23T10:00:00Z) nor a "
                        "duration (30m, 2h, 7d)\n",
                        v);
                return 2;
            }
            break;
        case 'u':
            if (!parse_since(v, &filter.until_ms)) {
                fprintf(stderr,
                        "hookctl: --until: '%s' is neither an RFC 3339 time "
                        "(2026-11-23T10:00:00Z), epoch milliseconds nor a duration back (30m)\n",
                        v);
                return 2;
            }
            break;
        case 'l': {
            char *end = NULL;
            unsigned long long n = strtoull(v, &end, 10);
            if (!replay || !isdigit((unsigned char)*v) || *end || n < 1 || n > 1000000) {
                fprintf(stderr, "hookctl: --limit: %s\n",
                        replay ? "must be an integer from 1 to 1000000" : "only for replay");
                return 2;
            }
            opts.limit = (size_t)n;
            break;
        }
        case 'n':
            if (!replay) {
                fprintf(stderr, "hookctl: --dry-run: only for replay\n");
                return 2;
            }
            opts.dry_run = true;
            break;
        case HK_CMD_NO_VALUE:
            fprintf(stderr, "hookctl: %s: needs a value (see hookctl dlq --help)\n", args.token);
            return 2;
        default:
            fprintf(stderr, "hookctl: %s: unknown flag (see hookctl dlq --help)\n", args.token);
            return 2;
        }
    }
    if (filter.since_ms && filter.until_ms && filter.until_ms < filter.since_ms) {
        fprintf(stderr, "hookctl: --until: before --since: nothing could match\n");
        return 2;
    }
    hk_error err = {0};
    if (strcmp(verb, "list") == 0) {
        static const char *const head[] = {"DEAD AT",  "KIND",   "WEBHOOK",         "JOB",
                                           "ATTEMPTS", "REASON", "PARTITION:OFFSET"};
        list_state s = {.filter = &filter, .table = hk_cmd_json ? NULL : hk_table_new(head, 7)};
        int status = 0, rc = HK_OK;
        char group[256]; /* the API's: the worker's group, not this one's */
        snprintf(group, sizeof group, "%s", filter.group ? filter.group : "");
        if (hk_ctl_api_on(cfg))
            status = list_api(cfg, &filter, &s, group, sizeof group);
        else
            rc = hk_dlq_scan(cfg, &filter, SCAN_TIMEOUT_MS, list_one, &s, &err);
        if (status) {
            if (s.table)
                hk_table_print(s.table, NULL); /* frees it */
            return status;
        }
        if (s.table) {
            hk_table_print(s.table, stdout);
            printf("%zu dead letter%s of group %s (--json for the events and every attempt)\n", s.n,
                   s.n == 1 ? "" : "s", group);
        } else {
            printf(s.n ? "\n]\n" : "[]\n");
        }
        if (rc != HK_OK) {
            fprintf(stderr, "hookctl: %s\n", err.msg);
            return rc == HK_EINVAL ? 2 : 1;
        }
        return 0;
    }
    static const char *const head[] = {"DEAD AT", "DELIVERY", "WEBHOOK",
                                       "JOB",     "REASON",   "PARTITION:OFFSET"};
    preview_state p = {0};
    if (opts.dry_run) {
        if (hk_cmd_json)
            p.list = cJSON_CreateArray();
        else
            p.table = hk_table_new(head, 6);
        opts.preview = preview_one;
        opts.arg = &p;
    }
    if (hk_ctl_api_on(cfg)) {
        int status = replay_api(cfg, &filter, &opts, &p);
        cJSON_Delete(p.list);
        if (status && p.table)
            hk_table_print(p.table, NULL); /* frees it */
        return status;
    }
    hk_dlq_replay_stats stats;
    int rc = hk_dlq_replay(cfg, &filter, &opts, &stats, &err);
    print_replay(&stats, &opts, filter.group, &p);
    cJSON_Delete(p.list);
    if (rc != HK_OK) {
        fprintf(stderr, "hookctl: %s\n", err.msg);
        return rc == HK_EINVAL ? 2 : 1;
    }
    return 0;
}
