// libssl (OpenSSL 3) headers for capnet-load's client side.
//
// Swift cannot import function-like macros, so the helpers below wrap the
// SSL_ctrl-based macros the load generator needs.
#ifndef CAPNET_CLIBSSL_SHIM_H
#define CAPNET_CLIBSSL_SHIM_H
// Swift's Glibc module does not export epoll, which the load generator's
// event loop uses, so it comes in through this module too.
#include <sys/epoll.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/// Limits the context to TLS 1.3 only. Returns 1 on success.
static inline int capnet_ssl_ctx_set_tls13_only(SSL_CTX *ctx) {
    return SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)
        && SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
}

/// Sets the key exchange groups, as a colon-separated list of OpenSSL names.
static inline int capnet_ssl_ctx_set_groups(SSL_CTX *ctx, const char *groups) {
    return (int)SSL_CTX_set1_groups_list(ctx, groups);
}

/// Treats a TCP close without close_notify as an ordinary end of stream, as
/// HTTP/1.x servers that close after the response do.
static inline void capnet_ssl_ctx_ignore_unexpected_eof(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
}

/// Sets the server name indication (RFC 6066 section 3) for one connection.
static inline int capnet_ssl_set_server_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

/// Returns the NID of the key exchange group of the last handshake.
static inline int capnet_ssl_negotiated_group(SSL *ssl) {
    return (int)SSL_get_negotiated_group(ssl);
}

/// The reason code offset OpenSSL adds to a received alert's description.
static inline int capnet_ssl_alert_reason_offset(void) {
    return SSL_AD_REASON_OFFSET;
}

/// The reason code OpenSSL reports when certificate verification failed.
static inline int capnet_ssl_reason_certificate_verify_failed(void) {
    return SSL_R_CERTIFICATE_VERIFY_FAILED;
}
#endif
