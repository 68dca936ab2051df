// The http-01 challenge responses (RFC 8555 §8.3) the port-80 service may
// serve, and the capabilities that change them. The owner of the stack
// keeps the board and mints one publisher per ACME order, scoped to that
// order's tokens. The port-80 service receives only a reader.
import Synchronization

/// The reason a challenge token or key authorization was rejected.
public enum ACMEChallengeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The token is empty, longer than `ACMEChallengeBoard.maxTokenLength`,
    /// or has characters outside the base64url alphabet (RFC 8555 §8.3).
    case invalidToken(String)
    /// The token is not one this publisher was minted for.
    case tokenNotInScope(String)
    /// Another live publisher already owns the token.
    case tokenAlreadyOwned(String)
    /// The key authorization is not `token "." base64url(thumbprint)`
    /// (RFC 8555 §8.1).
    case invalidKeyAuthorization(token: String)
    /// Minting would exceed `ACMEChallengeBoard.maxOwnedTokens`.
    case tooManyTokens(owned: Int, requested: Int)

    public var description: String {
        switch self {
        case .invalidToken(let token): "invalid http-01 token \"\(token)\": use 1 to "
            + "\(ACMEChallengeBoard.maxTokenLength) base64url characters"
        case .tokenNotInScope(let token): "http-01 token \(token) is not in this publisher's scope"
        case .tokenAlreadyOwned(let token): "http-01 token \(token) is already owned by another publisher"
        case .invalidKeyAuthorization(let token): "invalid key authorization for http-01 token \(token): "
            + "expected the token, \".\", and a base64url thumbprint"
        case .tooManyTokens(let owned, let requested): "cannot own \(requested) more http-01 tokens: "
            + "\(owned) of \(ACMEChallengeBoard.maxOwnedTokens) are owned; retire finished orders first"
        }
    }
}

public final class ACMEChallengeBoard: Sendable {
    /// Maximum token length. RFC 8555 sets none (its §8.3 example token has
    /// 43 characters, 256 bits), so this only bounds memory.
    public static let maxTokenLength = 256
    /// Most tokens owned by live publishers at once; minting beyond it
    /// fails with `tooManyTokens`. It bounds the board's memory.
    public static let maxOwnedTokens = 1024

    struct State {
        /// token → key authorization, for published tokens.
        var published: [String: String] = [:]
        /// token → publisher id, for every token a live publisher owns.
        var owners: [String: UInt64] = [:]
        var nextPublisherID: UInt64 = 0
    }

    let state = Mutex(State())

    public init() {}

    /// The read side, for the port-80 service.
    public var reader: ACMEChallengeReader { ACMEChallengeReader(board: self) }

    /// Mints a publisher that may publish and retire exactly `tokens` (the
    /// tokens of one order). Fails if a token is invalid, owned by another
    /// live publisher, or the board would own more than `maxOwnedTokens`.
    public func mintPublisher(tokens: Set<String>) throws -> ACMEChallengePublisher {
        for token in tokens where !Self.isValidToken(token) { throw ACMEChallengeError.invalidToken(token) }
        let id = try state.withLock { state -> UInt64 in
            if let taken = tokens.first(where: { state.owners[$0] != nil }) {
                throw ACMEChallengeError.tokenAlreadyOwned(taken)
            }
            if state.owners.count + tokens.count > Self.maxOwnedTokens {
                throw ACMEChallengeError.tooManyTokens(owned: state.owners.count, requested: tokens.count)
            }
            let id = state.nextPublisherID
            state.nextPublisherID += 1
            for token in tokens { state.owners[token] = id }
            return id
        }
        return ACMEChallengePublisher(board: self, id: id, tokens: tokens)
    }

    /// base64url alphabet (RFC 4648 §5) without padding, 1...maxTokenLength.
    static func isValidToken(_ token: String) -> Bool {
        !token.isEmpty && token.utf8.count <= maxTokenLength && token.utf8.allSatisfy(isBase64URL)
    }

    static func isBase64URL(_ b: UInt8) -> Bool {
        ASCII.isAlpha(b) || ASCII.isDigit(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
    }
}

/// The capability to publish and retire the http-01 responses of one order.
/// Dropping it retires its tokens and frees them for a new publisher.
public final class ACMEChallengePublisher: Sendable {
    public let tokens: Set<String>
    private let board: ACMEChallengeBoard
    private let id: UInt64

    init(board: ACMEChallengeBoard, id: UInt64, tokens: Set<String>) {
        self.board = board
        self.id = id
        self.tokens = tokens
    }

    /// Serves `keyAuthorization` for `token` until it is retired.
    public func publish(token: String, keyAuthorization: String) throws {
        guard tokens.contains(token) else { throw ACMEChallengeError.tokenNotInScope(token) }
        let prefix = token + "."
        let thumbprint = keyAuthorization.utf8.dropFirst(prefix.utf8.count)
        guard keyAuthorization.hasPrefix(prefix), !thumbprint.isEmpty,
              thumbprint.count <= ACMEChallengeBoard.maxTokenLength,
              thumbprint.allSatisfy(ACMEChallengeBoard.isBase64URL)
        else { throw ACMEChallengeError.invalidKeyAuthorization(token: token) }
        board.state.withLock { $0.published[token] = keyAuthorization }
    }

    /// Stops serving `token`; it stays in this publisher's scope.
    public func retire(token: String) throws {
        guard tokens.contains(token) else { throw ACMEChallengeError.tokenNotInScope(token) }
        board.state.withLock { _ = $0.published.removeValue(forKey: token) }
    }

    /// Stops serving every token of this publisher.
    public func retireAll() {
        board.state.withLock { state in
            for token in tokens { state.published.removeValue(forKey: token) }
        }
    }

    deinit {
        let tokens = self.tokens, id = self.id
        board.state.withLock { state in
            for token in tokens where state.owners[token] == id {
                state.published.removeValue(forKey: token)
                state.owners.removeValue(forKey: token)
            }
        }
    }
}

/// The read side of the board: looks up published key authorizations and
/// can change nothing.
public struct ACMEChallengeReader: Sendable {
    private let board: ACMEChallengeBoard

    init(board: ACMEChallengeBoard) { self.board = board }

    /// Returns the key authorization published for `token`, or nil.
    public func keyAuthorization(for token: String) -> String? {
        board.state.withLock { $0.published[token] }
    }
}
