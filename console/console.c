/*
 * console.c — finds an embedded console file by its request path, and the headers it is served
 * with (hk_console.h).
 */
#include "hk_console.h"

#include "files.h"

#include <string.h>

static const char *const headers[][2] = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cache-Control", "no-cache"},
};

static const char *type_of(const char *name)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i][0]) == 0)
            return types[i][1];
    return "application/octet-stream";
}

bool hk_console_find(const char *path, hk_console_file *out)
{
    size_t n = strlen(HK_CONSOLE_PREFIX);
    if (strncmp(path, HK_CONSOLE_PREFIX, n) != 0)
        return false;
    const char *name = path[n] ? path + n : "index.html";
    for (const struct hk_console__file *f = hk_console__files; f->name; f++)
        if (strcmp(f->name, name) == 0) {
            *out = (hk_console_file){
                .name = f->name, .data = f->data, .len = f->len, .type = type_of(f->name)};
            return true;
        }
    return false;
}

const char *hk_console_header(size_t i, const char **value)
{
    if (i >= sizeof headers / sizeof headers[0])
        return NULL;
    *value = headers[i][1];
    return headers[i][0];
}
