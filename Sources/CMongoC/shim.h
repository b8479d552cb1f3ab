// CMongoC: libmongoc 1.x and libbson, as the Swift side sees them.
#pragma once
#include <mongoc/mongoc.h>
#include <stdlib.h>

// bson_t is 128-byte aligned, so Swift sees it only as an opaque pointer; out-parameters
// (`reply`) and bson_init_static need storage with that alignment, allocated here and
// released with free().
static inline bson_t *cmongoc_bson_alloc(void) {
    return (bson_t *) aligned_alloc(_Alignof(bson_t), sizeof(bson_t));
}

// The document's size in bytes, the length of bson_get_data(); Swift cannot see bson_t's fields.
static inline uint32_t cmongoc_bson_len(const bson_t *bson) {
    return bson->len;
}
