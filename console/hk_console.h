/*
 * hk_console.h — the web console's page files, embedded at build time from console/web/, and the
 * headers they are served with. The console is a page of plain HTML, CSS and JavaScript that
 * calls the admin API (/v1) with the API token; hookd serves it under /console/ on the listener
 * that serves the API, only when the API is on (docs/console.md).
 *
 * No dependency: the module is data and a lookup. The HTTP server (cmd/hookd/http.c) decides
 * nothing about the page: it asks this module which file a path is and adds these headers.
 */
#ifndef HK_CONSOLE_H
#define HK_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

/* The path the console lives under; a request for the prefix without its slash is redirected. */
#define HK_CONSOLE_PREFIX "/console/"

typedef struct hk_console_file {
    const char *name;          /* the file's name in console/web/ */
    const unsigned char *data; /* its bytes, NUL-terminated for convenience (len excludes it) */
    size_t len;
    const char *type; /* its Content-Type */
} hk_console_file;

/* The file a request path names: path starts with HK_CONSOLE_PREFIX; the prefix alone is
 * index.html. False for any other name (there are no folders, so no "..", query or encoding can
 * reach anything but a page file: names are matched whole against the embedded list). */
bool hk_console_find(const char *path, hk_console_file *out);

/* The headers every console response carries, as name/value pairs: a strict
 * Content-Security-Policy (scripts and styles from the page's own files only, no inline script,
 * connections to the same origin only, no framing), nosniff, no referrer, and no caching of a
 * page that a new hookd version replaces. i from 0; NULL past the last. */
const char *hk_console_header(size_t i, const char **value);

#endif
