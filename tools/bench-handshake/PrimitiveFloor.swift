import CLibCrypto
import CBenchCrypto

/// The libcrypto work one full TLS 1.3 server handshake needs at least
/// (ECDSA P-256 certificate, X25519, TLS_AES_128_GCM_SHA256, one ticket),
/// each primitive called directly with its algorithm fetched once.
///
/// The counts follow the server side of the key schedule in RFC 8446 §7.1.
/// There are 3 HKDF-Extract steps (early, handshake and master secret) and 17
/// HKDF-Expand steps: 2 "derived", 4 traffic secrets, the resumption master
/// secret, 2 finished keys, key and IV for 4 traffic secrets, and the
/// ticket's PSK. There are 2 HMACs (both Finished messages) and 5 transcript
/// hash values over about `transcriptLength` bytes. One ECDSA signature covers
/// the 130-byte CertificateVerify content (RFC 8446 §4.4.3). X25519 needs one
/// key generation, peer key import and agreement. Last, 5 AEAD key setups (4
/// record keys and the ticket key) seal `sealedLength` bytes and open one
/// Finished record. The engine runs 2 more HKDF-Expand steps than this.
final class PrimitiveFloor {
    struct Part {
        let name: String
        let perHandshake: Int
        let run: () throws -> Void
    }

    static let extractsPerHandshake = 3
    static let expandsPerHandshake = 17
    static let hmacsPerHandshake = 2
    static let transcriptValuesPerHandshake = 5
    static let aeadKeysPerHandshake = 5
    /// ClientHello, ServerHello, EncryptedExtensions, Certificate, CertificateVerify and both Finished, estimated.
    static let transcriptLength = 1200
    /// The server's encrypted flight plus the ticket record, estimated.
    static let sealedLength = 800
    /// A protected client Finished: 32-byte verify_data, 4-byte header, type byte.
    static let finishedRecordLength = 37
    /// RFC 8446 §4.4.3: 64 spaces, the context string, a zero byte and a SHA-256 hash.
    static let certificateVerifyContentLength = 130

    private let signingKey: OpaquePointer
    private let sha256: OpaquePointer
    private let aes128GCM: OpaquePointer
    private let extractContext: OpaquePointer
    private let expandContext: OpaquePointer
    private let hmac: OpaquePointer
    private let x25519Generator: OpaquePointer
    private let peer: OpaquePointer
    private let peerPublic: [UInt8]

