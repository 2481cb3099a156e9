/*
 * json.c — the check on JSON text that cJSON cannot make for us. cJSON keeps a NUL in a string
 * (a raw 0x00 byte or a \u0000 escape) inside the decoded bytes, and every C string read from
 * the tree then ends there without a sign: "POST\u0000x" reads as "POST", a header value as its
 * first half. So the text is scanned before it is parsed, and a NUL anywhere refuses it, naming
 * the JSON path where it sits.
 */
#include "hk_model.h"

#include <stdio.h>
#include <string.h>

#define PATH_DEPTH 16 /* deeper than any task or event; a deeper path is cut short with "..." */

typedef struct frame {
    bool array;
    size_t index;    /* array: the element being read */
    const char *key; /* object: the raw text of the member's key (between its quotes) */
    size_t key_len;
} frame;

static size_t skip_space(const char *t, size_t len, size_t i)
{
    while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
        i++;
    return i;
}

/* The end of the string whose text starts at i (the index of its closing quote, or len). */
static size_t string_end(const char *t, size_t len, size_t i)
{
    while (i < len && t[i] != '"')
        i += t[i] == '\\' ? 2 : 1;
    return i < len ? i : len;
}

/* Appends a key as printable text: control bytes (a raw NUL among them) become '?'. */
static void put_key(char *out, size_t size, size_t *at, const char *key, size_t len)
{
    if (len > 48)
        len = 48;
    for (size_t i = 0; i < len && *at + 1 < size; i++) {
        unsigned char c = (unsigned char)key[i];
        out[(*at)++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[*at] = '\0';
}

static void path_text(const frame *stack, size_t depth, const char *key, size_t key_len, char *out,
                      size_t size)
{
    size_t at = 0;
    out[0] = '\0';
    size_t shown = depth < PATH_DEPTH ? depth : PATH_DEPTH;
    for (size_t d = 0; d < shown && at + 1 < size; d++) {
        if (stack[d].array) {
            at += (size_t)snprintf(out + at, size - at, "[%zu]", stack[d].index);
        } else if (stack[d].key) {
            if (at && at + 1 < size)
                out[at++] = '.';
            put_key(out, size, &at, stack[d].key, stack[d].key_len);
        }
        if (at >= size)
            at = size - 1;
    }
    if (key) {
        if (at && at + 1 < size)
            out[at++] = '.';
        put_key(out, size, &at, key, key_len);
    }
    if (depth > PATH_DEPTH && at + 4 < size)
        snprintf(out + at, size - at, "...");
}

int hk_json_refuse_nul(const char *text, size_t len, const char *what, hk_error *err)
{
    frame stack[PATH_DEPTH];
    size_t depth = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\0') { /* outside any string: still a NUL the parser may skip over */
            char path[128];
            path_text(stack, depth, NULL, 0, path, sizeof path);
            return hk_error_set(err, HK_EINVAL, path[0] ? path : what, "contains a NUL byte");
        }
        if (c == '{' || c == '[') {
            if (depth < PATH_DEPTH)
                stack[depth] = (frame){.array = c == '['};
            depth++;
        } else if ((c == '}' || c == ']') && depth) {
            depth--;
        } else if (c == ',' && depth && depth <= PATH_DEPTH) {
            if (stack[depth - 1].array)
                stack[depth - 1].index++;
            else
                stack[depth - 1].key = NULL;
        } else if (c == '"') {
            size_t start = i + 1, end = string_end(text, len, start);
            for (size_t k = start; k < end; k++) {
                if (text[k] == '\0' ||
                    (text[k] == '\\' && end - k >= 6 && memcmp(text + k + 1, "u0000", 5) == 0)) {
                    /* In a key, the path is the key itself; in a value, where the value sits. */
                    size_t after = skip_space(text, len, end + 1);
                    bool is_key = after < len && text[after] == ':';
                    char path[128];
                    path_text(stack, depth, is_key ? text + start : NULL, end - start, path,
                              sizeof path);
                    return hk_error_set(err, HK_EINVAL, path[0] ? path : what,
                                        "contains a NUL character (\\u0000)");
                }
                if (text[k] == '\\')
                    k++;
            }
            size_t after = skip_space(text, len, end + 1);
            if (after < len && text[after] == ':' && depth && depth <= PATH_DEPTH &&
                !stack[depth - 1].array) {
                stack[depth - 1].key = text + start;
                stack[depth - 1].key_len = end - start;
            }
            i = end;
        }
    }
    return HK_OK;
}

cJSON *hk_json_parse_whole(const char *text, size_t len, size_t *at)
{
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(text, len, &end, false);
    size_t stop = end && end >= text ? (size_t)(end - text) : 0;
    if (json)
        stop = skip_space(text, len, stop);
    if (json && stop == len)
        return json;
    cJSON_Delete(json);
    if (at)
        *at = stop;
    return NULL;
}
