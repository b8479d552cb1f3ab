// CSodium: libsodium (sealing, argon2id, randomness, constant-time compare).
#pragma once
#include <sodium.h>
