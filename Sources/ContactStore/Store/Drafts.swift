/// A validated contact to create.
public struct NewContact: Sendable, Equatable {
    public var username: String
    public var firstName: String
    public var lastName: String
    public var emails: [Email]

    /// Validates every field and throws `.invalid` listing all problems.
    public init(username: String, firstName: String, lastName: String, emails: [String]) throws(StoreError) {
        var errors: [FieldError] = []
        let username = Validation.username(username, into: &errors)
        let first = Validation.name(firstName, field: "first_name", into: &errors)
        let last = Validation.name(lastName, field: "last_name", into: &errors)
        let emails = Validation.emails(emails, into: &errors)
        guard errors.isEmpty, let username, let first, let last, let emails else { throw .invalid(errors) }
        self.init(validatedUsername: username, firstName: first, lastName: last, emails: emails)
    }

    /// Wraps fields that already went through `Validation`.
    public init(validatedUsername username: String, firstName: String, lastName: String, emails: [Email]) {
        self.username = username
        self.firstName = firstName
        self.lastName = lastName
        self.emails = emails
    }
}

/// A validated partial update. `nil` fields stay as they are; `emails` replaces the whole set;
/// `addEmails` and `removeEmails` change it relative to what is stored, inside the same
/// transaction, so two clients adding addresses at once both keep theirs.
public struct ContactUpdate: Sendable, Equatable {
    public var username: String
    public var newUsername: String?
    public var firstName: String?
    public var lastName: String?
    public var emails: [Email]?
    public var addEmails: [Email]?
    public var removeEmails: [Email]?
    public var expectedVersion: Int64?

    /// Wraps fields that already went through `Validation`.
    public init(
        username: String, newUsername: String? = nil, firstName: String? = nil, lastName: String? = nil,
        emails: [Email]? = nil, expectedVersion: Int64? = nil
    ) {
        self.username = username
        self.newUsername = newUsername
        self.firstName = firstName
        self.lastName = lastName
        self.emails = emails
        self.expectedVersion = expectedVersion
    }

    /// True when at least one field would change.
    public var hasChanges: Bool {
        newUsername != nil || firstName != nil || lastName != nil || emails != nil || addEmails != nil
            || removeEmails != nil
    }
}

/// What `list` returns: one page, the cursor for the next (nil at the end), and the change
/// log's head in the page's snapshot: following `changes` from the first page's `headSeq`, after
/// listing every page, misses nothing.
public struct ContactPage: Sendable, Equatable {
    public var contacts: [Contact]
    public var nextCursor: String?
    public var headSeq: Int64
}

/// A `list` request. `cursor` comes from a previous page's `nextCursor`.
public struct ListQuery: Sendable, Equatable {
    public static let defaultLimit = 100
    public static let maxLimit = 1000

    public var limit: Int
    public var after: String?
    public var usernamePrefix: String?
    public var email: String?

    /// A query; `after` is a decoded cursor (see `ListCursor`).
    public init(limit: Int = ListQuery.defaultLimit, after: String? = nil, usernamePrefix: String? = nil, email: String? = nil) {
        self.limit = limit
        self.after = after
        self.usernamePrefix = usernamePrefix
        self.email = email
    }
}

/// The opaque keyset cursor: "c", the hex of the last username's UTF-8 bytes, then 8 hex digits
/// of a keyed checksum over them, so a string this server did not issue (made up, cut or changed)
/// is refused rather than read as a position. Clients must not build it; the format may change (a
/// new prefix letter) without notice. The key is fixed, so every server on every file issues and
/// accepts the same cursors.
public enum ListCursor {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
    private static let key: [UInt8] = Array("contactsd list cursor 1".utf8)

    /// The cursor that continues after `username`.
    public static func encode(after username: String) -> String {
        var out: [UInt8] = [UInt8(ascii: "c")]
        let bytes = Array(username.utf8)
        appendHex(bytes, to: &out)
        let sum = checksum(bytes)
        appendHex([UInt8(sum >> 24), UInt8(sum >> 16 & 0xFF), UInt8(sum >> 8 & 0xFF), UInt8(sum & 0xFF)], to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The username a cursor continues after, or nil when the cursor is not one of ours.
    public static func decode(_ cursor: String) -> String? {
        let bytes = Array(cursor.utf8)
        guard bytes.first == UInt8(ascii: "c"), bytes.count > 9, bytes.count % 2 == 1,
            bytes.count <= 9 + 2 * Validation.maxUsernameLength
        else { return nil }
        func nibble(_ b: UInt8) -> UInt8? {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
            default: return nil
            }
        }
        var raw: [UInt8] = []
        var index = 1
        while index < bytes.count {
            guard let high = nibble(bytes[index]), let low = nibble(bytes[index + 1]) else { return nil }
            raw.append(high << 4 | low)
            index += 2
        }
        let sum = raw.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        raw.removeLast(4)
        guard !raw.isEmpty, sum == checksum(raw), raw.allSatisfy(Validation.isUsernameByte) else { return nil }
        return String(decoding: raw, as: UTF8.self)
    }

    private static func appendHex(_ bytes: [UInt8], to out: inout [UInt8]) {
        for byte in bytes {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0xF)])
        }
    }

    /// FNV-1a (32 bits) over the key, then the bytes: not a secret, a check that the server made it.
    private static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in key + bytes {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        return hash
    }
}
