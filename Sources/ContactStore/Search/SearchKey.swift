/// The search index's row id for a contact: a number that sorts like the username, so that the
/// index hands out candidates in username order and a search can stop after the first few.
///
/// The high 48 bits are the first nine characters of the lower-cased username read as a base-40
/// number (usernames are `[A-Za-z0-9._-]`, compared case-insensitively; the digits follow ASCII
/// order, and a shorter name sorts first); the low 15 bits tell apart up to 32,768 usernames that
/// share those nine characters (a *group*), in no particular order. A search therefore reads a
/// group whole before it trusts the order (`SQLiteConnection.searchIndexBucket`).
enum SearchKey {
    static let prefixLength = 9
    static let sequenceBits = 15
    static let groupSize: Int64 = 1 << sequenceBits

    /// The group a username belongs to (the key without its sequence bits).
    static func group(_ username: String) -> Int64 {
        var value: Int64 = 0
        var bytes = username.utf8.makeIterator()
        for _ in 0..<prefixLength {
            value = value * 40 + Int64(bytes.next().map(digit) ?? 0)
        }
        return value
    }

    /// The group of a key.
    static func group(ofKey key: Int64) -> Int64 { key >> Int64(sequenceBits) }

    /// Every key of a group.
    static func keys(ofGroup group: Int64) -> ClosedRange<Int64> {
        (group << Int64(sequenceBits))...((group << Int64(sequenceBits)) | (groupSize - 1))
    }

    /// A username byte's digit, 1...39 in the order of SQLite's NOCASE (0 is "no character").
    private static func digit(_ byte: UInt8) -> Int {
        switch byte {
        case UInt8(ascii: "-"): 1
        case UInt8(ascii: "."): 2
        case UInt8(ascii: "0")...UInt8(ascii: "9"): 3 + Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "_"): 13
        case UInt8(ascii: "a")...UInt8(ascii: "z"): 14 + Int(byte - UInt8(ascii: "a"))
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): 14 + Int(byte - UInt8(ascii: "A"))
        default: 39  // not a username character; validation keeps them out
        }
    }
}
