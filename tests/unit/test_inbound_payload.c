/* inbound/: a request's payload as JSON by its content type (payload*.c): strict JSON, forms,
 * XML by the documented convention with external entities and DTDs refused, multipart with
 * files, raw. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "hk_inbound.h"

/* The JSON form printed (caller frees), or NULL with err filled. RAW gives "RAW". */
static char *payload_text(const char *content_type, const char *body, size_t len, hk_error *err)
{
    cJSON *out = (cJSON *)1;
    int rc = hk_inbound_payload(content_type, body, len, &out, err);
    if (rc != HK_OK) {
        cr_assert_eq(rc, HK_EINVAL, "rc %d (%s)", rc, err->msg);
        cr_assert_null(out, "*out is NULL on a refusal");
        cr_assert(strchr(err->msg, '\n') == NULL, "one line: %s", err->msg);
        return NULL;
    }
    if (!out)
        return strdup("RAW");
    char *s = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    return s;
}

static void expect_json(const char *ct, const char *body, const char *want)
{
    hk_error err = {0};
    char *got = payload_text(ct, body, strlen(body), &err);
    cr_assert_not_null(got, "%s: refused: %s", body, err.msg);
    cr_assert_str_eq(got, want, "%s", body);
    free(got);
}

static void expect_refused(const char *ct, const char *body, size_t len, const char *want_msg)
{
    hk_error err = {0};
    char *got = payload_text(ct, body, len, &err);
    cr_assert_null(got, "accepted: %s", got ? got : "");
    cr_assert(strstr(err.msg, want_msg), "message '%s' lacks '%s'", err.msg, want_msg);
}

Test(payload, kind_by_media_type_case_insensitive_parameters_ignored)
{
    cr_assert_eq(hk_inbound_payload_kind("application/json"), HK_PAYLOAD_JSON);
    cr_assert_eq(hk_inbound_payload_kind(" Application/JSON ; charset=utf-8"), HK_PAYLOAD_JSON);
    cr_assert_eq(hk_inbound_payload_kind("application/vnd.github+json"), HK_PAYLOAD_JSON);
    cr_assert_eq(hk_inbound_payload_kind("application/cloudevents+JSON; x=1"), HK_PAYLOAD_JSON);
    cr_assert_eq(hk_inbound_payload_kind("application/x-www-form-urlencoded; charset=utf-8"),
                 HK_PAYLOAD_FORM);
    cr_assert_eq(hk_inbound_payload_kind("application/xml"), HK_PAYLOAD_XML);
    cr_assert_eq(hk_inbound_payload_kind("TEXT/XML; charset=iso-8859-1"), HK_PAYLOAD_XML);
    cr_assert_eq(hk_inbound_payload_kind("application/atom+xml"), HK_PAYLOAD_XML);
    cr_assert_eq(hk_inbound_payload_kind("multipart/form-data; boundary=x"), HK_PAYLOAD_MULTIPART);
    cr_assert_eq(hk_inbound_payload_kind("multipart/mixed; boundary=x"), HK_PAYLOAD_RAW);
    cr_assert_eq(hk_inbound_payload_kind("text/plain"), HK_PAYLOAD_RAW);
    cr_assert_eq(hk_inbound_payload_kind("application/jsonx"), HK_PAYLOAD_RAW);
    cr_assert_eq(hk_inbound_payload_kind("+json"), HK_PAYLOAD_RAW);
    cr_assert_eq(hk_inbound_payload_kind("application/+json"), HK_PAYLOAD_RAW);
    cr_assert_eq(hk_inbound_payload_kind(""), HK_PAYLOAD_RAW);
    cr_assert_eq(hk_inbound_payload_kind(NULL), HK_PAYLOAD_RAW);
}

Test(payload, raw_has_no_json_form)
{
    hk_error err = {0};
    char *got = payload_text("application/octet-stream", "\x00\xff", 2, &err);
    cr_assert_str_eq(got, "RAW");
    free(got);
    got = payload_text(NULL, "{}", 2, &err);
    cr_assert_str_eq(got, "RAW");
    free(got);
}

