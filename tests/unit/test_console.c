/*
 * test_console.c — the console's embedded files found by their request path, and nothing else,
 * with the headers every console response carries (console/hk_console.h).
 */
#include "hk_console.h"

#include <criterion/criterion.h>
#include <string.h>

Test(console, the_prefix_is_the_page_and_each_file_has_its_type)
{
    hk_console_file f;
    cr_assert(hk_console_find("/console/", &f));
    cr_assert_str_eq(f.name, "index.html");
    cr_assert_str_eq(f.type, "text/html; charset=utf-8");
    cr_assert(f.len > 100 &&
              strstr((const char *)f.data, "<script type=\"module\" src=\"console.js\">"));
    cr_assert_eq(f.data[f.len], '\0', "NUL-terminated past its length");
    cr_assert(hk_console_find("/console/index.html", &f));
    cr_assert(hk_console_find("/console/console.js", &f));
    cr_assert_str_eq(f.type, "text/javascript; charset=utf-8");
    cr_assert(hk_console_find("/console/console.css", &f));
    cr_assert_str_eq(f.type, "text/css; charset=utf-8");
}

Test(console, no_other_path_reaches_a_file)
{
    hk_console_file f;
    const char *refused[] = {"/console",
                             "/consolex/index.html",
                             "/console/../index.html",
                             "/console/./console.js",
                             "/console/CONSOLE.JS",
                             "/console/console.js/",
                             "/console//console.js",
                             "/console/console.js%00",
                             "/v1/console/",
                             "/console/nope.js",
                             ""};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cr_assert_not(hk_console_find(refused[i], &f), "%s", refused[i]);
}

Test(console, the_headers_forbid_inline_script_framing_and_sniffing)
{
    const char *value = NULL, *csp = NULL, *name;
    bool nosniff = false, deny = false;
    for (size_t i = 0; (name = hk_console_header(i, &value)); i++) {
        if (strcmp(name, "Content-Security-Policy") == 0)
            csp = value;
        nosniff |= strcmp(name, "X-Content-Type-Options") == 0 && strcmp(value, "nosniff") == 0;
        deny |= strcmp(name, "X-Frame-Options") == 0 && strcmp(value, "DENY") == 0;
    }
    cr_assert(csp && nosniff && deny);
    cr_assert(strstr(csp, "default-src 'none'") && strstr(csp, "script-src 'self'") &&
              strstr(csp, "frame-ancestors 'none'") && !strstr(csp, "unsafe"));
}
