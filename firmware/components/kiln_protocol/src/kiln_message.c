/* kiln.v1 message validation, interpreting the generated schema table (see
 * kiln_message.h). Twin of protocol/src/messages/validate.ts, check for check. */
#include "kiln_message.h"

#include <math.h>
#include <string.h>

#include "cJSON.h"
#include "kiln_json.h"
#include "kiln_message_schema.h"

typedef struct {
    kiln_message_result_t *r;
    size_t len;     /* bytes written to r->path */
    size_t logical; /* length the pointer would have without truncation */
} ctx_t;

typedef struct {
    size_t len;
    size_t logical;
} mark_t;

static void path_put(ctx_t *c, char ch)
{
    if (c->len + 1 < KILN_MESSAGE_PATH_MAX) {
        c->r->path[c->len++] = ch;
        c->r->path[c->len] = '\0';
    }
    c->logical++;
}

/* Appends "/" + the key escaped per RFC 6901 ('~' -> "~0", '/' -> "~1"). */
static mark_t path_push(ctx_t *c, const char *key)
{
    mark_t m = {c->len, c->logical};
    path_put(c, '/');
    for (const char *k = key; *k != '\0'; k++) {
        if (*k == '~' || *k == '/') {
            path_put(c, '~');
            path_put(c, *k == '~' ? '0' : '1');
        } else {
            path_put(c, *k);
        }
    }
    return m;
}

static mark_t path_push_index(ctx_t *c, size_t index)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + index % 10u);
        index /= 10u;
    } while (index > 0);
    mark_t m = {c->len, c->logical};
    path_put(c, '/');
    while (n > 0) {
        path_put(c, digits[--n]);
    }
    return m;
}

static void path_pop(ctx_t *c, mark_t m)
{
    c->len = m.len;
    c->logical = m.logical;
    c->r->path[c->len] = '\0';
}

static kiln_err_t fail(ctx_t *c, kiln_err_t code)
{
    c->r->code = code;
    c->r->path_truncated = c->logical != c->len;
    return code;
}

static kiln_err_t check_value(ctx_t *c, const cJSON *v, const kiln_field_spec_t *spec);

static bool is_object(const cJSON *v) { return cJSON_IsObject(v); }

static kiln_err_t check_string(ctx_t *c, const cJSON *v, const kiln_field_spec_t *spec)
{
    if (!cJSON_IsString(v)) return fail(c, KILN_ERR_MSG_WRONG_TYPE);
    size_t n = strlen(v->valuestring);
    if ((double)n < spec->min) return fail(c, KILN_ERR_MSG_TOO_SHORT);
    if ((double)n > spec->max) return fail(c, KILN_ERR_MSG_TOO_LONG);
    if (spec->format != KILN_FORMAT_NONE && !kiln_format_matches(spec->format, v->valuestring, n)) {
        return fail(c, KILN_ERR_MSG_BAD_FORMAT);
    }
    if (spec->one_of != NULL) {
        for (size_t i = 0; i < spec->one_of_count; i++) {
            if (strcmp(v->valuestring, spec->one_of[i]) == 0) return KILN_OK;
        }
        return fail(c, KILN_ERR_MSG_NOT_ALLOWED);
    }
    return KILN_OK;
}

static kiln_err_t check_array(ctx_t *c, const cJSON *v, const kiln_field_spec_t *spec)
{
    if (!cJSON_IsArray(v)) return fail(c, KILN_ERR_MSG_WRONG_TYPE);
    int count = cJSON_GetArraySize(v);
    if ((double)count < spec->min) return fail(c, KILN_ERR_MSG_TOO_SHORT);
    if ((double)count > spec->max) return fail(c, KILN_ERR_MSG_TOO_LONG);
    size_t i = 0;
    for (const cJSON *item = v->child; item != NULL; item = item->next, i++) {
        mark_t m = path_push_index(c, i);
        kiln_err_t err = check_value(c, item, spec->items);
        if (err != KILN_OK) return err;
        path_pop(c, m);
    }
    return KILN_OK;
}

static kiln_err_t check_map(ctx_t *c, const cJSON *v, const kiln_field_spec_t *spec)
{
    if (!is_object(v)) return fail(c, KILN_ERR_MSG_WRONG_TYPE);
    int count = cJSON_GetArraySize(v);
    if ((double)count < spec->min) return fail(c, KILN_ERR_MSG_TOO_SHORT);
    if ((double)count > spec->max) return fail(c, KILN_ERR_MSG_TOO_LONG);
    if (count > (int)KILN_MESSAGE_MAP_MAX) return KILN_ERR_INVALID_ARG; /* a schema the generator refuses */
    /* Entries in byte-wise key order (strcmp compares as unsigned char): insertion sort of <= 64. */
    const cJSON *sorted[KILN_MESSAGE_MAP_MAX];
    size_t n = 0;
    for (const cJSON *e = v->child; e != NULL; e = e->next) {
        size_t j = n++;
        while (j > 0 && strcmp(sorted[j - 1]->string, e->string) > 0) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = e;
    }
    for (size_t i = 0; i < n; i++) {
        const char *key = sorted[i]->string;
        size_t key_len = strlen(key);
        mark_t m = path_push(c, key);
        if ((double)key_len < spec->key_min || (double)key_len > spec->key_max ||
            !kiln_format_matches(spec->format, key, key_len)) {
            return fail(c, KILN_ERR_MSG_BAD_FORMAT);
        }
        kiln_err_t err = check_value(c, sorted[i], spec->items);
        if (err != KILN_OK) return err;
        path_pop(c, m);
    }
    return KILN_OK;
}