Test(payload, json_any_value_strictly)
{
    expect_json("application/json", " {\"a\":[1,-2.5e3,true,null,\"\\u00e9\\ud83d\\ude00\"]} \n",
                "{\"a\":[1,-2500,true,null,\"\xc3\xa9\xf0\x9f\x98\x80\"]}");
    expect_json("application/json", "\"text\"", "\"text\"");
    expect_json("application/problem+json", "42", "42");
    expect_json("application/json", "\xEF\xBB\xBF[]", "[]"); /* RFC 8259 8.1 */
    expect_json("application/json",
                "\xEF\xBB\xBF"
                "0",
                "0"); /* found by fuzz_payload */
    const char *ct = "application/json";
    expect_refused(ct, "{\"a\":1} x", 9, "payload: invalid JSON at byte 8 (data after the value)");
    expect_refused(ct, "{\"a\":1}{}", 9, "invalid JSON at byte 7");
    expect_refused(ct, "{\"a\" 1}", 7, "invalid JSON at byte 5 (':' expected)");
    expect_refused(ct, "[1,]", 4, "invalid JSON at byte 3 (a value expected)");
    expect_refused(ct, "{\"a\":1,}", 8, "invalid JSON at byte 7 (a member name expected)");
    expect_refused(ct, "[01]", 4, "invalid JSON at byte 2");
    expect_refused(ct, "[1.]", 4, "invalid JSON at byte 3 (an invalid number)");
    expect_refused(ct, "[+1]", 4, "invalid JSON at byte 1");
    expect_refused(ct, "\"a\x07\"", 4, "invalid JSON at byte 2 (a control character in a string)");
    expect_refused(ct, "[1,\x01 2]", 7, "invalid JSON at byte 3");
    expect_refused(ct, "{\"a\":\"x\\u0000y\"}", 16,
                   "invalid JSON at byte 7 (\\u0000 is not accepted)");
    expect_refused(ct, "[\"\\ud800\"]", 10, "invalid JSON at byte 2 (a lone UTF-16 surrogate)");
    expect_refused(ct, "[\"\\x\"]", 6, "invalid JSON at byte 2 (an invalid escape)");
    expect_refused(ct, "[1, 2\0]", 7, "invalid JSON at byte 5 (a NUL byte)");
    expect_refused(ct, "[\"\xc0\xaf\"]", 6, "invalid JSON (not UTF-8 text)"); /* overlong */
    expect_refused(ct, "[\"\xed\xa0\x80\"]", 7, "not UTF-8"); /* a surrogate as UTF-8 */
    expect_refused(ct, "", 0, "invalid JSON at byte 0 (a value expected)");
    expect_refused(ct, "[1", 2, "invalid JSON at byte 2 (an unterminated array or object)");
    expect_refused(ct, "\"abc", 4, "invalid JSON at byte 4 (an unterminated string)");
    expect_refused(ct, "tru", 3, "invalid JSON at byte 0");
    expect_refused(ct, "[{\"a\":1,\"b\":{},\"a\":2}]", 22,
                   "payload: invalid JSON (an object names a member twice: RFC 7493)");
    /* a name written with an escape is the same name; an object of many names is checked by
     * its table, a small one pairwise: both find the repeat */
    expect_refused(ct, "{\"a\":1,\"\\u0061\":2}", 18, "names a member twice");
    hk_buf many = {0};
    hk_buf_puts(&many, "{");
    for (int k = 0; k < 40; k++)
        hk_buf_printf(&many, "%s\"k%d\":%d", k ? "," : "", k, k);
    hk_buf_puts(&many, "}");
    hk_error cerr = {0};
    cr_assert_eq(hk_inbound_payload_json_check(many.data, many.len, &cerr), HK_OK, "%s", cerr.msg);
    many.len--; /* the closing brace */
    hk_buf_puts(&many, ",\"k17\":0}");
    expect_refused(ct, many.data, many.len, "names a member twice");
    cr_assert_eq(hk_inbound_payload_json_check(many.data, many.len, &cerr), HK_EINVAL);
    cr_assert_str_eq(cerr.msg, "payload: invalid JSON (an object names a member twice: RFC 7493)");
    cr_assert_eq(hk_inbound_payload_json_check("[1,", 3, &cerr), HK_EINVAL);
    cr_assert(strstr(cerr.msg, "invalid JSON at byte 3"), "%s", cerr.msg);
    hk_buf_free(&many);
    expect_json(ct, "{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}",
                "{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}");
    expect_refused(ct, "[1e400]", 7, "invalid JSON at byte 1 (a number out of a double's range)");
    expect_json(ct, "[12345678901234567890]", "[1.2345678901234567e+19]"); /* a double */
    expect_json(ct, "[1e-400,-0]", "[0,-0]"); /* underflow reads as 0, not another kind */
    char num[80];
    memset(num, '7', 64);
    num[64] = '\0';
    expect_refused(ct, num, 64, "a number longer than 63 characters");
    num[63] = '\0';
    hk_error err = {0};
    char *got = payload_text(ct, num, 63, &err);
    cr_assert_not_null(got, "63 digits: cJSON reads them: %s", err.msg);
    free(got);
}

