/*
 * Helpers shared by the host tests: loading protocol/vectors files (a missing or
 * unreadable file FAILS the test), hex, typed member access that fails on a
 * malformed vector, and the lossy UTF-8 decoding the TypeScript side applies to
 * serial text.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#include "cJSON.h"

/** Loads and parses KILN_VECTORS_DIR/<file>; fails the running test if it cannot. */
cJSON *kt_load_vectors(const char *file);

/** A member that must exist; fails the test naming @p what otherwise. */
const cJSON *kt_member(const cJSON *obj, const char *name);
const char *kt_string(const cJSON *obj, const char *name);
double kt_number(const cJSON *obj, const char *name);
/** An array member (fails the test if absent or not an array). */
const cJSON *kt_array(const cJSON *obj, const char *name);

/** Decodes a hex string into a new malloc'd buffer (never NULL; free it). */
uint8_t *kt_hex(const char *hex, size_t *len);

/**
 * Decodes @p len bytes as UTF-8 the way TextDecoder / Buffer.toString('utf8') do,
 * replacing each maximal invalid subsequence with U+FFFD, into a new NUL-terminated
 * malloc'd string.
 */
char *kt_utf8_lossy(const uint8_t *bytes, size_t len);

/** A small deterministic PRNG (xorshift32) for the fixed-seed robustness tests. */
uint32_t kt_random(uint32_t *state);
