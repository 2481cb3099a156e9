/*
 * hookctl.h — hookctl's subcommands that live outside hookctl.c. Private to cmd/hookctl/.
 * Each takes the arguments after its own name (argv[0] is the subcommand) and the loaded
 * configuration, and returns the process exit status (0 ok, 1 runtime failure, 2 bad usage or
 * input, with one line on stderr naming the flag). Output and file reading: hk_cmd.h.
 */
#ifndef HK_HOOKCTL_H
#define HK_HOOKCTL_H

#include <stddef.h>

#include "hk_cmd.h"
#include "hk_core.h"
#include "hk_retry.h"

int hk_cmd_listen(int argc, char **argv, const hk_config *cfg);
int hk_cmd_publish(int argc, char **argv, const hk_config *cfg);
int hk_cmd_verify(int argc, char **argv, const hk_config *cfg);
int hk_cmd_dlq(int argc, char **argv, const hk_config *cfg);
int hk_cmd_inbound(int argc, char **argv, const hk_config *cfg); /* inbound.c */

/* ------------------------------------------------------------------- dead-letter replay --- */

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

#endif
