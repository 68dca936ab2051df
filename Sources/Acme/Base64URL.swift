import Foundation

/// Base64url without padding, the encoding JOSE and ACME use for every binary
/// field (RFC 7515 §2, "Base64url Encoding"; RFC 4648 §5 alphabet).
public enum Base64URL {
    /// Encodes `bytes` with the URL-safe alphabet and strips the `=` padding.
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let standard = Data(bytes).base64EncodedString()
        var result = ""
        result.reserveCapacity(standard.utf8.count)
        for character in standard {
            switch character {
            case "+": result.append("-")
            case "/": result.append("_")
            case "=": continue
            default: result.append(character)
            }
        }
        return result
    }

    /// Encodes the UTF-8 bytes of `text`.
    public static func encode(_ text: String) -> String {
        encode(Array(text.utf8))
    }

    /// Decodes unpadded base64url. Returns nil for characters outside the
    /// alphabet, for padding, and for a length that no encoding produces.
    public static func decode(_ text: String) -> [UInt8]? {
        var standard = ""
        standard.reserveCapacity(text.utf8.count + 2)
        for character in text {
            switch character {
            case "-": standard.append("+")
            case "_": standard.append("/")
            case "+", "/", "=": return nil
            default: standard.append(character)
            }
        }
        // RFC 7515 Appendix C: a remainder of 1 is never produced by an encoder.
        switch standard.utf8.count % 4 {
        case 0: break
        case 2: standard += "=="
        case 3: standard += "="
        default: return nil
        }
        guard let data = Data(base64Encoded: standard) else { return nil }
        return Array(data)
    }
}
