/*
 * output.c — the command-line programs' two output forms: aligned text tables and field lists
 * for people (the default), and JSON for scripts (--json). Secrets are masked before anything
 * reaches here.
 */
#include "hk_cmd.h"

#include <stdlib.h>
#include <string.h>

bool hk_cmd_json = false;

#define CELL_MAX 60 /* a longer cell is cut, with "..." (--json has it whole) */

struct hk_table {
    size_t ncols, nrows, cap;
    char **cells; /* row-major, header row first */
    size_t width[16];
};

/* A copy of text fit for one cell: control characters become spaces, and past CELL_MAX
 * characters it is cut with "...". */
static char *cell(const char *text)
{
    hk_buf b = {0};
    size_t n = 0;
    for (const char *p = text ? text : ""; *p; p++) {
        if (n == CELL_MAX - 3 && strlen(p) > 3) {
            hk_buf_puts(&b, "...");
            break;
        }
        unsigned char c = (unsigned char)*p;
        char ch = c < 0x20 || c == 0x7f ? ' ' : (char)c;
        hk_buf_append(&b, &ch, 1);
        if ((c & 0xC0) != 0x80) /* count characters, not UTF-8 continuation bytes */
            n++;
    }
    return hk_buf_take(&b);
}

static size_t display_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

hk_table *hk_table_new(const char *const *headers, size_t ncols)
{
    hk_table *t = hk_xcalloc(1, sizeof *t);
    t->ncols = ncols < 16 ? ncols : 16;
    hk_table_row(t, headers);
    return t;
}

void hk_table_row(hk_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->cells = hk_xrealloc(t->cells, t->cap * t->ncols * sizeof *t->cells);
    }
    for (size_t c = 0; c < t->ncols; c++) {
        char *text = cell(cells[c] ? cells[c] : "-");
        size_t w = display_width(text);
        if (w > t->width[c])
            t->width[c] = w;
        t->cells[t->nrows * t->ncols + c] = text;
    }
    t->nrows++;
}

void hk_table_print(hk_table *t, FILE *out)
{
    for (size_t r = 0; out && r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *text = t->cells[r * t->ncols + c];
            if (c + 1 == t->ncols)
                fprintf(out, "%s\n", text);
            else
                fprintf(out, "%s%*s", text, (int)(t->width[c] - display_width(text) + 2), "");
        }
    }
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

void hk_print_json(const cJSON *json)
{
    char *text = cJSON_Print(json);
    printf("%s\n", text);
    free(text);
}

void hk_print_fields(const cJSON *obj)
{
    size_t w = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) if (strlen(item->string) > w) w = strlen(item->string);
    cJSON_ArrayForEach(item, obj)
    {
        char *text = cJSON_IsString(item) ? NULL : cJSON_PrintUnformatted(item);
        /* Whole values here (bodies, header maps): this is the detail view. */
        printf("%-*s  ", (int)w, item->string);
        for (const char *p = text ? text : item->valuestring; *p; p++) /* one line per field */
            putchar((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
        putchar('\n');
        free(text);
    }
}
