// COpenSSL: HMAC-SHA256 for JWT signatures and SHA-256 digests.
#pragma once
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
