/// The character sets a 2.1 `CHARSET` parameter may name that the reader decodes.
enum VCardCharset {
    case utf8, latin1, windows1252

    /// The set `name` (case-insensitive) names, or nil when it is not one we read.
    init?(name: String) {
        switch name.uppercased() {
        case "UTF-8", "UTF8", "US-ASCII", "ASCII": self = .utf8
        case "ISO-8859-1", "ISO8859-1", "LATIN1", "ISO_8859-1", "L1": self = .latin1
        case "WINDOWS-1252", "CP1252", "CP-1252", "X-CP1252": self = .windows1252
        default: return nil
        }
    }

    /// The names accepted, for messages.
    static let supported = "UTF-8, ISO-8859-1 and Windows-1252"

    /// Decodes `bytes`; nil when they are not valid in this set (only UTF-8 can fail).
    func decode(_ bytes: ArraySlice<UInt8>) -> String? {
        switch self {
        case .utf8:
            return String(validating: bytes, as: UTF8.self)
        case .latin1:
            var out = String.UnicodeScalarView()
            for byte in bytes { out.append(Unicode.Scalar(byte)) }
            return String(out)
        case .windows1252:
            var out = String.UnicodeScalarView()
            for byte in bytes {
                if (0x80...0x9F).contains(byte), let scalar = Unicode.Scalar(Self.windows1252High[Int(byte - 0x80)]) {
                    out.append(scalar)
                } else {
                    out.append(Unicode.Scalar(byte))
                }
            }
            return String(out)
        }
    }

    /// UTF-8 when the bytes are valid UTF-8, else Windows-1252 (a superset of ISO-8859-1 in
    /// practice): what 2.1 exports without a `CHARSET` hold.
    static func decodeGuessing(_ bytes: ArraySlice<UInt8>) -> String {
        Self.utf8.decode(bytes) ?? Self.windows1252.decode(bytes)!
    }

    /// Windows-1252's 0x80–0x9F (undefined positions map to the C1 control of the same number).
    private static let windows1252High: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,
        0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
        0x0153, 0x9D, 0x017E, 0x0178,
    ]
}
