// Random secrets from the system CSPRNG, encoded as base64url, and their
// comparison in constant time.
import Foundation

enum SecretBytes {
    /// 256 bits, for the admin token and session ids.
    static let byteCount = 32

    /// Fills `count` bytes from SystemRandomNumberGenerator, which on Linux
    /// reads getrandom(2), the kernel CSPRNG (falling back to /dev/urandom).
    static func random(count: Int = byteCount) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// Returns a fresh random secret as unpadded base64url (RFC 4648 §5): 43 characters for 32 bytes.
    static func randomToken() -> String {
        base64URL(random())
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// Checks whether `text` has the form `randomToken()` produces: 43 base64url characters.
    static func isWellFormedToken(_ text: String) -> Bool {
        let length = (byteCount * 4 + 2) / 3
        return text.utf8.count == length && text.utf8.allSatisfy {
            ASCII.isAlpha($0) || ASCII.isDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
        }
    }

    /// Compares two secrets in time that depends only on their lengths, so
    /// that response timing does not reveal how many leading bytes matched.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<x.count { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}
