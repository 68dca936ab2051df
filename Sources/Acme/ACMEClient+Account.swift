import Foundation

/// The newAccount request body (RFC 8555 §7.3).
struct NewAccountRequest: Encodable {
    var contact: [String]?
    var termsOfServiceAgreed: Bool?
    var onlyReturnExisting: Bool?
    var externalAccountBinding: ExternalAccountBindingJWS?
}

/// The EAB JWS as a JSON object inside the newAccount payload.
struct ExternalAccountBindingJWS: Encodable {
    var protected: String
    var payload: String
    var signature: String
}

extension ACMEClient {
    /// Sets `accountURL` and returns it. A `knownURL` from the state
    /// directory is taken as is. Without one, the account registered for the
    /// key is looked up, and a new one is created only when there is none.
    @discardableResult
    public func ensureAccount(knownURL: String?) async throws -> String {
        if let knownURL {
            accountURL = knownURL
            return knownURL
        }
        if let existing = try await lookupAccount() { return existing }
        return try await createAccount()
    }

    /// Finds the account registered for the signer's key with
    /// `onlyReturnExisting` (RFC 8555 §7.3.1). Returns nil for
    /// `accountDoesNotExist`.
    public func lookupAccount() async throws -> String? {
        let url = try await loadDirectory().newAccount
        let payload = try encodePayload(NewAccountRequest(onlyReturnExisting: true))
        do {
            let response = try await post(url, payload: payload, useJWK: true)
            return try adoptAccount(from: response, url: url)
        } catch ACMEError.problem(let problem, _) where problem.type == .accountDoesNotExist {
            return nil
        }
    }

    /// Registers a new account with the configured contacts, terms-of-service
    /// agreement and, when configured, External Account Binding (RFC 8555 §7.3).
    public func createAccount() async throws -> String {
        let directory = try await loadDirectory()
        let url = directory.newAccount

        if let terms = directory.meta?.termsOfService, !configuration.termsOfServiceAgreed {
            throw ACMEError.termsOfServiceNotAgreed(url: terms)
        }

        var request = NewAccountRequest(contact: configuration.contact.isEmpty ? nil : configuration.contact,
                                        termsOfServiceAgreed: configuration.termsOfServiceAgreed ? true : nil)
        if let binding = configuration.externalAccountBinding {
            guard let macKey = Base64URL.decode(binding.macKeyBase64URL), !macKey.isEmpty else {
                throw ACMEError.invalidConfiguration("the External Account Binding MAC key is not base64url")
            }
            let jws = try JSONWebSignature.externalAccountBinding(keyID: binding.keyID, macKey: macKey,
                                                                  newAccountURL: url,
                                                                  accountKey: signer.publicJWK)
            request.externalAccountBinding = ExternalAccountBindingJWS(protected: jws.protected,
                                                                       payload: jws.payload,
                                                                       signature: jws.signature)
        } else if directory.meta?.externalAccountRequired == true {
            throw ACMEError.invalidConfiguration("the CA requires External Account Binding: give its key ID and MAC key (--acme-eab-kid, --acme-eab-hmac-key)")
        }

        let response = try await post(url, payload: try encodePayload(request), useJWK: true)
        let accountURL = try adoptAccount(from: response, url: url)
        Self.log.notice("ACME account ready", "account=\(accountURL) status=\(response.status)")
        return accountURL
    }

    /// Takes the account URL from `Location` (RFC 8555 §7.3) and checks the status.
    private func adoptAccount(from response: ACMEHTTPResponse, url: String) throws -> String {
        guard let location = response.header("Location") else {
            throw ACMEError.invalidResponse(url: url, detail: "no Location header in the account response")
        }
        let account = try decode(ACMEAccount.self, from: response, url: url)
        guard account.status == .valid else {
            throw ACMEError.invalidResponse(url: url, detail: "account status is \(account.status)")
        }
        let resolved = Self.resolve(location, against: url)
        accountURL = resolved
        return resolved
    }
}
