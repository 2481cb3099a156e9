/*
 * fuzz_common.h — what the libFuzzer targets share: splitting one input into NUL-separated
 * fields (so a seed is written with printf '%s\0%s'), and a check that stops the run with a
 * message when an invariant breaks (libFuzzer then saves the input as crash-<sha1>).
 */
#ifndef HK_FUZZ_COMMON_H
#define HK_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HK_FUZZ_MAX_FIELDS 16

/* The input cut at its NUL bytes into at most HK_FUZZ_MAX_FIELDS C strings (the last field takes
 * the rest, NULs and all, as bytes: last_len). Missing fields are "". One allocation; free with
 * hk_fuzz_fields_free. */
typedef struct hk_fuzz_fields {
    char *copy;
    const char *f[HK_FUZZ_MAX_FIELDS];
    size_t len[HK_FUZZ_MAX_FIELDS];
    size_t n; /* fields actually present in the input */
} hk_fuzz_fields;

static inline void hk_fuzz_split(const uint8_t *data, size_t size, size_t want, hk_fuzz_fields *out)
{
    if (want > HK_FUZZ_MAX_FIELDS)
        want = HK_FUZZ_MAX_FIELDS;
    out->copy = malloc(size + 1);
    if (!out->copy)
        abort();
    if (size)
        memcpy(out->copy, data, size);
    out->copy[size] = '\0';
    out->n = 0;
    char *p = out->copy, *end = out->copy + size;
    for (size_t i = 0; i < want; i++) {
        if (p > end) { /* the input ran out: the rest are "" */
            out->f[i] = "";
            out->len[i] = 0;
            continue;
        }
        out->n = i + 1;
        out->f[i] = p;
        char *nul = i == want - 1 ? NULL : memchr(p, '\0', (size_t)(end - p));
        if (!nul)
            nul = end; /* the last field takes the rest, NULs and all */
        out->len[i] = (size_t)(nul - p);
        p = nul + 1;
    }
}

static inline void hk_fuzz_fields_free(hk_fuzz_fields *ff)
{
    free(ff->copy);
    ff->copy = NULL;
}

/* An invariant of the code under test; on failure, says which and aborts (a crash to libFuzzer,
 * which writes the input out). */
#define HK_FUZZ_CHECK(cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A 64-bit number from the first 8 bytes of s (fewer: zero-padded), little-endian. */
static inline uint64_t hk_fuzz_u64(const char *s, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8 && i < len; i++)
        v |= (uint64_t)(unsigned char)s[i] << (8 * i);
    return v;
}

#endif
