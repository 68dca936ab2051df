import Foundation
import CapnetBase

/// The newOrder request body (RFC 8555 §7.4; `replaces` from RFC 9773 §5).
struct NewOrderRequest: Encodable {
    var identifiers: [ACMEIdentifier]
    var replaces: String?
}

/// The finalize request body (RFC 8555 §7.4).
struct FinalizeRequest: Encodable {
    var csr: String
}

/// A certificate chain as downloaded (RFC 8555 §7.4.2).
public struct ACMEIssuedCertificate: Sendable {
    /// The PEM chain, leaf first.
    public var chainPEM: String
    /// Chains offered with `Link: rel="alternate"`, in the server's order.
    public var alternateChainsPEM: [String]
    public var orderURL: String
    public var certificateURL: String
}

extension ACMEClient {
    /// Upper bound on alternate chains downloaded for one certificate.
    static let maxAlternateChains = 4

    /// Runs one order to completion: newOrder, http-01 for each pending
    /// authorization, finalize with `csrDER`, polling, and the download.
    /// `replaces` names the ARI certificate identifier of the certificate
    /// being renewed (RFC 9773 §5).
    public func issueCertificate(identifiers: [ACMEIdentifier], csrDER: [UInt8],
                                 replaces: String? = nil) async throws -> ACMEIssuedCertificate {
        let directory = try await loadDirectory()

        // 1. Create the order (RFC 8555 §7.4).
        let request = NewOrderRequest(identifiers: identifiers, replaces: replaces)
        let created = try await post(directory.newOrder, payload: try encodePayload(request))
        guard let location = created.header("Location") else {
            throw ACMEError.invalidResponse(url: directory.newOrder, detail: "no Location header in the newOrder response")
        }
        let orderURL = Self.resolve(location, against: directory.newOrder)
        var order = try decode(ACMEOrder.self, from: created, url: orderURL)
        Self.log.info("order created", "order=\(orderURL) identifiers=\(identifiers.map(\.description))")

        // 2. Satisfy each authorization (RFC 8555 §7.5).
        for authorizationURL in order.authorizations {
            try await authorize(authorizationURL)
        }

        // 3. Wait for "ready" (RFC 8555 §7.1.6).
        order = try await poll(orderURL, as: ACMEOrder.self, waitingWhile: [.pending], status: \.status)
        guard order.status == .ready else { throw ACMEError.orderFailed(url: orderURL, problem: order.error) }

        // 4. Finalize, then wait while "processing" (RFC 8555 §7.4).
        let finalizePayload = try encodePayload(FinalizeRequest(csr: Base64URL.encode(csrDER)))
        let finalized = try await post(order.finalize, payload: finalizePayload)
        order = try decode(ACMEOrder.self, from: finalized, url: order.finalize)
        if order.status == .processing {
            let delay = pollInterval(retryAfter: finalized.retryAfter(now: clock.now()))
            order = try await poll(orderURL, as: ACMEOrder.self, waitingWhile: [.processing],
                                   status: \.status, initialDelay: delay)
        }
        guard order.status == .valid, let certificateURL = order.certificate else {
            throw ACMEError.orderFailed(url: orderURL, problem: order.error)
        }

        // 5. Download the chain and its alternates (RFC 8555 §7.4.2).
        return try await downloadCertificate(certificateURL, orderURL: orderURL)
    }

