/*
 * hookctl.h — hookctl's subcommands that live outside hookctl.c. Private to cmd/hookctl/.
 * Each takes the arguments after its own name (argv[0] is the subcommand) and the loaded
 * configuration, and returns the process exit status (0 ok, 1 runtime failure, 2 bad usage or
 * input, with one line on stderr naming the flag). Output and file reading: hk_cmd.h.
 */
#ifndef HK_HOOKCTL_H
#define HK_HOOKCTL_H

#include <stddef.h>
#include <stdio.h>

#include "hk_cmd.h"
#include "hk_core.h"
#include "hk_retry.h"

int hk_cmd_listen(int argc, char **argv, const hk_config *cfg);
int hk_cmd_publish(int argc, char **argv, const hk_config *cfg);
int hk_cmd_verify(int argc, char **argv, const hk_config *cfg);
int hk_cmd_dlq(int argc, char **argv, const hk_config *cfg);
int hk_cmd_inbound(int argc, char **argv, const hk_config *cfg);    /* inbound.c */
int hk_cmd_deliveries(int argc, char **argv, const hk_config *cfg); /* deliveries.c */

/* ------------------------------------------- what the verbs' files share (hookctl.c) --- */

/* Prints "hookctl: <msg>" (one line) on stderr and returns status. */
int hk_ctl_fail(int status, const char *msg);
/* The exit status for a failed call's code: 2 for invalid input or a limit, else 1. */
int hk_ctl_status(int rc);
/* Opens the store from cfg: 0, or the exit status after printing why. */
int hk_ctl_open_store(const hk_config *cfg, hk_store **store);
/* `hookctl <command> <verb>`'s verb: with none, the command's usage on stderr and 2; with
 * --help, on stdout and 0; a verb not in `verbs` (space-separated), a one-line error and 2.
 * -1 when argv[1] is one of them. */
int hk_ctl_verb(int argc, char **argv, const char *command, const char *verbs,
                void (*usage)(FILE *out));
/* One record (json, taken and freed) as JSON with --json, else as a field list after the
 * headline (may be NULL) and a blank line. */
void hk_ctl_print_one(cJSON *json, const char *headline);
/* The cases every verb's flag loop ends with, for c from hk_cmd_next: the one positional
 * argument (kept in *id), a flag missing its value, an unknown flag (pointing at `help`, e.g.
 * "hookctl webhooks --help"). -1 when c was the id, else 2 after a one-line error. */
int hk_ctl_other_flag(const hk_cmd_args *args, int c, const char **id, const char *help);
/* A test delivery's or a resend's result: JSON with --json, else a few lines. */
void hk_ctl_print_test(const char *webhook_id, const hk_test_result *r);
/* "deleted <id>", or {"deleted": "<id>"} with --json. id is [A-Za-z0-9_-] (validated). */
void hk_ctl_print_deleted(const char *id);

/* ------------------------------------------- through the admin API (apiclient.c) --- */

/* A string member of a JSON object, or "" when absent or not a string (borrowed from json). */
const char *hk_ctl_str(const cJSON *json, const char *name);

/* True when --api-url (HOOKD_API_URL) is given: the verbs with an admin API route go through it
 * and touch neither Redis nor Kafka. */
bool hk_ctl_api_on(const hk_config *cfg);
/* For a verb with no API route under --api-url: a one-line error naming it; returns 2. */
int hk_ctl_api_none(const char *verb);
/* One call: path (from "/v1/", its segments escaped) and body (borrowed; NULL: none). 0 on a 2xx
 * with *out the answer (NULL for 204; caller's); else the exit status after one line on stderr:
 * the API's "<code>: <message>" (2 for 400, 409, 413; else 1), or why it could not be reached. */
int hk_ctl_api(const hk_config *cfg, const char *method, const char *path, const cJSON *body,
               cJSON **out);
/* Every page of a list (GET path, ?limit=250 and each ?iterator=): *items every item in order,
 * *first the first page (its context fields: maxWebhooks, ...). Both caller's; 0 or as
 * hk_ctl_api. */
int hk_ctl_api_list(const hk_config *cfg, const char *path, cJSON **items, cJSON **first);
/* The HTTP status of the last hk_ctl_api call (201 or 200: created or replaced). */
long hk_ctl_api_last_status(void);
/* segment percent-encoded for a path (caller frees). */
char *hk_ctl_api_escape(const char *segment);
/* A test's or resend's answer back into the form hk_ctl_print_test prints. */
void hk_ctl_api_test_result(const cJSON *json, hk_test_result *r);

#endif
