/// The validation rules for every contact field. The server and the task runner both use these,
/// so nothing can be stored that the server would refuse.
///
/// Each check appends to `errors` instead of throwing, so that one response lists every problem.
public enum Validation {
    /// Longest username, in characters.
    public static let maxUsernameLength = 64
    /// Longest first or last name, in characters (after trimming).
    public static let maxNameLength = 100
    /// Most email addresses on one contact.
    public static let maxEmails = 20
    /// Longest email address, in characters (after trimming).
    public static let maxEmailLength = 254

    /// `[A-Za-z0-9._-]{1,64}`, starting with a letter or digit. Never trimmed: a username is an identifier.
    public static func username(_ value: String, field: String = "username", into errors: inout [FieldError]) -> String? {
        let bytes = value.utf8
        if bytes.isEmpty {
            errors.append(FieldError(field: field, message: "must not be empty"))
            return nil
        }
        if bytes.count > maxUsernameLength {
            errors.append(FieldError(field: field, message: "must be at most \(maxUsernameLength) characters"))
            return nil
        }
        guard bytes.allSatisfy(isUsernameByte) else {
            errors.append(FieldError(field: field, message: "may contain only letters A-Z a-z, digits, '.', '_' and '-'"))
            return nil
        }
        guard let first = bytes.first, isAlphanumeric(first) else {
            errors.append(FieldError(field: field, message: "must start with a letter or a digit"))
            return nil
        }
        return value
    }

    /// True when every byte could appear in a username (used to reject cursors and prefixes cheaply).
    public static func isUsernameByte(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    /// A first or last name: trimmed, 1–100 characters of any script, no control characters.
    public static func name(_ value: String, field: String, into errors: inout [FieldError]) -> String? {
        let trimmed = trim(value)
        if trimmed.isEmpty {
            errors.append(FieldError(field: field, message: "must not be empty"))
            return nil
        }
        if trimmed.count > maxNameLength {
            errors.append(FieldError(field: field, message: "must be at most \(maxNameLength) characters"))
            return nil
        }
        if trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            errors.append(FieldError(field: field, message: "must not contain control characters"))
            return nil
        }
        return nfc(trimmed)
    }

    /// One address: trimmed, at most 254 characters, one `@`, a non-empty local part and a dotted domain.
    public static func email(_ value: String, field: String, into errors: inout [FieldError]) -> Email? {
        let trimmed = trim(value)
        func fail(_ message: String) -> Email? {
            errors.append(FieldError(field: field, message: message))
            return nil
        }
        if trimmed.isEmpty { return fail("must not be empty") }
        if trimmed.count > maxEmailLength { return fail("must be at most \(maxEmailLength) characters") }
        if trimmed.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) {
            return fail("must not contain spaces or control characters")
        }
        let parts = trimmed.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return fail("must contain exactly one @") }
        if parts[0].isEmpty { return fail("must have a non-empty part before the @") }
        let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty }) else {
            return fail("must have a dotted domain after the @, like example.com")
        }
        return Email(address: nfc(trimmed))
    }

    /// A whole email list: at most 20, each valid, no duplicates (case-insensitively).
    public static func emails(_ values: [String], field: String = "emails", into errors: inout [FieldError]) -> [Email]? {
        emails(indexed: values.enumerated().map { ($0.offset, $0.element) }, count: values.count, field: field, into: &errors)
    }

    /// The same checks for a list whose entries are known by their original index (entries that
    /// were not text at all are left out by the caller, which reports them itself).
    public static func emails(
        indexed values: [(index: Int, value: String)], count: Int, field: String = "emails",
        into errors: inout [FieldError]
    ) -> [Email]? {
        if count > maxEmails {
            errors.append(FieldError(field: field, message: "must hold at most \(maxEmails) addresses"))
            return nil
        }
        var result: [Email] = []
        var seen: [String: Int] = [:]
        let before = errors.count
        for (index, value) in values {
            guard let email = email(value, field: "\(field)[\(index)]", into: &errors) else { continue }
            if let first = seen[email.key] {
                errors.append(FieldError(field: "\(field)[\(index)]", message: "duplicates \(field)[\(first)]"))
                continue
            }
            seen[email.key] = index
            result.append(email)
        }
        return errors.count == before ? result : nil
    }

    /// `value` in Unicode Normalization Form C, so that `é` typed as one scalar and as `e` plus a
    /// combining accent are the same text byte for byte (SQLite compares bytes). Every name and
    /// address is normalised on input, by the server and the task runner alike; usernames are
    /// ASCII, which NFC never changes. ASCII text, nearly all input, costs one pass over its bytes.
    public static func nfc(_ value: String) -> String {
        if value.utf8.allSatisfy({ $0 < 0x80 }) { return value }
        // The standard library's own normaliser (what String comparison uses); Foundation's
        // precomposedStringWithCanonicalMapping would be the only other one, and no module here
        // imports Foundation.
        return String(decoding: value._nfcCodeUnits, as: UTF8.self)
    }

    /// Trims Unicode white space (including newlines) from both ends, as every text field is.
    public static func trim(_ value: String) -> String {
        let scalars = value.unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[start...end])
    }
}
