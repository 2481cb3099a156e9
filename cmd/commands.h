/*
 * commands.h — hookctl's subcommands that live outside hookctl.c. Private to cmd/.
 * Each takes the arguments after its own name (argv[0] is the subcommand) and the loaded
 * configuration, and returns the process exit status (0 ok, 1 runtime failure, 2 bad usage or
 * input, with one line on stderr naming the flag).
 */
#ifndef HK_COMMANDS_H
#define HK_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "hk_core.h"

/* ------------------------------------------------------------------------------ output --- */

/* --json, anywhere after the command: JSON on stdout instead of tables and sentences. hookctl's
 * main() takes it out of argv and sets this before dispatching. */
extern bool hk_cmd_json;

/* A text table for people: columns padded to the widest cell; each cell on one line (control
 * characters become spaces) and cut at 60 characters with "...". NULL cells print "-". */
typedef struct hk_table hk_table;
hk_table *hk_table_new(const char *const *headers, size_t ncols); /* at most 16 columns */
void hk_table_row(hk_table *t, const char *const *cells);         /* copies the cells */
void hk_table_print(hk_table *t, FILE *out);                      /* prints and frees */
/* An object's fields as "name  value" lines, nested values as compact JSON. */
void hk_print_fields(const cJSON *obj);
void hk_print_json(const cJSON *json);

int hk_cmd_listen(int argc, char **argv, const hk_config *cfg);
int hk_cmd_publish(int argc, char **argv, const hk_config *cfg);
int hk_cmd_verify(int argc, char **argv, const hk_config *cfg);
int hk_cmd_dlq(int argc, char **argv, const hk_config *cfg);

/* ------------------------------------------------------------------- dead-letter replay --- */

#include "hk_retry.h"

typedef struct hk_dlq_replay_stats {
    size_t replayed; /* put on the first tier and acknowledged by Kafka */
    size_t skipped;  /* selected but not replayable (poison, event kept only as a payload) */
    char topic[64];  /* the first tier's topic */
} hk_dlq_replay_stats;

/* Reads hookd.dlq once from its start and puts every dead letter the filter selects back on
 * the first retry tier (cfg's HOOKD_RETRY_DELAYS), due at once, with its attempts reset and
 * the same delivery id, keyed by it; returns when Kafka has acknowledged every one. Blocking.
 * HK_EINVAL for a bad setting, HK_ERR when Kafka cannot be read or written (err names which);
 * stats counts what was done either way. */
int hk_dlq_replay(const hk_config *cfg, const hk_dead_letter_filter *filter,
                  hk_dlq_replay_stats *stats, hk_error *err);

/* Reads a whole file ("-": standard input) into out. HK_ERR when it cannot be opened. */
int hk_cmd_read_file(const char *path, hk_buf *out);

/* ------------------------------------------------------------------------ test delivery --- */

#define HK_TEST_RESPONSE_MAX 1024

typedef struct hk_test_result {
    bool delivered; /* a 2xx within the timeout */
    long http_status; /* 0: no response */
    uint64_t latency_ms;
    char error[256]; /* "" when delivered */
    char response[HK_TEST_RESPONSE_MAX + 1]; /* the first 1 KiB of the response body */
    size_t response_len;
    bool response_truncated;
    char delivery_id[32];
} hk_test_result;

/* Sends one real, signed delivery of the task now (whether or not it is enabled or its trigger
 * matches), with a sample event of the task's flow: job_id and job_status as given, a fresh
 * event id. Same request building, signing, SSRF guard (HOOKD_ALLOW_NETWORKS) and timeout as
 * the worker. HK_OK when an outcome was had (out says which); HK_EINVAL when the sample event
 * or the request is invalid (err names the field); HK_ERR otherwise. */
int hk_webhook_test(const hk_config *cfg, const hk_task *task, const char *job_id,
                    const char *job_status, hk_test_result *out, hk_error *err);
/* The result as JSON: webhookId, deliveryId, status (delivered|failed), statusCode (null: no
 * response), error (when failed), latencyMs, response, responseTruncated. Caller's. */
cJSON *hk_test_result_json(const char *webhook_id, const hk_test_result *r);

#endif
