/*
 * verify_internal.h — what the verification files (verify*.c) share, internal to inbound/:
 * the verdict's setters, HMAC over message parts, strict hex and base64 decoding, constant-time
 * comparison and the timestamp window. Nothing here is public API.
 */
#ifndef HK_INBOUND_VERIFY_INTERNAL_H
#define HK_INBOUND_VERIFY_INTERNAL_H

#include "hk_inbound.h"

typedef struct hk_vpart {
    const void *data;
    size_t len;
} hk_vpart;

#define HK_VMAC_MAX 64 /* SHA-512 */

/* The verdict's outcomes. reject's detail is for the log: never put a secret in it. */
void hk__verdict_accept(hk_inbound_verdict *v);
void hk__verdict_reject(hk_inbound_verdict *v, hk_inbound_reject reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hk__verdict_challenge(hk_inbound_verdict *v, const char *content_type, const char *body,
                           size_t len);
/* Sets the provider's event id when it is 1..127 printable ASCII bytes (else leaves it ""). */
void hk__verdict_event_id(hk_inbound_verdict *v, const char *id, size_t len);
/* The event id from a JSON body's string at key (one level) or parent.key (two levels). */
void hk__verdict_event_id_json(hk_inbound_verdict *v, const char *body, size_t len,
                               const char *parent, const char *key);

/* HMAC of the concatenated parts; the MAC's length (20, 32, 64). */
size_t hk__hmac(hk_hmac_algorithm alg, const void *key, size_t key_len, const hk_vpart *parts,
                size_t n, unsigned char mac[HK_VMAC_MAX]);
/* Strict decoders: the whole input or nothing (-1). hex: either case, even length; base64: the
 * standard alphabet, padding optional. At most cap bytes. */
long hk__hex_decode(const char *s, size_t n, unsigned char *out, size_t cap);
long hk__base64_decode(const char *s, size_t n, unsigned char *out, size_t cap);
/* Constant-time equality of two byte strings of any lengths (their SHA-256 digests compared
 * with CRYPTO_memcmp, then the lengths). */
bool hk__ct_equal(const void *a, size_t a_len, const void *b, size_t b_len);
/* True when some secret of ep signs parts to exactly sig (each compared in constant time, all
 * of them). */
bool hk__any_secret_matches(const hk_inbound_endpoint *ep, hk_hmac_algorithm alg,
                            const hk_vpart *parts, size_t n, const unsigned char *sig,
                            size_t sig_len);
/* Digits only, 1..max_digits of them, into *out. */
bool hk__parse_digits(const char *s, size_t n, size_t max_digits, uint64_t *out);
/* True when t_ms is within tolerance_s of now_ms, either way. */
bool hk__within(uint64_t now_ms, uint64_t t_ms, long tolerance_s);
/* Trims spaces and tabs from both ends of [*s, *s + *n). */
void hk__trim(const char **s, size_t *n);

/* The presets (verify_presets.c, verify_keyed.c) and custom (verify_custom.c). Each fills v. */
void hk__verify_github(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                       hk_inbound_verdict *v);
void hk__verify_stripe(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                       hk_inbound_verdict *v);
void hk__verify_slack(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                      hk_inbound_verdict *v);
void hk__verify_pagerduty(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                          hk_inbound_verdict *v);
void hk__verify_zendesk(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                        hk_inbound_verdict *v);
void hk__verify_twitter(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                        hk_inbound_verdict *v);
void hk__verify_facebook(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                         hk_inbound_verdict *v);
void hk__verify_standard(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                         hk_inbound_verdict *v);
void hk__verify_hookd(const hk_inbound_endpoint *ep, const hk_inbound_request *req, const char *url,
                      hk_inbound_verdict *v);
void hk__verify_twilio(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                       const char *url, hk_inbound_verdict *v);
void hk__verify_sendgrid(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                         hk_inbound_verdict *v);
void hk__verify_custom(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                       hk_inbound_verdict *v);

/* Twilio's string to sign: url then, for a form body, each parameter name+value sorted (by
 * name, then value; duplicates once), as RequestValidator.compute_signature. Caller frees. */
char *hk__twilio_string_to_sign(const char *url, const char *form, size_t form_len);
/* Twilio's bodySHA256: the lowercase hex SHA-256 of the body. */
void hk__sha256_hex(const void *data, size_t len, char out[65]);

#endif
