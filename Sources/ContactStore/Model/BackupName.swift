/// The rules for a backup's file name, and the default name.
///
/// A name is a plain file name, never a path: 1 to 128 of the characters `A-Z a-z 0-9 . _ -`,
/// not starting with `.`. So `/`, `..`, NUL, spaces and control characters never reach the
/// file system, and no name can be one of the hidden temporary files a backup is written to
/// (`.NAME.tmp-…`) before it is linked under its name.
public enum BackupName {
    /// The longest name accepted, in characters (all ASCII).
    public static let maxLength = 128

    /// The names' rule as a JSON Schema pattern, for `rpc.discover`.
    public static let pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$"

    /// What is wrong with `name`, or nil when it is a valid backup name.
    public static func problem(with name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return "must not be empty" }
        if bytes.count > maxLength { return "must be at most \(maxLength) characters" }
        guard bytes.allSatisfy(isNameByte) else {
            return "must be a plain file name: letters, digits, '.', '_' and '-' only (no '/', space or control character)"
        }
        if bytes[0] == UInt8(ascii: ".") { return "must not start with '.' (no hidden file, '.' or '..')" }
        return nil
    }

    /// `contacts-YYYYMMDDTHHMMSSZ.db` for `time`, in UTC: `contacts-20261126T064532Z.db`.
    public static func defaultName(at time: Timestamp) -> String {
        // 2026-11-26T06:45:32.968Z, without its separators and milliseconds.
        let stamp = time.rfc3339.prefix(19).filter { $0 != "-" && $0 != ":" }
        return "contacts-\(stamp)Z.db"
    }

    /// True when `name` has the form of `defaultName(at:)` (the names periodic backups rotate).
    public static func isDefaultName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        let shape = Array("contacts-00000000T000000Z.db".utf8)
        guard bytes.count == shape.count else { return false }
        for (byte, expected) in zip(bytes, shape) {
            if expected == UInt8(ascii: "0") {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return false }
            } else if byte != expected {
                return false
            }
        }
        return true
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
