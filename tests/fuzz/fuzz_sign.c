/*
 * fuzz_sign.c — the three signature schemes and the Standard Webhooks secret.
 * Input: NUL-separated fields
 *   secret \0 msg_id \0 timestamp (first 8 bytes, little-endian) \0 out size (first byte)
 *   \0 payload (the rest, NULs and all)
 * Each scheme is checked against OpenSSL's one-shot HMAC() over the message built by hand;
 * hk_whsec_decode and hk_sign_standard must agree on the secret, a decoded key re-encoded must
 * decode to the same key, and hk_sign_standard must respect its output size.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz_common.h"
#include "hk_delivery.h"

enum { F_SECRET, F_MSG_ID, F_TIME, F_OUT_SIZE, F_PAYLOAD, F_COUNT };

static void oracle_hmac(const void *key, size_t key_len, const hk_buf *msg, unsigned char mac[32])
{
    unsigned int len = 0;
    HK_FUZZ_CHECK(HMAC(EVP_sha256(), key_len ? key : "", (int)key_len,
                       (const unsigned char *)(msg->data ? msg->data : ""), msg->len, mac,
                       &len) != NULL &&
                      len == 32,
                  "HMAC()");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_fuzz_fields ff;
    hk_fuzz_split(data, size, F_COUNT, &ff);
    const char *secret = ff.f[F_SECRET], *msg_id = ff.f[F_MSG_ID];
    const char *payload = ff.f[F_PAYLOAD];
    size_t payload_len = ff.len[F_PAYLOAD];
    uint64_t t = hk_fuzz_u64(ff.f[F_TIME], ff.len[F_TIME]);

    /* Timestamped: HMAC(secret, "<t>.<payload>"). */
    char got[65], want[65];
    unsigned char mac[32];
    hk_buf msg = {0};
    hk_buf_printf(&msg, "%llu.", (unsigned long long)t);
    hk_buf_append(&msg, payload, payload_len);
    hk_sign_timestamped(secret, t, payload, payload_len, got);
    oracle_hmac(secret, strlen(secret), &msg, mac);
    hk_hex(mac, 32, want);
    HK_FUZZ_CHECK(strcmp(got, want) == 0, "timestamped signature");

    /* Body: HMAC(secret, payload). */
    msg.len = 0;
    hk_buf_append(&msg, payload, payload_len);
    hk_sign_body(secret, payload, payload_len, got);
    oracle_hmac(secret, strlen(secret), &msg, mac);
    hk_hex(mac, 32, want);
    HK_FUZZ_CHECK(strcmp(got, want) == 0, "body signature");

    /* Standard: the secret's form first. */
    unsigned char key[96];
    int key_len = hk_whsec_decode(secret, key);
    HK_FUZZ_CHECK(key_len == -1 || (key_len >= 24 && key_len <= 64), "key length %d", key_len);

    size_t out_size = 1 + (ff.len[F_OUT_SIZE] ? (unsigned char)ff.f[F_OUT_SIZE][0] % 80 : 79);
    char *out = malloc(out_size); /* exactly out_size: ASan sees any write past it */
    HK_FUZZ_CHECK(out != NULL, "malloc");
    uint64_t t_s = t / 1000;
    int rc = hk_sign_standard(secret, msg_id, t_s, payload, payload_len, out, out_size);
    if (key_len < 0) {
        HK_FUZZ_CHECK(rc == HK_EINVAL, "a bad secret signed");
    } else {
        HK_FUZZ_CHECK(rc == HK_OK, "a good secret refused");
        /* The key re-encoded decodes to the same key. */
        unsigned char b64[136], key2[96];
        EVP_EncodeBlock(b64, key, key_len);
        char again[160];
        snprintf(again, sizeof again, "whsec_%s", (const char *)b64);
        HK_FUZZ_CHECK(hk_whsec_decode(again, key2) == key_len &&
                          memcmp(key, key2, (size_t)key_len) == 0,
                      "re-encoded key decodes differently");

        msg.len = 0;
        hk_buf_printf(&msg, "%s.%llu.", msg_id, (unsigned long long)t_s);
        hk_buf_append(&msg, payload, payload_len);
        oracle_hmac(key, (size_t)key_len, &msg, mac);
        unsigned char sig64[48];
        EVP_EncodeBlock(sig64, mac, 32);
        char full[64];
        snprintf(full, sizeof full, "v1,%s", (const char *)sig64);
        HK_FUZZ_CHECK(strlen(out) < out_size && strncmp(out, full, out_size - 1) == 0,
                      "standard signature: %s, want %s", out, full);
    }

    free(out);
    hk_buf_free(&msg);
    hk_fuzz_fields_free(&ff);
    return 0;
}
