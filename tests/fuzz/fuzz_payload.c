/*
 * fuzz_payload.c — a received body as JSON by its Content-Type (hk_inbound_payload), fed
 * "<content type>\0<body>" (the body takes the rest, NULs and all). Invariants:
 *   - a refusal is HK_EINVAL with *out NULL and one line "payload: ..." of printable ASCII or
 *     UTF-8, never a crash, an overread or UB (libxml2 included);
 *   - RAW is exactly the kinds with no JSON form, and gives HK_OK with *out NULL;
 *   - an accepted payload prints (cJSON), as UTF-8 text, and parses back to an equal tree;
 *   - per kind: a JSON body cJSON reads too (the strict scan never passes what cJSON cannot
 *     read: that would be HK_ENOMEM); a form is an object of strings or arrays of strings; XML
 *     is an object with one member; multipart is {"fields": object, "files": array}, each
 *     file's base64 decoding (OpenSSL) to `size` bytes whose SHA-256 is `sha256`.
 */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "fuzz_common.h"
#include "hk_inbound.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(const hk_error *err)
{
    HK_FUZZ_CHECK(strncmp(err->msg, "payload: ", 9) == 0, "message '%s'", err->msg);
    size_t n = strlen(err->msg);
    HK_FUZZ_CHECK(hk_utf8_valid(err->msg, n), "message not UTF-8");
    for (size_t i = 0; i < n; i++)
        HK_FUZZ_CHECK((unsigned char)err->msg[i] >= 0x20 && err->msg[i] != 0x7f,
                      "control byte in '%s'", err->msg);
}

static void check_form(const cJSON *out)
{
    HK_FUZZ_CHECK(cJSON_IsObject(out), "form: not an object");
    for (const cJSON *m = out->child; m; m = m->next) {
        if (cJSON_IsArray(m)) {
            HK_FUZZ_CHECK(cJSON_GetArraySize(m) >= 2, "form: an array of fewer than 2");
            for (const cJSON *v = m->child; v; v = v->next)
                HK_FUZZ_CHECK(cJSON_IsString(v), "form: not a string in an array");
        } else {
            HK_FUZZ_CHECK(cJSON_IsString(m), "form: a member neither string nor array");
        }
    }
}

static void check_file(const cJSON *f)
{
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(f, "size");
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(f, "sha256");
    const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(f, "data");
    HK_FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(f, "field")), "file field");
    HK_FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(f, "filename")), "filename");
    HK_FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(f, "contentType")), "type");
    HK_FUZZ_CHECK(cJSON_IsNumber(size) && cJSON_IsString(sha) && cJSON_IsString(b64), "file");
    size_t n = strlen(b64->valuestring);
    HK_FUZZ_CHECK(n % 4 == 0, "base64 length %zu", n);
    unsigned char *raw = malloc(n / 4 * 3 + 1);
    int got = EVP_DecodeBlock(raw, (const unsigned char *)b64->valuestring, (int)n);
    HK_FUZZ_CHECK(got >= 0, "base64 not decodable");
    size_t pad = (n && b64->valuestring[n - 1] == '=') + (n > 1 && b64->valuestring[n - 2] == '=');
    size_t len = (size_t)got - pad; /* EVP_DecodeBlock counts the padding's zero bytes */
    HK_FUZZ_CHECK((double)len == size->valuedouble, "size %g, data %zu", size->valuedouble, len);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    SHA256(raw, len, digest);
    hk_hex(digest, sizeof digest, hex);
    HK_FUZZ_CHECK(strcmp(hex, sha->valuestring) == 0, "sha256 %s, data's %s", sha->valuestring,
                  hex);
    free(raw);
}

static void check_multipart(const cJSON *out)
{
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(out, "fields");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(out, "files");
    HK_FUZZ_CHECK(cJSON_GetArraySize(out) == 2 && cJSON_IsObject(fields) && cJSON_IsArray(files),
                  "multipart shape");
    check_form(fields); /* the same shape: strings, repeats as arrays */
    for (const cJSON *f = files->child; f; f = f->next)
        check_file(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_fuzz_fields ff;
    hk_fuzz_split(data, size, 2, &ff);
    const char *ct = ff.f[0], *body = ff.f[1];
    size_t len = ff.len[1];
    hk_payload_kind kind = hk_inbound_payload_kind(ct);
    cJSON *out = (cJSON *)1;
    hk_error err = {0};
    int rc = hk_inbound_payload(ct, body, len, &out, &err);
    if (kind == HK_PAYLOAD_JSON) { /* the check without a tree says the same, word for word */
        hk_error cerr = {0};
        int crc = hk_inbound_payload_json_check(body, len, &cerr);
        HK_FUZZ_CHECK(crc == rc, "json check %d, payload %d (%s)", crc, rc, cerr.msg);
        HK_FUZZ_CHECK(strcmp(cerr.msg, err.msg) == 0, "json check '%s', payload '%s'", cerr.msg,
                      err.msg);
    }
    if (rc != HK_OK) {
        HK_FUZZ_CHECK(rc == HK_EINVAL, "rc %d (%s)", rc, err.msg);
        HK_FUZZ_CHECK(out == NULL, "*out set on a refusal");
        HK_FUZZ_CHECK(kind != HK_PAYLOAD_RAW, "RAW refused");
        check_refusal(&err);
        hk_fuzz_fields_free(&ff);
        return 0;
    }
    HK_FUZZ_CHECK((out == NULL) == (kind == HK_PAYLOAD_RAW), "RAW and *out disagree");
    if (!out) {
        hk_fuzz_fields_free(&ff);
        return 0;
    }
    char *text = cJSON_PrintUnformatted(out);
    HK_FUZZ_CHECK(text != NULL, "cJSON cannot print the payload");
    HK_FUZZ_CHECK(hk_utf8_valid(text, strlen(text)), "printed payload not UTF-8");
    cJSON *again = cJSON_ParseWithLength(text, strlen(text));
    HK_FUZZ_CHECK(again != NULL, "printed payload does not parse back");
    HK_FUZZ_CHECK(cJSON_Compare(out, again, true), "printed payload parses to another tree");
    cJSON_Delete(again);
    if (kind == HK_PAYLOAD_FORM)
        check_form(out);
    else if (kind == HK_PAYLOAD_XML)
        HK_FUZZ_CHECK(cJSON_IsObject(out) && cJSON_GetArraySize(out) == 1, "XML: one root");
    else if (kind == HK_PAYLOAD_MULTIPART)
        check_multipart(out);
    free(text);
    cJSON_Delete(out);
    hk_fuzz_fields_free(&ff);
    return 0;
}
