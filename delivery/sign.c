/*
 * sign.c — the three signature schemes (contract, "Signatures") and the stable delivery id.
 * All HMAC-SHA256 through OpenSSL's EVP_MAC; hex is lowercase.
 *
 * Signing runs once per delivery on the loop thread. OpenSSL 3's one-shot HMAC() and SHA256()
 * look their algorithm up in the provider tables and allocate a context on every call, which
 * cost more than the hashing itself; here the algorithms are fetched once and each thread keeps
 * one context that it re-keys per message. The message parts are fed separately, never copied
 * into one buffer.
 */
#include "hk_delivery.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static EVP_MAC *hmac_alg;
static EVP_MD *sha256_alg;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_algorithms(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!hmac_alg || !sha256_alg)
        abort(); /* a libcrypto without HMAC-SHA256 cannot sign anything */
}

/* This thread's HMAC-SHA256 context, created on first use. Freed at thread exit. */
static pthread_key_t ctx_key;
static pthread_once_t ctx_key_once = PTHREAD_ONCE_INIT;

static void free_ctx(void *ctx)
{
    EVP_MAC_CTX_free(ctx);
}

static void make_ctx_key(void)
{
    pthread_key_create(&ctx_key, free_ctx);
}

static EVP_MAC_CTX *thread_ctx(void)
{
    pthread_once(&fetch_once, fetch_algorithms);
    pthread_once(&ctx_key_once, make_ctx_key);
    EVP_MAC_CTX *ctx = pthread_getspecific(ctx_key);
    if (ctx)
        return ctx;
    ctx = EVP_MAC_CTX_new(hmac_alg);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!ctx || !EVP_MAC_CTX_set_params(ctx, params))
        abort();
    pthread_setspecific(ctx_key, ctx);
    return ctx;
}

typedef struct part {
    const void *data;
    size_t len;
} part;

/* HMAC-SHA256 of the concatenated parts into mac (32 bytes). */
static void hmac_parts(const void *key, size_t key_len, const part *parts, size_t n,
                       unsigned char mac[32])
{
    EVP_MAC_CTX *ctx = thread_ctx();
    size_t out_len = 0;
    /* An empty key is legal HMAC, but EVP wants a non-NULL pointer for it. */
    EVP_MAC_init(ctx, key_len ? key : (const void *)"", key_len, NULL);
    for (size_t i = 0; i < n; i++)
        EVP_MAC_update(ctx, parts[i].data, parts[i].len);
    EVP_MAC_final(ctx, mac, &out_len, 32);
}

void hk_sign_timestamped(const char *secret, uint64_t t_ms, const char *payload, size_t len,
                         char out[65])
{
    char t[24];
    int tn = snprintf(t, sizeof t, "%llu.", (unsigned long long)t_ms);
    part parts[] = {{t, (size_t)tn}, {payload, len}};
    unsigned char mac[32];
    hmac_parts(secret, strlen(secret), parts, 2, mac);
    hk_hex(mac, sizeof mac, out);
}

void hk_sign_body(const char *secret, const char *payload, size_t len, char out[65])
{
    part parts[] = {{payload, len}};
    unsigned char mac[32];
    hmac_parts(secret, strlen(secret), parts, 1, mac);
    hk_hex(mac, sizeof mac, out);
}

int hk_sign_standard(const char *secret, const char *msg_id, uint64_t t_s, const char *payload,
                     size_t len, char *out, size_t out_size)
{
    unsigned char key[96];
    int key_len = hk_whsec_decode(secret, key);
    if (key_len < 0)
        return HK_EINVAL;
    char t[24];
    int tn = snprintf(t, sizeof t, ".%llu.", (unsigned long long)t_s);
    part parts[] = {{msg_id, strlen(msg_id)}, {t, (size_t)tn}, {payload, len}};
    unsigned char mac[32];
    hmac_parts(key, (size_t)key_len, parts, 3, mac);
    unsigned char b64[48];
    EVP_EncodeBlock(b64, mac, (int)sizeof mac);
    snprintf(out, out_size, "v1,%s", (const char *)b64);
    return HK_OK;
}

void hk_delivery_id(const char *event_id, const char *task_id, char out[32])
{
    pthread_once(&fetch_once, fetch_algorithms);
    unsigned char digest[32];
    unsigned int digest_len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex2(md, sha256_alg, NULL))
        abort();
    EVP_DigestUpdate(md, event_id, strlen(event_id));
    EVP_DigestUpdate(md, "\n", 1);
    EVP_DigestUpdate(md, task_id, strlen(task_id));
    EVP_DigestFinal_ex(md, digest, &digest_len);
    EVP_MD_CTX_free(md);
    char hex[65];
    hk_hex(digest, sizeof digest, hex);
    snprintf(out, 32, "msg_%.26s", hex);
}
