internal import Foundation

/// The reference that ties what a user sees to the full detail in the log.
///
/// It is the RFC 9457 `instance` of the rendered problem and the `correlation_id` metadata of the
/// log entry. A new one is a random UUID; an id taken from outside (for example an `X-Request-ID`
/// header) is accepted only if it is 1–128 URI-unreserved characters (`A–Z a–z 0–9 - . _ ~`), so
/// it can never carry markup, a newline or anything else into the response.
public struct CorrelationID: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The id's text.
    public let rawValue: String

    /// The longest accepted id.
    public static let maximumLength = 128

    /// A fresh random id (a lowercase UUID).
    public init() {
        rawValue = UUID().uuidString.lowercased()
    }

    /// `text` as an id, or `nil` if it is empty, longer than ``maximumLength`` or has a character
    /// outside `A–Z a–z 0–9 - . _ ~`.
    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= Self.maximumLength,
            text.utf8.allSatisfy(Self.isUnreserved)
        else { return nil }
        rawValue = text
    }

    /// Decodes an id, rejecting text ``init(_:)`` would reject.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = CorrelationID(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a valid correlation id"))
        }
        self = id
    }

    /// Encodes the id as a string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The id's text.
    public var description: String { rawValue }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}