static kiln_err_t check_fields(ctx_t *c, const cJSON *obj, const kiln_field_t *fields, size_t count, bool root)
{
    for (size_t i = 0; i < count; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, fields[i].name);
        mark_t m = path_push(c, fields[i].name);
        if (v == NULL) {
            if (fields[i].required) return fail(c, KILN_ERR_MSG_MISSING_FIELD);
        } else {
            kiln_err_t err = check_value(c, v, fields[i].spec);
            if (err != KILN_OK) return err;
        }
        path_pop(c, m);
    }
    /* The byte-wise smallest undeclared key, so both languages name the same one. */
    const char *unknown = NULL;
    for (const cJSON *e = obj->child; e != NULL; e = e->next) {
        bool declared = root && strcmp(e->string, "type") == 0;
        for (size_t i = 0; i < count && !declared; i++) {
            declared = strcmp(e->string, fields[i].name) == 0;
        }
        if (!declared && (unknown == NULL || strcmp(e->string, unknown) < 0)) {
            unknown = e->string;
        }
    }
    if (unknown != NULL) {
        (void)path_push(c, unknown);
        return fail(c, KILN_ERR_MSG_UNKNOWN_FIELD);
    }
    return KILN_OK;
}

static kiln_err_t check_value(ctx_t *c, const cJSON *v, const kiln_field_spec_t *spec)
{
    switch (spec->kind) {
    case KILN_FIELD_INTEGER:
        if (!cJSON_IsNumber(v)) return fail(c, KILN_ERR_MSG_WRONG_TYPE);
        /* Number.isInteger: finite and without a fraction. */
        if (!isfinite(v->valuedouble) || trunc(v->valuedouble) != v->valuedouble) {
            return fail(c, KILN_ERR_MSG_NOT_INTEGER);
        }
        if (v->valuedouble < spec->min || v->valuedouble > spec->max) return fail(c, KILN_ERR_MSG_OUT_OF_RANGE);
        return KILN_OK;
    case KILN_FIELD_NUMBER:
        if (!cJSON_IsNumber(v)) return fail(c, KILN_ERR_MSG_WRONG_TYPE);
        if (!isfinite(v->valuedouble)) return fail(c, KILN_ERR_MSG_OUT_OF_RANGE);
        return KILN_OK;
    case KILN_FIELD_STRING:
        return check_string(c, v, spec);
    case KILN_FIELD_OBJECT:
        if (!is_object(v)) return fail(c, KILN_ERR_MSG_WRONG_TYPE);
        return check_fields(c, v, spec->fields, spec->field_count, false);
    case KILN_FIELD_FREE_OBJECT:
        return is_object(v) ? KILN_OK : fail(c, KILN_ERR_MSG_WRONG_TYPE);
    case KILN_FIELD_ARRAY:
        return check_array(c, v, spec);
    case KILN_FIELD_MAP:
        return check_map(c, v, spec);
    }
    return KILN_ERR_INVALID_ARG;
}

static const kiln_message_schema_t *schema_for(const char *type)
{
    for (size_t i = 0; i < kiln_message_schema_count; i++) {
        if (strcmp(kiln_message_schemas[i].type, type) == 0) return &kiln_message_schemas[i];
    }
    return NULL;
}

static bool sends(const kiln_message_schema_t *schema, kiln_sender_t from)
{
    return from == KILN_SENDER_ANY || schema->from == KILN_SCHEMA_FROM_BOTH ||
           (schema->from == KILN_SCHEMA_FROM_DEVICE && from == KILN_SENDER_DEVICE) ||
           (schema->from == KILN_SCHEMA_FROM_GATEWAY && from == KILN_SENDER_GATEWAY);
}

static kiln_err_t check_message(ctx_t *c, const cJSON *root, kiln_sender_t from)
{
    if (!is_object(root)) return fail(c, KILN_ERR_MSG_WRONG_TYPE);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    (void)path_push(c, "type");
    if (type == NULL) return fail(c, KILN_ERR_MSG_MISSING_FIELD);
    if (!cJSON_IsString(type)) return fail(c, KILN_ERR_MSG_WRONG_TYPE);
    const kiln_message_schema_t *schema = schema_for(type->valuestring);
    if (schema == NULL) return fail(c, KILN_ERR_MSG_UNKNOWN_TYPE);
    c->r->type = schema->type;
    if (!sends(schema, from)) return fail(c, KILN_ERR_MSG_UNEXPECTED_TYPE);
    path_pop(c, (mark_t){0, 0});
    return check_fields(c, root, schema->fields, schema->field_count, true);
}

kiln_err_t kiln_message_validate(const char *text, size_t len, kiln_sender_t from,
                                 kiln_message_result_t *result, struct cJSON **root)
{
    if (root != NULL) {
        *root = NULL;
    }
    if (text == NULL || result == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    memset(result, 0, sizeof(*result));
    ctx_t c = {.r = result};
    if (len > KILN_MESSAGE_MAX_BYTES) {
        return fail(&c, KILN_ERR_MSG_TOO_LARGE);
    }
    cJSON *tree = NULL;
    kiln_err_t err = kiln_json_parse(text, len, &tree);
    if (err != KILN_OK) {
        return fail(&c, err);
    }
    err = check_message(&c, tree, from);
    if (err == KILN_OK && root != NULL) {
        *root = tree;
    } else {
        cJSON_Delete(tree);
    }
    result->code = err;
    return err;
}
