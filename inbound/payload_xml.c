/*
 * payload_xml.c — an XML body as JSON, with libxml2 (2.9.14 on Debian 12).
 *
 * Safety: a document with a DOCTYPE is refused the moment libxml2 reports it, before its internal
 * subset is read, so no entity is ever declared: no billion laughs, no external entity, no DTD
 * to load (2.9.14 has no XML_PARSE_NO_XXE). Besides: XML_PARSE_NONET, never XML_PARSE_NOENT,
 * DTDLOAD, DTDVALID, XINCLUDE or HUGE, and resolveEntity answers nothing. Depth and the count of
 * elements and attributes are checked as each element starts, so a refused document stops there
 * instead of building its whole tree. Comments and processing instructions are never stored.
 * Errors are read from the parser context, never printed.
 *
 * The convention (docs/inbound.md):
 *   document      → {"<root qname>": <value of the root>}
 *   element value → its text, a string, when it has no attribute, no namespace declaration and
 *                   no child element (exactly as written, whitespace kept; "" when empty);
 *                   else an object: "@xmlns" / "@xmlns:p" for namespace declarations and
 *                   "@<qname>" for attributes (in document order), then each child element's
 *                   value under its qname (a qname that repeats: an array of the values in
 *                   order, placed where the name first came), then "#text": the element's own
 *                   text (text and CDATA children joined) trimmed of surrounding whitespace,
 *                   present only when not empty.
 *   qname         → the name as written: "prefix:local" or "local" (namespaces are not resolved).
 */
#include "payload_internal.h"

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Why the parse was stopped by us (NULL: by libxml2 or not at all). */
typedef struct xml_guard {
    const char *refused;
    size_t items; /* elements + attributes + namespace declarations so far */
    char first_error[200]; /* libxml2's first error: the cause (the last is often its echo) */
    int first_error_line;
} xml_guard;

static void stop(xmlParserCtxtPtr ctxt, const char *why)
{
    xml_guard *g = ctxt->_private;
    if (!g->refused)
        g->refused = why;
    xmlStopParser(ctxt);
}

static void on_internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
                               const xmlChar *system_id)
{
    (void)name, (void)external_id, (void)system_id;
    stop(ctx, "a DOCTYPE is not accepted (no DTD, no entity declarations)");
}

static xmlParserInputPtr on_resolve_entity(void *ctx, const xmlChar *public_id,
                                           const xmlChar *system_id)
{
    (void)public_id, (void)system_id;
    stop(ctx, "an external entity is not accepted");
    return NULL;
}

static void on_start_element(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                             const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                             int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = ctx;
    xml_guard *g = ctxt->_private;
    if (ctxt->nodeNr >= HK_PAYLOAD_MAX_DEPTH)
        return stop(ctxt, "elements nested deeper than 100");
    g->items += 1 + (size_t)nb_namespaces + (size_t)nb_attributes;
    if (g->items > HK_PAYLOAD_MAX_ITEMS)
        return stop(ctxt, "more than 100000 elements and attributes");
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                          nb_defaulted, attributes);
}

/* The first error is kept for the refusal; nothing is printed. */
static void on_error(void *data, xmlErrorPtr error)
{
    xmlParserCtxtPtr ctxt = data;
    xml_guard *g = ctxt ? ctxt->_private : NULL;
    if (g && !g->first_error[0] && error && error->message && error->level >= XML_ERR_ERROR) {
        snprintf(g->first_error, sizeof g->first_error, "%s", error->message);
        g->first_error_line = error->line;
    }
}

static void init_once(void)
{
    xmlInitParser();
}

/* libxml2's message as one line of printable ASCII (it may quote the document's names). */
static int xml_error(hk_error *err, xmlParserCtxtPtr ctxt)
{
    const xml_guard *g = ctxt->_private;
    const xmlError *e = xmlCtxtGetLastError(ctxt);
    char msg[200] = "not well-formed";
    int line = 0;
    if (g->first_error[0]) {
        snprintf(msg, sizeof msg, "%s", g->first_error);
        line = g->first_error_line;
    } else if (e && e->message) {
        snprintf(msg, sizeof msg, "%s", e->message);
        line = e->line;
    }
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] >= 0x7f)
            msg[i] = (unsigned char)msg[i] < 0x20 ? ' ' : '?';
    if (line > 0)
        return hk_error_set(err, HK_EINVAL, "payload", "XML: %s (line %d)", msg, line);
    return hk_error_set(err, HK_EINVAL, "payload", "XML: %s", msg);
}

/* ------------------------------------------------------------------ the convention --- */

static char *qname(const xmlChar *prefix, const xmlChar *local, const char *before)
{
    hk_buf b = {0};
    hk_buf_puts(&b, before);
    if (prefix) {
        hk_buf_puts(&b, (const char *)prefix);
        hk_buf_puts(&b, ":");
    }
    hk_buf_puts(&b, (const char *)local);
    return hk_buf_take(&b);
}

