/*
 * fuzz_task.c — the task parser and validator (hk_task_parse) and its serialiser
 * (hk_task_to_json). A task it accepts must satisfy the field checks it is built from; the
 * task written out with its secrets (as stored) must parse again to the very same JSON; written
 * out masked (as displayed), no secret may show more than its last four characters.
 */
#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "hk_model.h"

static void check_task(const hk_task *t)
{
    HK_FUZZ_CHECK(t->id && hk_validate_task_id(t->id, "id", NULL) == HK_OK, "id");
    /* a task is scoped to exactly one flow or one space (issue 16), both ids of one shape */
    HK_FUZZ_CHECK(!t->flow_id != !t->space_id, "flowId xor spaceId");
    HK_FUZZ_CHECK(!t->flow_id || hk_validate_flow_id(t->flow_id, "flowId", NULL) == HK_OK,
                  "flowId");
    HK_FUZZ_CHECK(!t->space_id || hk_validate_flow_id(t->space_id, "spaceId", NULL) == HK_OK,
                  "spaceId");
    HK_FUZZ_CHECK(t->name != NULL, "name");
    HK_FUZZ_CHECK(t->url && hk_validate_url(t->url, "url", NULL) == HK_OK, "url");
    HK_FUZZ_CHECK(t->method >= HK_METHOD_GET && t->method <= HK_METHOD_DELETE, "method");
    for (size_t i = 0; i < t->headers_len; i++)
        HK_FUZZ_CHECK(hk_validate_header(t->headers[i].key, t->headers[i].value, "h", NULL) ==
                          HK_OK,
                      "header %zu", i);
    HK_FUZZ_CHECK(t->body && strlen(t->body) <= HK_TASK_MAX_BODY, "body");
    HK_FUZZ_CHECK(t->trigger_event >= HK_TRIGGER_SUCCESS && t->trigger_event <= HK_TRIGGER_ANY,
                  "trigger.event");
    HK_FUZZ_CHECK(t->trigger_any_object || t->trigger_objects_len > 0, "trigger.objects");
    for (size_t i = 0; i < t->secrets_len; i++)
        HK_FUZZ_CHECK(t->secrets[i] && *t->secrets[i] && strlen(t->secrets[i]) <= 256, "secret %zu",
                      i);
    HK_FUZZ_CHECK(t->signature == HK_SIG_NONE || t->secrets_len > 0, "signature without secret");
    if (t->signature == HK_SIG_STANDARD) {
        unsigned char key[96];
        for (size_t i = 0; i < t->secrets_len; i++)
            HK_FUZZ_CHECK(hk_whsec_decode(t->secrets[i], key) >= 24, "standard secret %zu", i);
    }
    HK_FUZZ_CHECK(!t->signature_header || hk_validate_header(t->signature_header, NULL,
                                                             "signatureHeader", NULL) == HK_OK,
                  "signatureHeader");
    HK_FUZZ_CHECK(t->max_attempts >= 0 && t->max_attempts <= HK_TASK_MAX_ATTEMPTS, "maxAttempts");
    HK_FUZZ_CHECK(t->timeout_ms >= 0 && t->timeout_ms <= HK_TASK_MAX_TIMEOUT_MS, "timeoutMs");
}

static char *to_text(const hk_task *t, hk_secret_mode mode)
{
    cJSON *j = hk_task_to_json(t, mode);
    HK_FUZZ_CHECK(j != NULL, "hk_task_to_json");
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    HK_FUZZ_CHECK(s != NULL, "cJSON_PrintUnformatted");
    return s;
}

/* A masked secret is "****" and at most its last four characters. */
static void check_masked(const char *masked_text, const hk_task *t)
{
    cJSON *j = cJSON_Parse(masked_text);
    HK_FUZZ_CHECK(j != NULL, "masked JSON does not parse");
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(j, "secret");
    const cJSON *many = cJSON_GetObjectItemCaseSensitive(j, "secrets");
    size_t shown = (one ? 1 : 0) + (size_t)cJSON_GetArraySize(many);
    HK_FUZZ_CHECK(shown == t->secrets_len, "%zu secrets shown of %zu", shown, t->secrets_len);
    size_t i = 0;
    const cJSON *s = one ? one : (many ? many->child : NULL);
    for (; s; s = one ? NULL : s->next, i++) {
        HK_FUZZ_CHECK(cJSON_IsString(s), "masked secret %zu not a string", i);
        const char *m = s->valuestring;
        HK_FUZZ_CHECK(strncmp(m, "****", 4) == 0 && strlen(m) <= 8, "secret %zu shown as '%s'", i,
                      m);
        size_t n = strlen(t->secrets[i]);
        HK_FUZZ_CHECK(strlen(m) == 4 || (n >= 12 && strcmp(m + 4, t->secrets[i] + n - 4) == 0),
                      "secret %zu masked wrongly", i);
    }
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_task *t = (hk_task *)1;
    hk_error err = {0};
    /* generate_id from the input's length, so both paths are taken. */
    bool generate_id = size % 2 == 1;
    int rc = hk_task_parse((const char *)data, size, generate_id, &t, &err);
    if (rc != HK_OK) {
        HK_FUZZ_CHECK(rc == HK_EINVAL, "rc %d", rc);
        HK_FUZZ_CHECK(t == NULL, "*out set on error");
        HK_FUZZ_CHECK(err.msg[0] != '\0', "refusal without a message");
        return 0;
    }
    HK_FUZZ_CHECK(t != NULL, "HK_OK without a task");
    check_task(t);

    /* Stored form: parse it again (ids kept), write again: the same text. */
    char *stored = to_text(t, HK_SECRETS_FULL);
    hk_task *t2 = NULL;
    hk_error err2 = {0};
    rc = hk_task_parse(stored, strlen(stored), false, &t2, &err2);
    HK_FUZZ_CHECK(rc == HK_OK, "a task it accepted, written out, is refused: %s", err2.msg);
    check_task(t2);
    char *stored2 = to_text(t2, HK_SECRETS_FULL);
    HK_FUZZ_CHECK(strcmp(stored, stored2) == 0, "round trip changed the task:\n%s\n%s", stored,
                  stored2);

    char *masked = to_text(t, HK_SECRETS_MASKED);
    check_masked(masked, t);

    free(masked);
    free(stored2);
    free(stored);
    hk_task_destroy(t2);
    hk_task_destroy(t);
    return 0;
}
