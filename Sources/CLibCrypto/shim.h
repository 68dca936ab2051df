// libcrypto (OpenSSL 3) headers that TLSEngine uses.
#ifndef CAPNET_CLIBCRYPTO_SHIM_H
#define CAPNET_CLIBCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>
#include <string.h>

// OSSL_PARAM arrays keep raw pointers to their values, and Swift's temporary
// pointers end with the call that made them, so every parameter array is built
// here, on the C stack, for exactly one libcrypto call.

/// HKDF-Extract (RFC 5869 §2.2) with a fetched "HKDF" EVP_KDF; returns 1 on success.
static inline int capnet_hkdf_extract(EVP_KDF *kdf, const char *digest,
                                      const unsigned char *salt, size_t salt_len,
                                      const unsigned char *ikm, size_t ikm_len,
                                      unsigned char *out, size_t out_len) {
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    if (ctx == NULL) return 0;
    int mode = EVP_KDF_HKDF_MODE_EXTRACT_ONLY;
    // RFC 8446 §7.1 extracts with empty inputs, but libcrypto reads a NULL
    // pointer as "parameter not set". So an empty input is passed as a
    // one-byte buffer with length 0.
    static const unsigned char empty[1] = {0};
    OSSL_PARAM params[5];
    params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  (void *)(ikm_len ? ikm : empty), ikm_len);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                  (void *)(salt_len ? salt : empty), salt_len);
    params[4] = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(ctx, out, out_len, params);
    EVP_KDF_CTX_free(ctx);
    return ok == 1;
}

/// HKDF-Expand (RFC 5869 §2.3) with a fetched "HKDF" EVP_KDF; returns 1 on success.
static inline int capnet_hkdf_expand(EVP_KDF *kdf, const char *digest,
                                     const unsigned char *prk, size_t prk_len,
                                     const unsigned char *info, size_t info_len,
                                     unsigned char *out, size_t out_len) {
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    if (ctx == NULL) return 0;
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    static const unsigned char empty[1] = {0};
    OSSL_PARAM params[5];
    params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)prk, prk_len);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                  (void *)(info_len ? info : empty), info_len);
    params[4] = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(ctx, out, out_len, params);
    EVP_KDF_CTX_free(ctx);
    return ok == 1;
}

/// HMAC (RFC 2104) with a fetched "HMAC" EVP_MAC; writes the tag length to *out_len.
static inline int capnet_hmac(EVP_MAC *mac, const char *digest,
                              const unsigned char *key, size_t key_len,
                              const unsigned char *data, size_t data_len,
                              unsigned char *out, size_t out_capacity, size_t *out_len) {
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL) return 0;
    static const unsigned char empty[1] = {0};
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    int ok = EVP_MAC_init(ctx, key_len ? key : empty, key_len, params) == 1
        && EVP_MAC_update(ctx, data_len ? data : empty, data_len) == 1
        && EVP_MAC_final(ctx, out, out_len, out_capacity) == 1;
    EVP_MAC_CTX_free(ctx);
    return ok;
}

/// Makes an HKDF context with its digest and mode (extract-only when `extract`
/// is 1, else expand-only) set once, for `capnet_hkdf_run` to reuse.
static inline EVP_KDF_CTX *capnet_hkdf_context(EVP_KDF *kdf, const char *digest, int extract) {
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    if (ctx == NULL) return NULL;
    int mode = extract ? EVP_KDF_HKDF_MODE_EXTRACT_ONLY : EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
    params[2] = OSSL_PARAM_construct_end();
    if (EVP_KDF_CTX_set_params(ctx, params) != 1) {
        EVP_KDF_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/// Runs one HKDF step on a `capnet_hkdf_context` context, then replaces its
/// key and salt or info with one zero byte so no secret stays in it. `key` is
/// the input keying material for extract and the pseudorandom key for
/// expand; `other` is the salt for extract and the info for expand, and must
/// not be empty: OpenSSL 3.0 keeps the old salt when given an empty one, and
/// crashed here on an empty info for a context that had one before.
/// Returns 1 on success, 0 on failure or an empty `other`.
static inline int capnet_hkdf_run(EVP_KDF_CTX *ctx, int extract,
                                  const unsigned char *key, size_t key_len,
                                  const unsigned char *other, size_t other_len,
                                  unsigned char *out, size_t out_len) {
    if (other_len == 0) return 0;
    // An empty key as in capnet_hkdf_extract: libcrypto reads NULL as "not set".
    static const unsigned char zero[1] = {0};
    const char *other_name = extract ? OSSL_KDF_PARAM_SALT : OSSL_KDF_PARAM_INFO;
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  (void *)(key_len ? key : zero), key_len);
    params[1] = OSSL_PARAM_construct_octet_string(other_name, (void *)other, other_len);
    params[2] = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(ctx, out, out_len, params) == 1;
    OSSL_PARAM clear[3];
    clear[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)zero, sizeof zero);
    clear[1] = OSSL_PARAM_construct_octet_string(other_name, (void *)zero, sizeof zero);
    clear[2] = OSSL_PARAM_construct_end();
    return EVP_KDF_CTX_set_params(ctx, clear) == 1 && ok;
}

