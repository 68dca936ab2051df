// libcrypto helpers for bench-handshake's primitive floor.
//
// OSSL_PARAM arrays point at their values, so they are built here, on the C
// stack, for exactly one libcrypto call each.
#ifndef CAPNET_CBENCHCRYPTO_SHIM_H
#define CAPNET_CBENCHCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

/// Sets an HKDF context's digest (SHA-256) and mode once: extract-only when
/// `extract` is 1, else expand-only. Returns 1 on success.
static inline int capnet_bench_hkdf_setup(EVP_KDF_CTX *ctx, int extract) {
    int mode = extract ? EVP_KDF_HKDF_MODE_EXTRACT_ONLY : EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA2-256", 0);
    params[2] = OSSL_PARAM_construct_end();
    return EVP_KDF_CTX_set_params(ctx, params);
}

/// Runs a context made by `capnet_bench_hkdf_setup`: `second` is the salt for
/// extract and the info for expand. Returns 1 on success.
static inline int capnet_bench_hkdf_run(EVP_KDF_CTX *ctx, const unsigned char *key, size_t key_len,
                                        const unsigned char *second, size_t second_len,
                                        unsigned char *out, size_t out_len) {
    int extract = EVP_KDF_CTX_get_kdf_size(ctx) != SIZE_MAX;
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
    params[1] = OSSL_PARAM_construct_octet_string(extract ? OSSL_KDF_PARAM_SALT : OSSL_KDF_PARAM_INFO,
                                                  (void *)second, second_len);
    params[2] = OSSL_PARAM_construct_end();
    return EVP_KDF_derive(ctx, out, out_len, params);
}
#endif