    init(keyPath: String) throws {
        let pem = try readFile(keyPath)
        guard let bio = pem.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw BenchError("BIO_new_mem_buf")
        }
        defer { BIO_free(bio) }
        guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else { throw BenchError("cannot read \(keyPath)") }
        signingKey = key
        guard let sha256 = EVP_MD_fetch(nil, "SHA2-256", nil), let aes = EVP_CIPHER_fetch(nil, "AES-128-GCM", nil),
              let kdf = EVP_KDF_fetch(nil, "HKDF", nil), let mac = EVP_MAC_fetch(nil, "HMAC", nil) else {
            throw BenchError("fetching SHA-256, AES-128-GCM, HKDF or HMAC")
        }
        self.sha256 = sha256
        aes128GCM = aes
        hmac = mac
        // One context per HKDF mode, set up once with its digest and mode.
        guard let extract = EVP_KDF_CTX_new(kdf), let expand = EVP_KDF_CTX_new(kdf) else { throw BenchError("EVP_KDF_CTX_new") }
        EVP_KDF_free(kdf)
        guard capnet_bench_hkdf_setup(extract, 1) == 1, capnet_bench_hkdf_setup(expand, 0) == 1 else {
            throw BenchError("HKDF context setup")
        }
        extractContext = extract
        expandContext = expand
        guard let generator = EVP_PKEY_CTX_new_from_name(nil, "X25519", nil), EVP_PKEY_keygen_init(generator) == 1 else {
            throw BenchError("X25519 key generation context")
        }
        x25519Generator = generator
        var peerKey: OpaquePointer? = nil
        guard EVP_PKEY_generate(generator, &peerKey) == 1, let peerKey else { throw BenchError("X25519 peer key") }
        peer = peerKey
        var raw = [UInt8](repeating: 0, count: Self.x25519KeyLength)
        var rawLength = raw.count
        guard EVP_PKEY_get_raw_public_key(peerKey, &raw, &rawLength) == 1 else { throw BenchError("X25519 public key") }
        peerPublic = raw
    }

    static let x25519KeyLength = 32
    static let sha256Length = 32

    deinit {
        EVP_PKEY_free(signingKey)
        EVP_MD_free(sha256)
        EVP_CIPHER_free(aes128GCM)
        EVP_KDF_CTX_free(extractContext)
        EVP_KDF_CTX_free(expandContext)
        EVP_MAC_free(hmac)
        EVP_PKEY_CTX_free(x25519Generator)
        EVP_PKEY_free(peer)
    }

    /// The primitives, each as one operation and the number one handshake needs.
    var parts: [Part] {
        [
            Part(name: "ECDSA P-256 sign", perHandshake: 1, run: signOnce),
            Part(name: "X25519 keygen+import+derive", perHandshake: 1, run: agreeOnce),
            Part(name: "HKDF-Extract SHA-256", perHandshake: Self.extractsPerHandshake, run: extractOnce),
            Part(name: "HKDF-Expand SHA-256", perHandshake: Self.expandsPerHandshake, run: expandOnce),
            Part(name: "HMAC SHA-256", perHandshake: Self.hmacsPerHandshake, run: hmacOnce),
            Part(name: "transcript SHA-256 (\(Self.transcriptLength) B, 5 values)", perHandshake: 1, run: transcriptOnce),
            Part(name: "AES-128-GCM key setup", perHandshake: Self.aeadKeysPerHandshake, run: aeadKeyOnce),
            Part(name: "AES-128-GCM seal \(Self.sealedLength) B + open \(Self.finishedRecordLength) B", perHandshake: 1,
                 run: aeadDataOnce),
        ]
    }

    private let message = [UInt8](repeating: 0x20, count: PrimitiveFloor.certificateVerifyContentLength)
    private let secret = [UInt8](repeating: 0x11, count: PrimitiveFloor.sha256Length)
    private let label = [UInt8](repeating: 0x74, count: 40)
    private let transcript = [UInt8](repeating: 0x16, count: PrimitiveFloor.transcriptLength)
    private let key16 = [UInt8](repeating: 0x42, count: 16)
    private let nonce = [UInt8](repeating: 0x24, count: 12)

    private func signOnce() throws {
        guard let context = EVP_MD_CTX_new() else { throw BenchError("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        var signature = [UInt8](repeating: 0, count: Self.maxSignatureLength)
        var length = signature.count
        guard EVP_DigestSignInit_ex(context, nil, "SHA2-256", nil, nil, signingKey, nil) == 1,
              EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else {
            throw BenchError("ECDSA sign")
        }
    }

    static let maxSignatureLength = 80

    private func agreeOnce() throws {
        var key: OpaquePointer? = nil
        guard EVP_PKEY_generate(x25519Generator, &key) == 1, let key else { throw BenchError("X25519 keygen") }
        defer { EVP_PKEY_free(key) }
        var ours = [UInt8](repeating: 0, count: Self.x25519KeyLength)
        var oursLength = ours.count
        guard EVP_PKEY_get_raw_public_key(key, &ours, &oursLength) == 1,
              let theirs = EVP_PKEY_new_raw_public_key_ex(nil, "X25519", nil, peerPublic, peerPublic.count) else {
            throw BenchError("X25519 public key")
        }
        defer { EVP_PKEY_free(theirs) }
        guard let derive = EVP_PKEY_CTX_new_from_pkey(nil, key, nil) else { throw BenchError("derive context") }
        defer { EVP_PKEY_CTX_free(derive) }
        var shared = [UInt8](repeating: 0, count: Self.x25519KeyLength)
        var sharedLength = shared.count
        guard EVP_PKEY_derive_init(derive) == 1, EVP_PKEY_derive_set_peer(derive, theirs) == 1,
              EVP_PKEY_derive(derive, &shared, &sharedLength) == 1 else { throw BenchError("X25519 derive") }
    }

    private func extractOnce() throws {
        var output = [UInt8](repeating: 0, count: Self.sha256Length)
        guard capnet_bench_hkdf_run(extractContext, secret, secret.count, secret, secret.count, &output, output.count) == 1 else {
            throw BenchError("HKDF-Extract")
        }
    }

    private func expandOnce() throws {
        var output = [UInt8](repeating: 0, count: Self.sha256Length)
        guard capnet_bench_hkdf_run(expandContext, secret, secret.count, label, label.count, &output, output.count) == 1 else {
            throw BenchError("HKDF-Expand")
        }
    }

    private func hmacOnce() throws {
        var output = [UInt8](repeating: 0, count: Self.sha256Length)
        var length = 0
        guard capnet_hmac(hmac, "SHA2-256", secret, secret.count, secret, secret.count, &output, output.count, &length) == 1 else {
            throw BenchError("HMAC")
        }
    }

    private func transcriptOnce() throws {
        guard let context = EVP_MD_CTX_new(), let copy = EVP_MD_CTX_new() else { throw BenchError("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context); EVP_MD_CTX_free(copy) }
        var output = [UInt8](repeating: 0, count: Self.sha256Length)
        var length: UInt32 = 0
        guard EVP_DigestInit_ex2(context, sha256, nil) == 1 else { throw BenchError("digest init") }
        let step = transcript.count / Self.transcriptValuesPerHandshake
        for index in 0..<Self.transcriptValuesPerHandshake {
            _ = transcript.withUnsafeBufferPointer { EVP_DigestUpdate(context, $0.baseAddress! + index * step, step) }
            guard EVP_MD_CTX_copy_ex(copy, context) == 1, EVP_DigestFinal_ex(copy, &output, &length) == 1 else {
                throw BenchError("digest final")
            }
        }
    }

    private func aeadKeyOnce() throws {
        guard let context = EVP_CIPHER_CTX_new() else { throw BenchError("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_EncryptInit_ex2(context, aes128GCM, key16, nil, nil) == 1 else { throw BenchError("cipher init") }
    }

    private func aeadDataOnce() throws {
        guard let context = EVP_CIPHER_CTX_new() else { throw BenchError("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        var buffer = [UInt8](repeating: 0, count: Self.sealedLength + Self.tagLength)
        var length: Int32 = 0
        var tag = [UInt8](repeating: 0, count: Self.tagLength)
        guard EVP_EncryptInit_ex2(context, aes128GCM, key16, nil, nil) == 1,
              EVP_EncryptInit_ex2(context, nil, nil, nonce, nil) == 1,
              EVP_EncryptUpdate(context, &buffer, &length, transcript, Int32(Self.sealedLength)) == 1,
              EVP_EncryptFinal_ex(context, &buffer, &length) == 1,
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(Self.tagLength), &tag) == 1 else {
            throw BenchError("AES-GCM seal")
        }
        // Opening the client Finished: a decryption of the same size; the
        // tag check is left out because these bytes carry no valid tag.
        guard EVP_DecryptInit_ex2(context, aes128GCM, key16, nonce, nil) == 1,
              EVP_DecryptUpdate(context, &buffer, &length, transcript, Int32(Self.finishedRecordLength)) == 1 else {
            throw BenchError("AES-GCM open")
        }
    }

    static let tagLength = 16

    /// Times each part over `iterations` operations; returns microseconds per operation.
    func measure(iterations: Int) throws -> [(part: Part, microseconds: Double)] {
        try parts.map { part in
            try part.run()  // warm-up
            var tally = CPUTally()
            try tally.measure { for _ in 0..<iterations { try part.run() } }
            tally.count = iterations
            return (part, tally.microsecondsPerOperation)
        }
    }
}
