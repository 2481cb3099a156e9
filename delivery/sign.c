/*
 * sign.c — the three signature schemes (contract, "Signatures") and the stable delivery id.
 * All HMAC-SHA256 with OpenSSL's one-shot HMAC(); hex is lowercase.
 */
#include "hk_delivery.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

static void hmac_hex(const void *key, size_t key_len, const hk_buf *msg, char out[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg->data, msg->len, mac,
         &mac_len);
    hk_hex(mac, mac_len, out);
}

void hk_sign_timestamped(const char *secret, uint64_t t_ms, const char *payload, size_t len,
                         char out[65])
{
    hk_buf msg = {0};
    hk_buf_printf(&msg, "%llu.", (unsigned long long)t_ms);
    hk_buf_append(&msg, payload, len);
    hmac_hex(secret, strlen(secret), &msg, out);
    hk_buf_free(&msg);
}

void hk_sign_body(const char *secret, const char *payload, size_t len, char out[65])
{
    hk_buf msg = {0};
    hk_buf_append(&msg, payload, len);
    hmac_hex(secret, strlen(secret), &msg, out);
    hk_buf_free(&msg);
}

int hk_sign_standard_secret_valid(const char *secret, hk_error *err)
{
    unsigned char key[96];
    if (hk_whsec_decode(secret, key) < 0)
        return hk_error_set(err, HK_EINVAL, "secret",
                            "a standard signature needs whsec_ followed by base64 of 24 to 64 "
                            "bytes");
    return HK_OK;
}

int hk_sign_standard(const char *secret, const char *msg_id, uint64_t t_s, const char *payload,
                     size_t len, char *out, size_t out_size)
{
    unsigned char key[96];
    int key_len = hk_whsec_decode(secret, key);
    if (key_len < 0)
        return HK_EINVAL;
    hk_buf msg = {0};
    hk_buf_printf(&msg, "%s.%llu.", msg_id, (unsigned long long)t_s);
    hk_buf_append(&msg, payload, len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), key, key_len, (const unsigned char *)msg.data, msg.len, mac, &mac_len);
    hk_buf_free(&msg);
    unsigned char b64[64];
    EVP_EncodeBlock(b64, mac, (int)mac_len);
    snprintf(out, out_size, "v1,%s", (const char *)b64);
    return HK_OK;
}

void hk_delivery_id(const char *event_id, const char *task_id, char out[32])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    hk_buf msg = {0};
    hk_buf_printf(&msg, "%s\n%s", event_id, task_id);
    SHA256((const unsigned char *)msg.data, msg.len, digest);
    hk_buf_free(&msg);
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    hk_hex(digest, sizeof digest, hex);
    snprintf(out, 32, "msg_%.26s", hex);
}
