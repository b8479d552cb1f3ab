// COpenSSL: HMAC-SHA256 for JWT signatures and SHA-256 digests.
#pragma once
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>

// A MAC context keyed once (fetching the algorithm costs more than a JWT's HMAC), then copied
// for each message, so concurrent verifications never share mutable state. NULL on failure.
static inline EVP_MAC_CTX *copenssl_hmac_sha256_new(const unsigned char *key, size_t length) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) return NULL;
    EVP_MAC_CTX *context = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context keeps its own reference
    if (context == NULL) return NULL;
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string("digest", (char *) "SHA256", 0), OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(context, key, length, params) != 1) {
        EVP_MAC_CTX_free(context);
        return NULL;
    }
    return context;
}

// HMAC-SHA256 of `data` into `out` (32 bytes) with a copy of `keyed`; 1 on success, 0 on failure.
static inline int copenssl_hmac_sha256(const EVP_MAC_CTX *keyed, const unsigned char *data, size_t length, unsigned char *out) {
    EVP_MAC_CTX *context = EVP_MAC_CTX_dup(keyed);
    if (context == NULL) return 0;
    size_t written = 0;
    int ok = EVP_MAC_update(context, data, length) == 1 && EVP_MAC_final(context, out, &written, 32) == 1 && written == 32;
    EVP_MAC_CTX_free(context);
    return ok;
}
