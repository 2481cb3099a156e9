/*
 * payload_multipart.c — a multipart/form-data body (RFC 7578 over RFC 2046) as JSON:
 *   {"fields": {"<name>": "<value>" or ["<value>", ...]},
 *    "files":  [{"field", "filename", "contentType", "size", "sha256", "data"}]}
 * A part with a filename parameter (even "") is a file: its bytes as base64 (data), their
 * SHA-256 in lowercase hex, its Content-Type or RFC 7578's default text/plain. Any other part is
 * a field, whose value must be UTF-8 text without NUL. Lines end in CRLF; the preamble before
 * the first boundary and the epilogue after the last are ignored; a "--boundary" inside a
 * line, or not followed by "--" or the end of its line, is content (as Go's reader does).
 * Refused (400), naming the part: no boundary parameter, no first or closing boundary, a part
 * without headers' end, a header line without a name, a part without Content-Disposition:
 * form-data and its name, a name, filename or content type that is not UTF-8, more than
 * HK_PAYLOAD_MAX_PARTS parts. Content-Transfer-Encoding is ignored (RFC 7578 4.7 deprecates it)
 * and so is filename* (4.2: it must not be used).
 */
#include "payload_internal.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PART_HEADERS_MAX 16384 /* bytes of one part's headers */

typedef struct mp_part {
    char *name, *filename, *content_type; /* owned; filename NULL for a field */
    const char *data;                       /* borrowed from the body */
    size_t len;
} mp_part;

static void part_clear(mp_part *p)
{
    free(p->name);
    free(p->filename);
    free(p->content_type);
    *p = (mp_part){0};
}

static int part_error(hk_error *err, size_t n, const char *why)
{
    return hk_error_set(err, HK_EINVAL, "payload", "multipart: part %zu: %s", n, why);
}

static bool utf8_text(const char *s)
{
    return hk_utf8_valid(s, strlen(s));
}

/* One header line "Name: value" of part n; keeps what form-data reads. */
static int part_header(const char *line, size_t len, size_t n, mp_part *p, bool *disposition,
                       hk_error *err)
{
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line)
        return part_error(err, n, "a header line without a name");
    size_t name_len = (size_t)(colon - line);
    for (size_t i = 0; i < name_len; i++)
        if (line[i] <= ' ' || line[i] >= 0x7f)
            return part_error(err, n, "a header line without a name");
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    if (memchr(v, '\n', (size_t)(end - v)) || memchr(v, '\r', (size_t)(end - v)) ||
        memchr(v, '\0', (size_t)(end - v)))
        return part_error(err, n, "a header holds CR, LF or NUL");
    if (name_len == 19 && strncasecmp(line, "Content-Disposition", 19) == 0 && !*disposition) {
        *disposition = true;
        const char *semi = memchr(v, ';', (size_t)(end - v));
        size_t type_len = (size_t)((semi ? semi : end) - v);
        while (type_len && (v[type_len - 1] == ' ' || v[type_len - 1] == '\t'))
            type_len--;
        if (type_len != 9 || strncasecmp(v, "form-data", 9) != 0)
            return part_error(err, n, "Content-Disposition is not form-data");
        if (hk__header_param(v, (size_t)(end - v), "name", &p->name) < 0 ||
            hk__header_param(v, (size_t)(end - v), "filename", &p->filename) < 0)
            return part_error(err, n, "a malformed Content-Disposition");
        if (!p->name)
            return part_error(err, n, "Content-Disposition without a name");
        if (!utf8_text(p->name) || (p->filename && !utf8_text(p->filename)))
            return part_error(err, n, "a name or filename that is not UTF-8");
    } else if (name_len == 12 && strncasecmp(line, "Content-Type", 12) == 0 && !p->content_type) {
        const char *e = end;
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        p->content_type = hk_xmalloc((size_t)(e - v) + 1);
        memcpy(p->content_type, v, (size_t)(e - v));
        p->content_type[e - v] = '\0';
        if (!utf8_text(p->content_type))
            return part_error(err, n, "a Content-Type that is not UTF-8");
    }
    return HK_OK;
}

/* Part n spans s[0..len): headers, an empty line, the content. */
static int part_parse(const char *s, size_t len, size_t n, mp_part *p, hk_error *err)
{
    size_t at = 0;
    bool disposition = false;
    for (;;) {
        const char *crlf = at <= len ? memmem(s + at, len - at, "\r\n", 2) : NULL;
        if (!crlf || (size_t)(crlf - s) > PART_HEADERS_MAX)
            return part_error(err, n, "no empty line after its headers");
        size_t line_len = (size_t)(crlf - s) - at;
        if (line_len == 0) {
            at += 2;
            break;
        }
        int rc = part_header(s + at, line_len, n, p, &disposition, err);
        if (rc != HK_OK)
            return rc;
        at += line_len + 2;
    }
    if (!disposition)
        return part_error(err, n, "no Content-Disposition");
    p->data = s + at;
    p->len = len - at;
    if (!p->filename && !hk_utf8_valid(p->data, p->len))
        return part_error(err, n, "a field's value that is not UTF-8 text (or holds NUL)");
    return HK_OK;
}

/* The end of the delimiter line starting at q (just past "--boundary"): the offset after its
 * CRLF, or the offset just past "--" for the close delimiter (*close set); 0 when q does not
 * end a delimiter line. */
