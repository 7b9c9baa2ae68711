extension Timestamp {
    /// Reads the form `rfc3339` writes, `2026-11-24T23:40:10.123Z` (24 bytes, UTC, milliseconds);
    /// nil for anything else, other RFC 3339 spellings included.
    /// - Parameter text: A timestamp as the server sends it (`created_at`, a change's `at`).
    public init?(rfc3339 text: String) {
        var text = text
        guard let milliseconds = text.withUTF8({ Self.milliseconds(ofRFC3339: $0) }) else { return nil }
        self.init(milliseconds: milliseconds)
    }

    /// Where the fixed characters of the form go.
    private static let separators: [(Int, UInt8)] = [
        (4, UInt8(ascii: "-")), (7, UInt8(ascii: "-")), (10, UInt8(ascii: "T")), (13, UInt8(ascii: ":")),
        (16, UInt8(ascii: ":")), (19, UInt8(ascii: ".")), (23, UInt8(ascii: "Z")),
    ]

    private static func milliseconds(ofRFC3339 bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard bytes.count == 24 else { return nil }
        for (offset, separator) in separators where bytes[offset] != separator { return nil }
        func number(_ from: Int, _ width: Int) -> Int? {
            var value = 0
            for index in from..<(from + width) {
                let digit = Int(bytes[index]) &- 48
                guard digit >= 0 && digit <= 9 else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
            let minute = number(14, 2), let second = number(17, 2), let millisecond = number(20, 3),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        let days = Int64(Self.days(fromCivil: year, month, day))
        return ((days * 86_400 + Int64(hour * 3600 + minute * 60 + second)) * 1000) + Int64(millisecond)
    }

    /// Howard Hinnant's days-from-civil algorithm, the inverse of `civil(fromDays:)`.
    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