/* The element's own text: its text (and CDATA) children joined. */
static char *own_text(const xmlNode *el)
{
    hk_buf b = {0};
    for (const xmlNode *c = el->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            hk_buf_puts(&b, (const char *)c->content);
    return hk_buf_take(&b);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int add_string(cJSON *obj, const char *name, const char *value)
{
    cJSON *s = cJSON_CreateString(value);
    if (!s)
        return HK_ENOMEM;
    if (!cJSON_AddItemToObject(obj, name, s)) {
        cJSON_Delete(s);
        return HK_ENOMEM;
    }
    return HK_OK;
}

static cJSON *element_value(const xmlNode *el);

static int element_members(const xmlNode *el, cJSON *obj)
{
    int rc = HK_OK;
    for (const xmlNs *ns = el->nsDef; ns && rc == HK_OK; ns = ns->next) {
        char *name = qname(ns->prefix ? (const xmlChar *)"xmlns" : NULL,
                           ns->prefix ? ns->prefix : (const xmlChar *)"xmlns", "@");
        rc = add_string(obj, name, ns->href ? (const char *)ns->href : "");
        free(name);
    }
    for (const xmlAttr *a = el->properties; a && rc == HK_OK; a = a->next) {
        char *name = qname(a->ns ? a->ns->prefix : NULL, a->name, "@");
        xmlChar *v = xmlNodeListGetString(el->doc, a->children, 1);
        rc = add_string(obj, name, v ? (const char *)v : "");
        xmlFree(v);
        free(name);
    }
    hk__group g = {0};
    for (const xmlNode *c = el->children; c && rc == HK_OK; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        char *name = qname(c->ns ? c->ns->prefix : NULL, c->name, "");
        rc = hk__group_add(&g, name, element_value(c));
        free(name);
    }
    if (rc == HK_OK)
        rc = hk__group_finish(&g, obj);
    hk__group_free(&g);
    if (rc != HK_OK)
        return rc;
    char *text = own_text(el), *start = text, *end = text + strlen(text);
    while (start < end && is_space(*start))
        start++;
    while (end > start && is_space(end[-1]))
        end--;
    *end = '\0';
    if (*start)
        rc = add_string(obj, "#text", start);
    free(text);
    return rc;
}

/* NULL when an allocation failed. Recursion is bounded by HK_PAYLOAD_MAX_DEPTH. */
static cJSON *element_value(const xmlNode *el)
{
    bool has_child = false;
    for (const xmlNode *c = el->children; c && !has_child; c = c->next)
        has_child = c->type == XML_ELEMENT_NODE;
    if (!has_child && !el->properties && !el->nsDef) {
        char *text = own_text(el);
        cJSON *s = cJSON_CreateString(text);
        free(text);
        return s;
    }
    cJSON *obj = cJSON_CreateObject();
    if (obj && element_members(el, obj) != HK_OK) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

/* ------------------------------------------------------------------------ the entry --- */

int hk__payload_xml(const char *body, size_t len, cJSON **out, hk_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_once);
    *out = NULL;
    if (len == 0)
        return hk_error_set(err, HK_EINVAL, "payload", "XML: the body is empty");
    if (len > INT_MAX)
        return hk_error_set(err, HK_EINVAL, "payload", "XML: the body is too large");
    xmlParserCtxtPtr ctxt = xmlCreateMemoryParserCtxt(body, (int)len);
    if (!ctxt)
        return hk_error_set(err, HK_ENOMEM, "payload", "XML: out of memory");
    xml_guard guard = {0};
    ctxt->_private = &guard;
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_NOERROR |
                                XML_PARSE_NOWARNING);
    ctxt->sax->internalSubset = on_internal_subset;
    ctxt->sax->externalSubset = NULL;
    ctxt->sax->resolveEntity = on_resolve_entity;
    ctxt->sax->startElementNs = on_start_element;
    ctxt->sax->comment = NULL;
    ctxt->sax->processingInstruction = NULL;
    ctxt->sax->serror = on_error;
    xmlParseDocument(ctxt);
    xmlDocPtr doc = ctxt->myDoc;
    ctxt->myDoc = NULL;
    int rc = HK_OK;
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (guard.refused)
        rc = hk_error_set(err, HK_EINVAL, "payload", "XML: %s", guard.refused);
    else if (!ctxt->wellFormed || !root)
        rc = xml_error(err, ctxt);
    if (rc == HK_OK) {
        cJSON *value = element_value(root), *top = value ? cJSON_CreateObject() : NULL;
        char *name = qname(root->ns ? root->ns->prefix : NULL, root->name, "");
        if (top && cJSON_AddItemToObject(top, name, value)) {
            *out = top;
        } else {
            cJSON_Delete(value);
            cJSON_Delete(top);
            rc = hk_error_set(err, HK_ENOMEM, "payload", "XML: out of memory");
        }
        free(name);
    }
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return rc;
}
