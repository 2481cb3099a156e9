/*
 * waits.c — one loop's copy of the endpoints' wait shapes (the sets of JSON paths their waits
 * test), so that a request is digested once per shape before the claim, never per wait. The
 * copy is a cache with a version: the claim script (store/) runs only while the endpoint's
 * shapes are at the version the lookups were made from, and otherwise answers with the shapes
 * as they are, which replace the copy here. A copy may hold a shape no wait has any more (a
 * lookup that finds nothing); it never lacks one at its version.
 */
#include "ingress.h"

#include <stdlib.h>
#include <string.h>

#define BUCKETS 256u
#define ENTRIES_MAX 20000u /* endpoints remembered; past it, the copy starts again */

typedef struct entry {
    struct entry *next;
    char *endpoint_id;
    ing_shape_set set;
} entry;

struct ing_shapes {
    entry *bucket[BUCKETS];
    size_t n;
};

ing_shapes *ing_shapes_create(void)
{
    return hk_xcalloc(1, sizeof(ing_shapes));
}

static void set_clear(ing_shape_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        hk_inbound_shape_free(&set->shapes[i]);
    free(set->shapes);
    *set = (ing_shape_set){.version = -1};
}

static void clear_all(ing_shapes *c)
{
    for (size_t b = 0; b < BUCKETS; b++) {
        for (entry *e = c->bucket[b], *next; e; e = next) {
            next = e->next;
            set_clear(&e->set);
            free(e->endpoint_id);
            free(e);
        }
        c->bucket[b] = NULL;
    }
    c->n = 0;
}

void ing_shapes_destroy(ing_shapes *c)
{
    if (!c)
        return;
    clear_all(c);
    free(c);
}

static unsigned bucket_of(const char *id)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % BUCKETS;
}

static entry *find(const ing_shapes *c, const char *endpoint_id)
{
    for (entry *e = c->bucket[bucket_of(endpoint_id)]; e; e = e->next)
        if (strcmp(e->endpoint_id, endpoint_id) == 0)
            return e;
    return NULL;
}

const ing_shape_set *ing_shapes_get(const ing_shapes *c, const char *endpoint_id)
{
    const entry *e = find(c, endpoint_id);
    return e ? &e->set : NULL;
}

void ing_shapes_put(ing_shapes *c, const char *endpoint_id, long long version,
                    const char *const *ids, const char *const *jsons, size_t n)
{
    entry *e = find(c, endpoint_id);
    if (!e) {
        if (c->n >= ENTRIES_MAX)
            clear_all(c);
        e = hk_xcalloc(1, sizeof *e);
        e->endpoint_id = hk_strdup(endpoint_id);
        unsigned b = bucket_of(endpoint_id);
        e->next = c->bucket[b];
        c->bucket[b] = e;
        c->n++;
    }
    set_clear(&e->set);
    e->set.shapes = hk_xcalloc(n + 1, sizeof *e->set.shapes);
    for (size_t i = 0; i < n; i++) {
        hk_error err = {0};
        hk_inbound_shape *s = &e->set.shapes[e->set.n];
        if (hk_inbound_shape_parse(ids[i], jsons[i], s, &err) != HK_OK) {
            /* Written by hand, or by another version: its waits cannot be matched here. */
            hk_log_field f[] = {HK_STR("endpointId", endpoint_id)};
            HK_LOGF(HK_LOG_WARN, "waits.shape.unreadable", f,
                    "a stored wait shape cannot be read; its waits are not matched: %s", err.msg);
            continue;
        }
        e->set.paths += s->n;
        e->set.n++;
    }
    e->set.version = version;
}

void ing_shapes_set_version(ing_shapes *c, const char *endpoint_id, long long version)
{
    entry *e = find(c, endpoint_id);
    if (e)
        e->set.version = version;
}

size_t ing_shapes_lookups(const ing_shape_set *set, const cJSON *payload, const char *json,
                          size_t json_len, char out[][ING_LOOKUP_LEN])
{
    size_t n = 0;
    for (size_t i = 0; i < set->n && n < HK_STORE_ACCEPT_LOOKUPS_MAX; i++) {
        char digest[HK_WAIT_HASH_LEN + 1];
        const hk_inbound_shape *s = &set->shapes[i];
        if (json ? hk_inbound_shape_digest_text(s, json, json_len, digest)
                 : hk_inbound_shape_digest(s, payload, digest))
            snprintf(out[n++], ING_LOOKUP_LEN, "%s:%s", s->id, digest);
    }
    return n;
}
