/*
 * The kiln.v1 message schemas as a static table (SPEC.md §1.3-1.4). The table
 * itself, src/kiln_message_schema.gen.c, is GENERATED from
 * protocol/src/messages/schemas.ts by protocol/scripts/generate-c-schema.ts,
 * so the contract is written once; these types mirror protocol/src/messages/spec.ts.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kiln_format.h"

typedef enum {
    KILN_FIELD_INTEGER,     /*!< min..max, compared as doubles (bounds are exact up to 2^53 - 1) */
    KILN_FIELD_NUMBER,      /*!< any finite number */
    KILN_FIELD_STRING,      /*!< min..max UTF-8 bytes, then format or one_of */
    KILN_FIELD_OBJECT,      /*!< declared fields; others are UNKNOWN_FIELD */
    KILN_FIELD_FREE_OBJECT, /*!< any object */
    KILN_FIELD_ARRAY,       /*!< min..max items, each of `items` */
    KILN_FIELD_MAP,         /*!< min..max entries; keys key_min..key_max bytes of `format`, values of `items` */
} kiln_field_kind_t;

typedef struct kiln_field kiln_field_t;

typedef struct kiln_field_spec {
    kiln_field_kind_t kind;
    double min;
    double max;
    kiln_string_format_t format;          /*!< STRING, and MAP keys */
    const char *const *one_of;            /*!< STRING enumeration, or NULL */
    size_t one_of_count;
    const kiln_field_t *fields;           /*!< OBJECT */
    size_t field_count;
    const struct kiln_field_spec *items;  /*!< ARRAY items, MAP values */
    double key_min;                       /*!< MAP key bytes */
    double key_max;
} kiln_field_spec_t;

struct kiln_field {
    const char *name;
    bool required;
    const kiln_field_spec_t *spec;
};

typedef enum {
    KILN_SCHEMA_FROM_DEVICE,
    KILN_SCHEMA_FROM_GATEWAY,
    KILN_SCHEMA_FROM_BOTH,
} kiln_schema_sender_t;

typedef struct {
    const char *type;
    kiln_schema_sender_t from;
    const kiln_field_t *fields; /*!< in check order, `seq` first; `type` is implied */
    size_t field_count;
} kiln_message_schema_t;

extern const kiln_message_schema_t kiln_message_schemas[];
extern const size_t kiln_message_schema_count;
