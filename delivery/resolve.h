/*
 * resolve.h — getaddrinfo off the loop thread (internal to delivery). The engine's proxy mode
 * needs a target's addresses before curl talks to the proxy, and curl never resolves a target
 * it hands to a proxy; a blocking getaddrinfo on the loop would stall every delivery behind one
 * slow name server. A few threads resolve; results come back on the loop through an eventfd.
 */
#ifndef HK_RESOLVE_H
#define HK_RESOLVE_H

#include <netdb.h>

#include "hk_core.h"

typedef struct hk_resolver hk_resolver;
typedef struct hk_resolve_job hk_resolve_job;

/* Called on the loop thread with getaddrinfo's return code and list (borrowed: valid for the
 * call only). */
typedef void (*hk_resolve_cb)(int rc, const struct addrinfo *res, void *arg);

/* threads >= 1. loop is borrowed and must outlive the resolver. */
int hk_resolver__create(hk_loop *loop, int threads, hk_resolver **out, hk_error *err);
/* No callback runs after this. Lookups still running finish on their threads and are freed
 * there (the threads are detached: a stuck name server cannot hold up an exit). Accepts NULL. */
void hk_resolver__destroy(hk_resolver *r);
/* Resolves host and a numeric port (copied) for TCP; cb runs later, never from inside. The job
 * is the resolver's; it stays valid until cb has run or it is cancelled. */
hk_resolve_job *hk_resolver__lookup(hk_resolver *r, const char *host, const char *port,
                                    hk_resolve_cb cb, void *arg);
/* cb will not run for job (loop thread only). */
void hk_resolver__cancel(hk_resolver *r, hk_resolve_job *job);

#endif