    /// Completes one authorization with http-01. The key authorization is
    /// published only from just before the challenge response until the
    /// authorization leaves "pending", and retired on every path.
    func authorize(_ url: String) async throws {
        let authorization = try decode(ACMEAuthorization.self, from: try await post(url, payload: nil), url: url)
        let identifier = authorization.identifier.description
        if authorization.status == .valid { return }
        guard authorization.status == .pending else {
            throw ACMEError.authorizationFailed(identifier: identifier, problem: nil)
        }
        // NOTE: only http-01 is answered; dns-01 and tls-alpn-01 are not implemented.
        guard let challenge = authorization.challenges.first(where: { $0.type == ACMEChallenge.http01 }),
              let token = challenge.token else {
            throw ACMEError.noSupportedChallenge(identifier: identifier)
        }
        // RFC 8555 §8.3: the token is base64url; anything else could escape
        // the responder's path.
        guard !token.isEmpty, Base64URL.decode(token) != nil else {
            throw ACMEError.invalidResponse(url: url, detail: "challenge token is not base64url")
        }

        let keyAuthorization = try signer.publicJWK.keyAuthorization(token: token)
        try await responder.publish(token: token, keyAuthorization: keyAuthorization)
        let final: ACMEAuthorization
        do {
            if challenge.status == .pending {
                // RFC 8555 §7.5.1: an empty JSON object requests validation.
                _ = try await post(challenge.url, payload: Array("{}".utf8))
            }
            final = try await poll(url, as: ACMEAuthorization.self, waitingWhile: [.pending], status: \.status)
        } catch {
            await responder.retire(token: token)
            throw error
        }
        await responder.retire(token: token)

        guard final.status == .valid else {
            let problem = final.challenges.first { $0.type == ACMEChallenge.http01 }?.error
            Self.log.warning("authorization failed", "identifier=\(identifier) status=\(final.status)")
            throw ACMEError.authorizationFailed(identifier: identifier, problem: problem)
        }
        Self.log.info("authorization valid", "identifier=\(identifier)")
    }

    /// POST-as-GETs `url` until its status leaves `waitingWhile`, waiting
    /// Retry-After (clamped to the poll policy) or the default interval
    /// between polls. The first poll happens after `initialDelay`.
    func poll<Resource: Decodable>(_ url: String, as type: Resource.Type, waitingWhile: Set<ACMEStatus>,
                                   status: (Resource) -> ACMEStatus,
                                   initialDelay: Nanoseconds = .zero) async throws -> Resource {
        let policy = configuration.pollPolicy
        var delay = initialDelay
        var lastStatus = ACMEStatus.pending
        for pollNumber in 1...max(1, policy.maxPolls) {
            if Nanoseconds.zero < delay { try await clock.sleep(for: delay) }
            let response = try await post(url, payload: nil)
            let resource = try decode(type, from: response, url: url)
            lastStatus = status(resource)
            if !waitingWhile.contains(lastStatus) { return resource }
            delay = pollInterval(retryAfter: response.retryAfter(now: clock.now()))
            Self.log.debug("polling", "url=\(url) status=\(lastStatus) poll=\(pollNumber) next=\(delay.seconds)s")
        }
        throw ACMEError.pollingExhausted(url: url, status: lastStatus.rawValue, polls: policy.maxPolls)
    }

    /// Returns the wait before the next poll: Retry-After clamped to the policy, or its default.
    func pollInterval(retryAfter: Nanoseconds?) -> Nanoseconds {
        let policy = configuration.pollPolicy
        guard let retryAfter else { return policy.defaultInterval }
        return min(max(retryAfter, policy.minInterval), policy.maxInterval)
    }

    /// Downloads the PEM chain and up to `maxAlternateChains` alternates.
    func downloadCertificate(_ url: String, orderURL: String) async throws -> ACMEIssuedCertificate {
        let response = try await post(url, payload: nil, accept: Self.certificateChainContentType)
        let chain = String(decoding: response.body, as: UTF8.self)
        guard chain.contains("-----BEGIN CERTIFICATE-----") else {
            throw ACMEError.invalidResponse(url: url, detail: "the body is not a PEM certificate chain")
        }

        var alternates: [String] = []
        let alternateURLs = response.links.filter { $0.relation == "alternate" }.map { Self.resolve($0.url, against: url) }
        for alternateURL in alternateURLs.prefix(Self.maxAlternateChains) {
            let alternate = try await post(alternateURL, payload: nil, accept: Self.certificateChainContentType)
            alternates.append(String(decoding: alternate.body, as: UTF8.self))
        }
        Self.log.notice("certificate downloaded", "url=\(url) alternates=\(alternates.count)")
        return ACMEIssuedCertificate(chainPEM: chain, alternateChainsPEM: alternates,
                                     orderURL: orderURL, certificateURL: url)
    }
}
