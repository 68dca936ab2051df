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
#endif