Test(payload, json_depth_limit)
{
    char deep[2 * HK_PAYLOAD_MAX_DEPTH + 4];
    memset(deep, '[', HK_PAYLOAD_MAX_DEPTH);
    memset(deep + HK_PAYLOAD_MAX_DEPTH, ']', HK_PAYLOAD_MAX_DEPTH);
    hk_error err = {0};
    char *got = payload_text("application/json", deep, 2 * HK_PAYLOAD_MAX_DEPTH, &err);
    cr_assert_not_null(got, "100 levels are accepted: %s", err.msg);
    free(got);
    memset(deep, '[', HK_PAYLOAD_MAX_DEPTH + 1);
    memset(deep + HK_PAYLOAD_MAX_DEPTH + 1, ']', HK_PAYLOAD_MAX_DEPTH + 1);
    expect_refused("application/json", deep, 2 * HK_PAYLOAD_MAX_DEPTH + 2,
                   "invalid JSON at byte 100 (nested deeper than 100)");
}

Test(payload, form_object_with_repeats_as_arrays)
{
    const char *ct = "application/x-www-form-urlencoded";
    expect_json(ct, "a=1&b=x+y%20z&a=2&flag&d=%41%zz%4&&e=&a=3&k%C3%A9y=v%3D%26=",
                "{\"a\":[\"1\",\"2\",\"3\"],\"b\":\"x y z\",\"flag\":\"\",\"d\":\"A%zz%4\","
                "\"e\":\"\",\"k\xc3\xa9y\":\"v=&=\"}");
    expect_json(ct, "", "{}");
    expect_json(ct, "=v", "{\"\":\"v\"}");
    /* Twilio's form, as it posts it */
    expect_json(ct, "CallSid=CA123&Caller=%2B14158675310&Digits=1234",
                "{\"CallSid\":\"CA123\",\"Caller\":\"+14158675310\",\"Digits\":\"1234\"}");
    expect_refused(ct, "a=1&b=%FF", 9, "payload: form: pair 2: the value is not UTF-8");
    expect_refused(ct, "a=1&b=2&%C0%AF=1", 16, "payload: form: pair 3: the name is not UTF-8");
    expect_refused(ct, "a=x%00y", 7, "payload: form: pair 1: the value holds a NUL");
    expect_refused(ct, "a=x\0y", 5, "payload: form: pair 1: the value holds a NUL");
}

