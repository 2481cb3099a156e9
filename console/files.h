/* files.h — the embedded files' table, written by embed.cmake. Private to console/. */
#ifndef HK_CONSOLE_FILES_H
#define HK_CONSOLE_FILES_H

#include <stddef.h>

struct hk_console__file {
    const char *name;
    const unsigned char *data;
    size_t len;
};

/* Ends with a NULL name. */
extern const struct hk_console__file hk_console__files[];

#endif