/// Makes an HMAC context with its digest already set, the template that
/// `capnet_hmac_with_template` copies, so the digest is fetched once.
static inline EVP_MAC_CTX *capnet_hmac_template(EVP_MAC *mac, const char *digest) {
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL) return NULL;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_CTX_set_params(ctx, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/// HMAC (RFC 2104) on a copy of a `capnet_hmac_template` context, which is
/// only read, so threads may share it. Writes the tag length to *out_len.
static inline int capnet_hmac_with_template(const EVP_MAC_CTX *template_ctx,
                                            const unsigned char *key, size_t key_len,
                                            const unsigned char *data, size_t data_len,
                                            unsigned char *out, size_t out_capacity, size_t *out_len) {
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(template_ctx);
    if (ctx == NULL) return 0;
    static const unsigned char empty[1] = {0};
    int ok = EVP_MAC_init(ctx, key_len ? key : empty, key_len, NULL) == 1
        && EVP_MAC_update(ctx, data_len ? data : empty, data_len) == 1
        && EVP_MAC_final(ctx, out, out_len, out_capacity) == 1;
    EVP_MAC_CTX_free(ctx);
    return ok;
}

/// Builds an EC public key on the named curve ("P-256", "P-384") from its
/// SEC 1 encoded point. Returns NULL when the point is malformed or not on the curve.
static inline EVP_PKEY *capnet_ec_public_key(const char *group,
                                             const unsigned char *point, size_t point_len) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL) return NULL;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  (void *)point, point_len);
    params[2] = OSSL_PARAM_construct_end();
    if (EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    if (pkey != NULL) {
        // RFC 8446 §4.2.8.2: the peer's point must be validated.
        EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        int valid = check != NULL && EVP_PKEY_public_check(check) == 1;
        EVP_PKEY_CTX_free(check);
        if (!valid) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
    }
    return pkey;
}

/// Generates an RSA key of `bits` bits with public exponent 65537.
static inline EVP_PKEY *capnet_generate_rsa(unsigned int bits) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (ctx == NULL) return NULL;
    EVP_PKEY *pkey = NULL;
    size_t bits_value = bits;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_RSA_BITS, &bits_value);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_params(ctx, params) != 1
        || EVP_PKEY_generate(ctx, &pkey) != 1) {
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/// Returns the curve name of an EC key ("P-256", "prime256v1", ...) into `out`, or 0.
static inline int capnet_ec_group_name(const EVP_PKEY *pkey, char *out, size_t out_capacity) {
    size_t length = 0;
    return EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                          out, out_capacity, &length) == 1;
}

/// The verify callback result and error string of an X509_STORE_CTX, for diagnostics.
static inline const char *capnet_x509_verify_error_string(X509_STORE_CTX *ctx) {
    return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
}

/// Loads every certificate from PEM text into a new stack. Returns NULL on a
/// malformed block; an empty input gives an empty stack.
static inline STACK_OF(X509) *capnet_read_pem_certificates(const char *pem, int pem_len) {
    BIO *bio = BIO_new_mem_buf(pem, pem_len);
    if (bio == NULL) return NULL;
    STACK_OF(X509) *stack = sk_X509_new_null();
    for (;;) {
        X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (cert == NULL) break;
        sk_X509_push(stack, cert);
    }
    // The loop ends on PEM_R_NO_START_LINE at the end of the text; anything
    // else is a malformed block.
    unsigned long err = ERR_peek_last_error();
    if (err != 0 && !(ERR_GET_LIB(err) == ERR_LIB_PEM
                      && ERR_GET_REASON(err) == PEM_R_NO_START_LINE)) {
        sk_X509_pop_free(stack, X509_free);
        stack = NULL;
    }
    ERR_clear_error();
    BIO_free(bio);
    return stack;
}