Test(payload, xml_convention_attributes_repeats_text_namespaces)
{
    const char *ct = "application/xml";
    /* text only → a string, whitespace kept; empty → "" */
    expect_json(ct, "<?xml version=\"1.0\"?><name> Bob </name>", "{\"name\":\" Bob \"}");
    expect_json(ct, "<empty/>", "{\"empty\":\"\"}");
    /* attributes, repeated children (an array in order, where the name first came), own text */
    expect_json(ct,
                "<order id=\"7\" status=\"paid\">\n"
                "  <item sku=\"a\">2</item>\n"
                "  <note>gift</note>\n"
                "  <item sku=\"b\"/>\n"
                "  total\n"
                "  <item>x</item>\n"
                "</order>",
                "{\"order\":{\"@id\":\"7\",\"@status\":\"paid\","
                "\"item\":[{\"@sku\":\"a\",\"#text\":\"2\"},{\"@sku\":\"b\"},\"x\"],"
                "\"note\":\"gift\",\"#text\":\"total\"}}");
    /* namespaces: qualified names as written, declarations as @xmlns attributes */
    expect_json("application/soap+xml",
                "<soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\">"
                "<soap:Body><m:Price xmlns:m=\"urn:p\" m:cur=\"EUR\">1.5</m:Price></soap:Body>"
                "</soap:Envelope>",
                "{\"soap:Envelope\":{\"@xmlns:soap\":\"http://www.w3.org/2003/05/soap-envelope\","
                "\"soap:Body\":{\"m:Price\":{\"@xmlns:m\":\"urn:p\",\"@m:cur\":\"EUR\","
                "\"#text\":\"1.5\"}}}}");
    expect_json("text/xml", "<feed xmlns=\"urn:f\"><e>1</e></feed>",
                "{\"feed\":{\"@xmlns\":\"urn:f\",\"e\":\"1\"}}");
    /* CDATA is text, entities and character references are decoded, comments and PIs ignored */
    expect_json(ct, "<a><!-- c --><?pi x?><![CDATA[<b>&]]> &amp; &#233;</a>",
                "{\"a\":\"<b>& & \xc3\xa9\"}");
    /* docs/inbound.md's example */
    expect_json(
        ct,
        "<order id=\"7\" xmlns:m=\"urn:m\">\n"
        "  <item sku=\"a\">2</item><m:note>gift</m:note><item sku=\"b\"/> total "
        "<item>x</item>\n</order>",
        "{\"order\":{\"@xmlns:m\":\"urn:m\",\"@id\":\"7\",\"item\":[{\"@sku\":\"a\","
        "\"#text\":\"2\"},{\"@sku\":\"b\"},\"x\"],\"m:note\":\"gift\",\"#text\":\"total\"}}");
    /* ISO-8859-1 declared in the document: converted to UTF-8 */
    expect_json(ct, "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xe9</a>",
                "{\"a\":\"caf\xc3\xa9\"}");
}

Test(payload, xml_malformed_names_the_error)
{
    const char *ct = "application/xml";
    expect_refused(ct, "<a><b></a>", 10, "payload: XML: Opening and ending tag mismatch");
    expect_refused(ct, "<a>&nope;</a>", 13, "payload: XML: Entity 'nope' not defined");
    expect_refused(ct, "<a/><b/>", 8, "payload: XML: Extra content at the end of the document");
    expect_refused(ct, "", 0, "payload: XML: the body is empty");
    expect_refused(ct, "just text", 9, "payload: XML: Start tag expected");
    expect_refused(ct, "<a>\xff</a>", 8, "payload: XML:");
}

/* Counts every load libxml2 attempts through its entity loader in this process. */
static int loads;
static xmlParserInputPtr counting_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
    (void)url, (void)id, (void)ctxt;
    loads++;
    return NULL;
}