static size_t delimiter_end(const char *body, size_t len, size_t q, bool *close)
{
    *close = false;
    if (q + 2 <= len && body[q] == '-' && body[q + 1] == '-') {
        *close = true;
        return q + 2;
    }
    while (q < len && (body[q] == ' ' || body[q] == '\t'))
        q++; /* transport padding */
    if (q + 2 <= len && body[q] == '\r' && body[q + 1] == '\n')
        return q + 2;
    return 0;
}

static cJSON *file_json(const mp_part *p)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    SHA256((const unsigned char *)p->data, p->len, digest);
    hk_hex(digest, sizeof digest, hex);
    char *b64 = malloc(4 * ((p->len + 2) / 3) + 1);
    if (!b64)
        return NULL;
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)p->data, (int)p->len);
    cJSON *f = cJSON_CreateObject();
    if (f && (!cJSON_AddStringToObject(f, "field", p->name) ||
              !cJSON_AddStringToObject(f, "filename", p->filename) ||
              !cJSON_AddStringToObject(f, "contentType",
                                       p->content_type ? p->content_type : "text/plain") ||
              !cJSON_AddNumberToObject(f, "size", (double)p->len) ||
              !cJSON_AddStringToObject(f, "sha256", hex) ||
              !cJSON_AddStringToObject(f, "data", b64))) {
        cJSON_Delete(f);
        f = NULL;
    }
    free(b64);
    return f;
}

/* Adds part p to the fields (grouped) or the files. */
static int part_add(const mp_part *p, hk__group *fields, cJSON *files)
{
    if (!p->filename) {
        char *value = hk_xmalloc(p->len + 1);
        memcpy(value, p->data, p->len);
        value[p->len] = '\0';
        cJSON *v = cJSON_CreateString(value);
        free(value);
        return hk__group_add(fields, p->name, v);
    }
    cJSON *f = file_json(p);
    if (!f || !cJSON_AddItemToArray(files, f)) {
        cJSON_Delete(f);
        return HK_ENOMEM;
    }
    return HK_OK;
}

/* Walks the parts of body, adding each; HK_OK at the close delimiter. */
static int parse_parts(const char *body, size_t len, const char *delim, hk__group *fields,
                       cJSON *files, hk_error *err)
{
    size_t dlen = strlen(delim), at = 0, next = 0; /* delim is "\r\n--boundary" */
    bool close = false;
    /* The first delimiter may open the body (no CRLF before it). */
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0)
        next = delimiter_end(body, len, dlen - 2, &close);
    for (at = 0; !next;) {
        const char *d = at < len ? memmem(body + at, len - at, delim, dlen) : NULL;
        if (!d)
            return hk_error_set(err, HK_EINVAL, "payload", "multipart: no boundary line found");
        at = (size_t)(d - body) + dlen;
        next = delimiter_end(body, len, at, &close);
    }
    for (size_t n = 1; !close; n++) {
        if (n > HK_PAYLOAD_MAX_PARTS)
            return hk_error_set(err, HK_EINVAL, "payload", "multipart: more than %d parts",
                                HK_PAYLOAD_MAX_PARTS);
        size_t start = next, end = next;
        for (at = start, next = 0; !next;) {
            const char *d = at < len ? memmem(body + at, len - at, delim, dlen) : NULL;
            if (!d)
                return part_error(err, n, "no boundary after it (the closing one is missing)");
            end = (size_t)(d - body);
            at = end + dlen;
            next = delimiter_end(body, len, at, &close);
        }
        mp_part p = {0};
        int rc = part_parse(body + start, end - start, n, &p, err);
        if (rc == HK_OK && (rc = part_add(&p, fields, files)) != HK_OK)
            hk_error_set(err, rc, "payload", "multipart: out of memory");
        part_clear(&p);
        if (rc != HK_OK)
            return rc;
    }
    return HK_OK;
}

int hk__payload_multipart(const char *content_type, const char *body, size_t len, cJSON **out,
                          hk_error *err)
{
    *out = NULL;
    char *boundary = NULL;
    int found = hk__header_param(content_type, strlen(content_type), "boundary", &boundary);
    size_t blen = boundary ? strlen(boundary) : 0;
    if (found <= 0 || blen == 0 || blen > 70 || memchr(boundary, '\r', blen) ||
        memchr(boundary, '\n', blen)) {
        free(boundary);
        return hk_error_set(err, HK_EINVAL, "payload",
                            "multipart: the Content-Type has no valid boundary (1 to 70 "
                            "characters, RFC 2046)");
    }
    char delim[80];
    snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    free(boundary);
    hk__group fields = {0};
    cJSON *obj = cJSON_CreateObject(), *fobj = cJSON_CreateObject(), *files = cJSON_CreateArray();
    int rc = obj && fobj && files ? HK_OK : HK_ENOMEM;
    if (rc == HK_OK)
        rc = parse_parts(body ? body : "", len, delim, &fields, files, err);
    if (rc == HK_OK && hk__group_finish(&fields, fobj) != HK_OK)
        rc = HK_ENOMEM;
    hk__group_free(&fields);
    if (rc == HK_OK && cJSON_AddItemToObject(obj, "fields", fobj)) {
        fobj = NULL;
        if (cJSON_AddItemToObject(obj, "files", files)) {
            *out = obj;
            return HK_OK;
        }
    }
    cJSON_Delete(obj);
    cJSON_Delete(fobj);
    cJSON_Delete(files);
    if (rc == HK_OK || rc == HK_ENOMEM)
        return hk_error_set(err, HK_ENOMEM, "payload", "multipart: out of memory");
    return rc;
}
