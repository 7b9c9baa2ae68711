import ContactStore

/// Builds realistic random contacts that pass the server's own validation.
public enum RandomContactFactory {
    /// The reserved example domains (RFC 2606): never a real mailbox.
    public static let domains = ["example.com", "example.org", "example.net"]

    /// A contact whose every field comes from `generator`; `suffix` makes the username unique
    /// (for jobs it is derived from the job id, so a redelivery builds the very same contact).
    public static func make(suffix: String, using generator: inout some RandomNumberGenerator) throws(StoreError) -> NewContact {
        let first = Names.first.randomElement(using: &generator)!
        let last = Names.last.randomElement(using: &generator)!
        let base = asciiSlug("\(first).\(last)")
        let username = String((base.isEmpty ? "contact" : base).prefix(Validation.maxUsernameLength - suffix.count - 1)) + "-" + suffix
        let count = Int.random(in: 1...3, using: &generator)
        let shuffled = domains.shuffled(using: &generator)
        let emails = (0..<count).map { index in
            let local = index == 0 ? username : "\(username).\(index + 1)"
            return "\(local)@\(shuffled[index])"
        }
        return try NewContact(username: username, firstName: first, lastName: last, emails: emails)
    }

    /// Lower-case ASCII letters, digits and dots only: "Chloé.O'Neill" becomes "chloe.oneill".
    static func asciiSlug(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.lowercased().unicodeScalars {
            for plain in (plainLetters[scalar] ?? String(scalar)).unicodeScalars
            where plain.isASCII && Validation.isUsernameByte(UInt8(plain.value)) {
                out.append(plain)
            }
        }
        return String(out)
    }

    /// The accented letters in `Names`, mapped to plain ASCII.
    private static let plainLetters: [Unicode.Scalar: String] = [
        "á": "a", "à": "a", "â": "a", "ä": "a", "ã": "a", "å": "a", "é": "e", "è": "e", "ê": "e", "ë": "e",
        "í": "i", "ì": "i", "î": "i", "ï": "i", "ı": "i", "ó": "o", "ò": "o", "ô": "o", "ö": "o", "õ": "o",
        "ø": "o", "ú": "u", "ù": "u", "û": "u", "ü": "u", "ñ": "n", "ç": "c", "ł": "l", "ß": "ss",
    ]
}