Test(payload, xml_external_entities_and_billion_laughs_never_expanded)
{
    xmlInitParser();
    xmlSetExternalEntityLoader(counting_loader);
    const char *ct = "application/xml";
    const char *docs[] = {
        /* XXE: an external entity naming a local file */
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
        "<r>&xxe;</r>",
        /* the same through a parameter entity */
        "<!DOCTYPE r [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><r/>",
        /* an external DTD */
        "<!DOCTYPE r SYSTEM \"file:///etc/passwd\"><r/>",
        /* over the network */
        "<!DOCTYPE r [<!ENTITY x SYSTEM \"http://127.0.0.1:9/x\">]><r>&x;</r>",
        /* billion laughs */
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">"
        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">"
        "<!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">"
        "<!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">"
        "<!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">"
        "<!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">"
        "<!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">"
        "<!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">]>"
        "<lolz>&lol9;</lolz>",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        expect_refused(ct, docs[i], strlen(docs[i]), "payload: XML: a DOCTYPE is not accepted");
    cr_assert_eq(loads, 0, "libxml2 tried to load %d external resources", loads);

    /* XInclude is never processed: the element stays an element, nothing is read */
    const char *xi = "<r xmlns:xi=\"http://www.w3.org/2001/XInclude\">"
                     "<xi:include href=\"file:///etc/passwd\" parse=\"text\"/></r>";
    hk_error err = {0};
    char *got = payload_text(ct, xi, strlen(xi), &err);
    cr_assert_not_null(got, "%s", err.msg);
    cr_assert_str_eq(got,
                     "{\"r\":{\"@xmlns:xi\":\"http://www.w3.org/2001/XInclude\","
                     "\"xi:include\":{\"@href\":\"file:///etc/passwd\",\"@parse\":\"text\"}}}");
    cr_assert_null(strstr(got, "root:"), "never /etc/passwd's content");
    free(got);
    cr_assert_eq(loads, 0);
    xmlSetExternalEntityLoader(NULL);
}

Test(payload, xml_depth_and_size_limits)
{
    hk_buf b = {0};
    for (int i = 0; i < HK_PAYLOAD_MAX_DEPTH; i++)
        hk_buf_puts(&b, "<a>");
    for (int i = 0; i < HK_PAYLOAD_MAX_DEPTH; i++)
        hk_buf_puts(&b, "</a>");
    hk_error err = {0};
    char *got = payload_text("application/xml", b.data, b.len, &err);
    cr_assert_not_null(got, "100 levels are accepted: %s", err.msg);
    free(got);
    hk_buf_free(&b);
    for (int i = 0; i <= HK_PAYLOAD_MAX_DEPTH; i++)
        hk_buf_puts(&b, "<a>");
    for (int i = 0; i <= HK_PAYLOAD_MAX_DEPTH; i++)
        hk_buf_puts(&b, "</a>");
    expect_refused("application/xml", b.data, b.len,
                   "payload: XML: elements nested deeper than 100");
    hk_buf_free(&b);
    hk_buf_puts(&b, "<r>");
    for (int i = 0; i < HK_PAYLOAD_MAX_ITEMS; i++)
        hk_buf_puts(&b, "<e/>");
    hk_buf_puts(&b, "</r>");
    expect_refused("application/xml", b.data, b.len,
                   "payload: XML: more than 100000 elements and attributes");
    hk_buf_free(&b);
}

/* The file's expected sha256 and base64 were computed independently, with Python:
 *   d = b'PNG\x00\xff\xfe binary\r\n--xyz not the boundary\r\n'
 *   hashlib.sha256(d).hexdigest(), base64.b64encode(d).decode(), len(d) */
#define MP_FILE "PNG\x00\xff\xfe binary\r\n--xyz not the boundary\r\n"
#define MP_FILE_SHA256 "790ccddba6fbca0b32791db51e85b5e792ada3d8eea97faeeed6eaba2f2d24b5"
#define MP_FILE_BASE64 "UE5HAP/+IGJpbmFyeQ0KLS14eXogbm90IHRoZSBib3VuZGFyeQ0K"

