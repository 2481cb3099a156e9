/*
 * dlq.c — the dead-letter topic for operators: `hookctl dlq list|replay`, and hk_dlq_replay(),
 * the library function behind the replay (the admin API will call it too).
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

/* ----------------------------------------------------------------------------- replay --- */

typedef struct replay_state {
    const hk_dead_letter_filter *filter;
    const hk_dlq_replay_opts *opts;
    size_t taken; /* replayable dead letters taken (queued, or previewed in a dry run) */
    hk_producer *producer;
    hk_loop *loop;
    const char *topic; /* the first tier's */
    const char *dlq;
    hk_dlq_replay_stats *stats;
    size_t queued, acked; /* stats->replayed counts the acknowledged without error */
    int ack_err;
    char ack_errstr[256];
    bool queue_failed;
} replay_state;

static void on_replay_ack(int err, const char *errstr, void *arg)
{
    replay_state *s = arg;
    s->acked++;
    if (!err)
        s->stats->replayed++;
    else if (!s->ack_err) {
        s->ack_err = err;
        snprintf(s->ack_errstr, sizeof s->ack_errstr, "%s", errstr);
    }
}

static int replay_one(int32_t partition, int64_t offset, const void *key, size_t key_len,
                      const void *value, size_t len, void *arg)
{
    (void)key, (void)key_len;
    replay_state *s = arg;
    cJSON *rec = NULL;
    hk_error err = {0};
    int rc = hk_dead_letter_select(value, len, s->filter, &rec, &err);
    if (rc == HK_ENOTFOUND)
        return HK_OK;
    if (rc != HK_OK) {
        s->stats->skipped++;
        return HK_OK; /* not a dead letter: nothing to replay */
    }
    hk_buf out = {0};
    bool replayable =
        hk_retry_record_replay(rec, s->filter->group, hk_wall_ms(), &out, &err) == HK_OK;
    if (replayable && s->opts->limit && s->taken == s->opts->limit) {
        s->stats->limited = true; /* one more than --limit: stop here */
        hk_buf_free(&out);
        cJSON_Delete(rec);
        return HK_ELIMIT;
    }
    if (replayable && s->opts->preview)
        s->opts->preview(rec, partition, offset, s->opts->arg);
    if (replayable && s->opts->dry_run) {
        s->taken++;
        s->stats->replayed++; /* would be */
        hk_buf_free(&out);
        cJSON_Delete(rec);
        return HK_OK;
    }
    if (!replayable) {
        s->stats->skipped++;
        HK_WARN("dlq.replay.skipped", "%s[%d] offset %lld: %s", s->dlq, (int)partition,
                (long long)offset, err.msg);
        cJSON_Delete(rec);
        return HK_OK;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "deliveryId");
    rc = hk_producer_send(s->producer, s->topic, id->valuestring, strlen(id->valuestring), out.data,
                          out.len, on_replay_ack, s);
    hk_buf_free(&out);
    cJSON_Delete(rec);
    if (rc != HK_OK) {
        s->queue_failed = true;
        return HK_ERR; /* stops the scan */
    }
    s->queued++;
    s->taken++;
    hk_loop_run_once(s->loop, 0); /* serve acknowledgements as we go */
    return HK_OK;
}

int hk_dlq_replay(const hk_config *cfg, const hk_dead_letter_filter *filter,
                  const hk_dlq_replay_opts *opts, hk_dlq_replay_stats *stats, hk_error *err)
{
    static const hk_dlq_replay_opts every = {0};
    memset(stats, 0, sizeof *stats);
    hk_retry_policy policy;
    int rc = hk_retry_policy_init(&policy, cfg->retry_delays, cfg->retry_max_attempts,
                                  "HOOKD_RETRY_DELAYS", err);
    if (rc != HK_OK)
        return rc;
    hk_retry_tier_topic(&policy, cfg->topic_prefix, 0, stats->topic);
    char dlq[HK_TOPIC_NAME_MAX + 1];
    hk_topic_name(dlq, cfg->topic_prefix, HK_TOPIC_DLQ);
    replay_state s = {.filter = filter,
                      .opts = opts ? opts : &every,
                      .topic = stats->topic,
                      .dlq = dlq,
                      .stats = stats};
    s.loop = hk_loop_create();
    const char *topics[] = {stats->topic};
    if (!s.opts->dry_run && /* a dry run writes nothing, not even a missing topic */
        ((rc = hk_producer_create(s.loop, cfg->kafka, cfg->kafka_len, &s.producer, err)) != HK_OK ||
         (rc = hk_producer_ensure_topics(s.producer, topics, 1, cfg->topic_partitions,
                                         cfg->topic_replication, 10000, err)) != HK_OK))
        goto done;
    rc = hk_consumer_scan(cfg->kafka, cfg->kafka_len, dlq, SCAN_TIMEOUT_MS, replay_one, &s, err);
    if (rc == HK_ELIMIT) /* replay_one stopped the scan at --limit */
        rc = HK_OK;
    if (s.queue_failed)
        hk_error_set(err, HK_ERR, NULL, "cannot queue a record for %s", stats->topic);
    /* Whatever was queued must be acknowledged before we say so. */
    uint64_t deadline = hk_now_ms() + 30000;
    while (s.acked < s.queued && hk_now_ms() < deadline)
        hk_loop_run_once(s.loop, 100);
    if (rc == HK_OK && s.acked < s.queued)
        rc = hk_error_set(err, HK_ERR, "HOOKD_KAFKA_BOOTSTRAP_SERVERS",
                          "%zu of %zu replayed records not acknowledged within 30 s",
                          s.queued - s.acked, s.queued);
    if (rc == HK_OK && s.ack_err)
        rc = hk_error_set(err, HK_ERR, NULL, "publishing to %s failed: %s", stats->topic,
                          s.ack_errstr);
done:
    hk_producer_destroy(s.producer, 5000);
    hk_loop_destroy(s.loop);
    return rc;
}

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

static int list_one(int32_t partition, int64_t offset, const void *key, size_t key_len,
                    const void *value, size_t len, void *arg)
{
    (void)key, (void)key_len;
    list_state *s = arg;
    cJSON *rec = NULL;
    if (hk_dead_letter_select(value, len, s->filter, &rec, NULL) != HK_OK)
        return HK_OK;
    cJSON_AddNumberToObject(rec, "dlqPartition", partition);
    cJSON_AddNumberToObject(rec, "dlqOffset", (double)offset);
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
        char dlq[HK_TOPIC_NAME_MAX + 1];
        hk_topic_name(dlq, cfg->topic_prefix, HK_TOPIC_DLQ);
        int rc =
            hk_consumer_scan(cfg->kafka, cfg->kafka_len, dlq, SCAN_TIMEOUT_MS, list_one, &s, &err);
        if (s.table) {
            hk_table_print(s.table, stdout);
            printf("%zu dead letter%s of group %s (--json for the events and every attempt)\n", s.n,
                   s.n == 1 ? "" : "s", filter.group);
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
