/*
 * fuzz_retry_record.c — the reader of what a tier topic carries: hk_retry_record_parse, the
 * head scans hk_retry_record_due and hk_retry_record_for_group, and the dead-letter side
 * (hk_dead_letter_select, hk_retry_record_replay), fed the bytes of a Kafka message as they
 * come (not NUL-terminated).
 * Checked: a record it accepts holds every field the worker reads; written back with
 * hk_retry_record_write it parses to the same record, and the head scans of the written form
 * agree with the parse; the head scan of any record that starts the way a written one does
 * agrees with the parse; a dead letter selected and replayed is a retry record for attempt 1.
 * Records whose times do not fit a double's whole numbers (dueAt 1e20) are refused, not cast.
 */
#include <cjson/cJSON.h>
#include <ctype.h>

#include "fuzz_common.h"
#include "hk_retry.h"

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_record(const hk_retry_record *r)
{
    HK_FUZZ_CHECK(r->delivery_id && *r->delivery_id, "deliveryId");
    HK_FUZZ_CHECK(r->webhook_id && *r->webhook_id, "webhookId");
    HK_FUZZ_CHECK(r->flow_id && *r->flow_id, "flowId");
    HK_FUZZ_CHECK(r->job_id && *r->job_id, "jobId");
    HK_FUZZ_CHECK(r->event_id && *r->event_id, "eventId");
    HK_FUZZ_CHECK(r->attempt >= 1 && r->attempt <= 1000000, "attempt %d", r->attempt);
    HK_FUZZ_CHECK(r->deferred ? r->deferrals >= 1 && r->deferrals <= 1000000 : r->deferrals == 0,
                  "deferrals %d", r->deferrals);
    HK_FUZZ_CHECK(r->event_json && strlen(r->event_json) == r->event_len, "event length");
    cJSON *ev = cJSON_ParseWithLength(r->event_json, r->event_len);
    HK_FUZZ_CHECK(cJSON_IsObject(ev), "event is not a JSON object");
    cJSON_Delete(ev);
    cJSON *outcomes = cJSON_Parse(r->outcomes_json);
    HK_FUZZ_CHECK(cJSON_IsArray(outcomes), "outcomes are not a JSON array");
    cJSON_Delete(outcomes);
}

static void check_same(const hk_retry_record *a, const hk_retry_record *b)
{
    HK_FUZZ_CHECK(same(a->group ? a->group : "", b->group ? b->group : ""), "group");
    HK_FUZZ_CHECK(same(a->delivery_id, b->delivery_id), "deliveryId");
    HK_FUZZ_CHECK(same(a->webhook_id, b->webhook_id), "webhookId");
    HK_FUZZ_CHECK(same(a->flow_id, b->flow_id), "flowId");
    HK_FUZZ_CHECK(same(a->job_id, b->job_id), "jobId");
    HK_FUZZ_CHECK(same(a->event_id, b->event_id), "eventId");
    HK_FUZZ_CHECK(a->attempt == b->attempt, "attempt %d %d", a->attempt, b->attempt);
    HK_FUZZ_CHECK(a->due_ms == b->due_ms, "dueAt %llu %llu", (unsigned long long)a->due_ms,
                  (unsigned long long)b->due_ms);
    HK_FUZZ_CHECK(a->first_seen_ms == b->first_seen_ms, "firstSeenAt");
    HK_FUZZ_CHECK(a->deferred == b->deferred && a->deferrals == b->deferrals, "deferred");
    HK_FUZZ_CHECK(a->event_len == b->event_len &&
                      memcmp(a->event_json, b->event_json, a->event_len) == 0,
                  "event");
    HK_FUZZ_CHECK(same(a->outcomes_json, b->outcomes_json), "outcomes");
}

/* The record begins as hk_retry_record_write begins one: {"dueAt":<at most 15 digits>, */
static bool written_head(const uint8_t *data, size_t size)
{
    static const char head[] = "{\"dueAt\":";
    size_t i = sizeof head - 1;
    if (size <= i || memcmp(data, head, i) != 0)
        return false;
    size_t digits = 0;
    for (; i < size && isdigit(data[i]); i++)
        digits++;
    return digits > 0 && digits <= 15 && i < size && data[i] == ',';
}

static void check_replay(const uint8_t *data, size_t size)
{
    hk_dead_letter_filter filter = {0};
    cJSON *dl = (cJSON *)1;
    hk_error err = {0};
    int rc = hk_dead_letter_select(data, size, &filter, &dl, &err);
    if (rc != HK_OK) {
        HK_FUZZ_CHECK(dl == NULL, "*out set on %d", rc);
        HK_FUZZ_CHECK(rc == HK_EINVAL, "an unfiltered listing skipped a record (%d)", rc);
        return;
    }
    hk_buf out = {0};
    if (hk_retry_record_replay(dl, "g1", 1700000000000ULL, &out, &err) == HK_OK) {
        hk_retry_record r;
        HK_FUZZ_CHECK(hk_retry_record_parse(out.data, out.len, &r, &err) == HK_OK,
                      "a replayed dead letter is not a retry record: %s", err.msg);
        check_record(&r);
        HK_FUZZ_CHECK(r.attempt == 1 && r.due_ms == 1700000000000ULL && same(r.group, "g1") &&
                          strcmp(r.outcomes_json, "[]") == 0,
                      "replay does not start over");
        HK_FUZZ_CHECK(hk_retry_record_due(out.data, out.len) == 1700000000000ULL, "replay due");
        hk_retry_record_free(&r);
    } else {
        HK_FUZZ_CHECK(err.msg[0], "replay refused without a message");
    }
    hk_buf_free(&out);
    cJSON_Delete(dl);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The scans must not read past the message, whatever it holds. */
    uint64_t due = hk_retry_record_due(data, size);
    (void)hk_retry_record_for_group(data, size, "hookd");

    hk_retry_record r;
    hk_error err = {0};
    int rc = hk_retry_record_parse(data, size, &r, &err);
    if (rc != HK_OK) {
        HK_FUZZ_CHECK(rc == HK_EINVAL, "rc %d", rc);
        HK_FUZZ_CHECK(err.msg[0], "refusal without a message");
        HK_FUZZ_CHECK(!r.delivery_id && !r.event_json && !r.group, "fields left after a refusal");
        check_replay(data, size);
        return 0;
    }
    check_record(&r);
    if (written_head(data, size))
        HK_FUZZ_CHECK(due == r.due_ms, "head scan %llu, parse %llu", (unsigned long long)due,
                      (unsigned long long)r.due_ms);

    hk_buf out = {0};
    hk_retry_record_write(&out, &r);
    hk_retry_record r2;
    rc = hk_retry_record_parse(out.data, out.len, &r2, &err);
    HK_FUZZ_CHECK(rc == HK_OK, "a record written back is refused: %s\n%s", err.msg, out.data);
    check_same(&r, &r2);
    HK_FUZZ_CHECK(hk_retry_record_due(out.data, out.len) == r.due_ms, "due of the written record");
    const char *group = r.group ? r.group : "";
    HK_FUZZ_CHECK(hk_retry_record_for_group(out.data, out.len, group), "not our group: '%s'",
                  group);
    if (strcmp(group, "other-group") != 0)
        HK_FUZZ_CHECK(!hk_retry_record_for_group(out.data, out.len, "other-group") || !*group,
                      "group '%s' taken for other-group", group);

    hk_retry_record_free(&r2);
    hk_buf_free(&out);
    hk_retry_record_free(&r);
    check_replay(data, size);
    return 0;
}