Test(payload, multipart_fields_and_files)
{
    static const char body[] =
        "preamble, ignored\r\n"
        "--xyz\r\n"
        "Content-Disposition: form-data; name=\"title\"\r\n"
        "\r\n"
        "Hello \xc3\xa9\r\n"
        "--xyz  \r\n" /* transport padding */
        "content-disposition: FORM-DATA; name=tag\r\n"
        "\r\n"
        "a\r\n"
        "--xyz\r\n"
        "Content-Type: image/png\r\n"
        "Content-Disposition: form-data; name=\"upload\"; filename=\"a \\\"b\\\".png\"\r\n"
        "\r\n" MP_FILE "\r\n"
        "--xyz\r\n"
        "Content-Disposition: form-data; name=\"tag\"\r\n"
        "\r\n"
        "b\r\n"
        "--xyz\r\n"
        "Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n"
        "Content-Type: application/octet-stream\r\n"
        "\r\n"
        "\r\n"
        "--xyz--\r\n"
        "epilogue, ignored";
    hk_error err = {0};
    char *got = payload_text("multipart/form-data; boundary=\"xyz\"", body, sizeof body - 1, &err);
    cr_assert_not_null(got, "%s", err.msg);
    cr_assert_str_eq(got, "{\"fields\":{\"title\":\"Hello \xc3\xa9\",\"tag\":[\"a\",\"b\"]},"
                          "\"files\":[{\"field\":\"upload\",\"filename\":\"a \\\"b\\\".png\","
                          "\"contentType\":\"image/png\",\"size\":39,\"sha256\":\"" MP_FILE_SHA256
                          "\",\"data\":\"" MP_FILE_BASE64 "\"},"
                          "{\"field\":\"empty\",\"filename\":\"\",\"contentType\":"
                          "\"application/octet-stream\",\"size\":0,\"sha256\":"
                          "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
                          "\"data\":\"\"}]}");
    free(got);
    /* no parts at all, the boundary unquoted */
    got = payload_text("multipart/form-data; charset=utf-8; BOUNDARY=b", "--b--\r\n", 7, &err);
    cr_assert_str_eq(got, "{\"fields\":{},\"files\":[]}");
    free(got);
}

static void expect_mp_refused(const char *ct, const char *body, const char *want)
{
    expect_refused(ct, body, strlen(body), want);
}

Test(payload, multipart_malformed_names_the_part)
{
    const char *ct = "multipart/form-data; boundary=b";
    expect_mp_refused("multipart/form-data", "--b--",
                      "payload: multipart: the Content-Type has no valid boundary");
    expect_mp_refused("multipart/form-data; boundary=\"\"", "--b--", "no valid boundary");
    expect_mp_refused("multipart/form-data; boundary=\"b", "--b--", "no valid boundary");
    expect_mp_refused(ct, "", "payload: multipart: no boundary line found");
    expect_mp_refused(ct, "--bx\r\n", "payload: multipart: no boundary line found");
    expect_mp_refused(ct, "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nv",
                      "payload: multipart: part 1: no boundary after it");
    expect_mp_refused(ct,
                      "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--b\r\n"
                      "Content-Type: text/plain\r\n\r\nw\r\n--b--",
                      "payload: multipart: part 2: no Content-Disposition");
    expect_mp_refused(ct, "--b\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n--b--",
                      "part 1: Content-Disposition is not form-data");
    expect_mp_refused(ct, "--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--",
                      "part 1: Content-Disposition without a name");
    expect_mp_refused(ct, "--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n--b--",
                      "part 1: a malformed Content-Disposition");
    expect_mp_refused(ct,
                      "--b\r\nContent-Disposition: form-data; name=a\r\nno colon\r\n\r\nv\r\n--b--",
                      "part 1: a header line without a name");
    expect_mp_refused(ct, "--b\r\nContent-Disposition: form-data; name=a\r\nv\r\n--b--",
                      "part 1: no empty line after its headers");
    expect_mp_refused(ct, "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n\xff\r\n--b--",
                      "part 1: a field's value that is not UTF-8");
    expect_mp_refused(ct,
                      "--b\r\nContent-Disposition: form-data; name=\"\xc0\xaf\"\r\n\r\nv\r\n--b--",
                      "part 1: a name or filename that is not UTF-8");
    hk_buf b = {0};
    for (int i = 0; i <= HK_PAYLOAD_MAX_PARTS; i++)
        hk_buf_puts(&b, "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n");
    hk_buf_puts(&b, "--b--");
    expect_refused(ct, b.data, b.len, "payload: multipart: more than 1000 parts");
    hk_buf_free(&b);
}