static inline int capnet_x509_stack_count(STACK_OF(X509) *stack) { return sk_X509_num(stack); }
static inline X509 *capnet_x509_stack_get(STACK_OF(X509) *stack, int i) { return sk_X509_value(stack, i); }
static inline void capnet_x509_stack_free_shallow(STACK_OF(X509) *stack) { sk_X509_free(stack); }
static inline STACK_OF(X509) *capnet_x509_stack_new(void) { return sk_X509_new_null(); }
static inline void capnet_x509_stack_push(STACK_OF(X509) *stack, X509 *cert) { sk_X509_push(stack, cert); }
static inline void capnet_x509_stack_free(STACK_OF(X509) *stack) { sk_X509_pop_free(stack, X509_free); }

/// Writes `pkey`'s private key as PKCS#8 PEM into a new memory BIO; NULL on failure.
static inline BIO *capnet_private_key_pem(EVP_PKEY *pkey) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) return NULL;
    if (PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
        BIO_free(bio);
        return NULL;
    }
    return bio;
}

/// Points `data` at the contents of a memory BIO (valid until the BIO changes or is freed) and returns their length.
static inline long capnet_bio_contents(BIO *bio, const char **data) {
    return BIO_get_mem_data(bio, (char **)data);
}

/// Parses a PEM private key (PKCS#8 or a traditional format); NULL on failure.
static inline EVP_PKEY *capnet_read_private_key_pem(const char *pem, int pem_len) {
    BIO *bio = BIO_new_mem_buf(pem, pem_len);
    if (bio == NULL) return NULL;
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ERR_clear_error();
    return pkey;
}

/// Verifies `leaf` with `untrusted` intermediates against `store` as a TLS
/// server certificate at `at_time`, in seconds since the Unix epoch.
/// Exactly one of `host` (a DNS name) and `ip` (an address literal) is set.
/// Returns X509_V_OK or the X509_V_ERR_* code.
static inline int capnet_verify_server_certificate(X509_STORE *store, X509 *leaf, STACK_OF(X509) *untrusted,
                                                   long long at_time, const char *host, const char *ip) {
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (ctx == NULL) return X509_V_ERR_OUT_OF_MEM;
    int result = X509_V_ERR_UNSPECIFIED;
    if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) == 1) {
        X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
        X509_VERIFY_PARAM_set_time(param, (time_t)at_time);
        X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
        int named = 1;
        if (host != NULL) named = X509_VERIFY_PARAM_set1_host(param, host, 0);
        if (ip != NULL) named = X509_VERIFY_PARAM_set1_ip_asc(param, ip);
        if (named == 1) {
            result = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
        }
    }
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return result;
}

// Certificate building for the development CA. Each helper wraps a libcrypto
// call that Swift cannot make directly: a macro argument, or a context struct
// that must live on the C stack for exactly one call.

/// Creates an X509_NAME with one commonName attribute in UTF-8. Returns NULL on failure.
static inline X509_NAME *capnet_x509_name_common_name(const char *common_name) {
    X509_NAME *name = X509_NAME_new();
    if (name == NULL) return NULL;
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   (const unsigned char *)common_name, -1, -1, 0) != 1) {
        X509_NAME_free(name);
        return NULL;
    }
    return name;
}

/// Adds the extension `nid` to `cert`, with `value` in the openssl x509v3_config
/// syntax (for example "critical,CA:TRUE,pathlen:0"). `issuer` is the issuing
/// certificate, read for authorityKeyIdentifier; pass `cert` itself when it is
/// self-signed. Returns 1 on success.
static inline int capnet_x509_add_extension(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *extension = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (extension == NULL) return 0;
    int ok = X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
    return ok == 1;
}

/// Writes `cert` as a PEM CERTIFICATE block into a new memory BIO; NULL on failure.
static inline BIO *capnet_certificate_pem(X509 *cert) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) return NULL;
    if (PEM_write_bio_X509(bio, cert) != 1) {
        BIO_free(bio);
        return NULL;
    }
    return bio;
}

#endif
