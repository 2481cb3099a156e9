/*
 * worker.h — the hookd worker: wires consumer, store, delivery, retry and producer on one loop.
 * Private to cmd/hookd/.
 */
#ifndef HK_WORKER_H
#define HK_WORKER_H

#include "hk_core.h"
#include "pipeline_metrics.h" /* the families worker.c counts in */

/* Runs the worker until SIGTERM/SIGINT and a graceful drain. Returns the process exit status:
 * 0 after a clean stop, 1 on a runtime failure, 2 on bad configuration (err is filled). */
int hk_worker_run(const hk_config *cfg, hk_error *err);

#endif
