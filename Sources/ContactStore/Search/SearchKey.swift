/// The search index's row id for a contact (`contacts.search_key`): a number that sorts like the
/// username, group by group, so that the index hands out candidates nearly in username order and
/// a search stops soon instead of sorting every match.
///
/// The high 38 bits are the first seven characters of the lower-cased username read as a base-40
/// number (usernames are `[A-Za-z0-9._-]`, compared case-insensitively, in ASCII order, a shorter
/// name first); the low 25 bits tell apart up to 33,554,432 usernames that share those seven
/// characters (a *group*), in the order they were created, not by name. A search therefore reads
/// a group whole before it trusts the order (`SQLiteConnection.searchIndexBucket`).
///
/// Why not keys in exact username order: keeping them so as contacts come and go means
/// renumbering neighbours when two keys meet, which numbered usernames (`x-9`, `x-10`, `x-100`,
/// …) make frequent, and every renumbered contact is rewritten in four index tables: creates at
/// 16 connections stalled for seconds. A key here is fixed for a contact's life (a rename takes a
/// new one), and costs one index lookup to make.
enum SearchKey {
    static let prefixLength = 7
    static let sequenceBits = 25
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
