/// Decides, on the real text, whether and how a contact matches a query. The index only narrows
/// the candidates (`SearchIndexText`); this is the definition the results obey.
struct SearchMatcher {
    /// The contact's fields, folded.
    private let username: String
    private let lastName: String
    private let firstName: String
    private let emails: [String]

    init(_ contact: Contact) {
        username = SearchFolding.fold(contact.username)
        lastName = SearchFolding.fold(contact.lastName)
        firstName = SearchFolding.fold(contact.firstName)
        emails = contact.emails.map { SearchFolding.fold($0.address) }
    }

    /// How the contact ranks for `query`: by its first word's best match; nil unless every word
    /// matches some field.
    func rank(_ query: SearchQuery) -> SearchRank? {
        guard let first = query.words.first, let rank = best(first) else { return nil }
        for word in query.words.dropFirst() where best(word) == nil { return nil }
        return rank
    }

    /// The best rank at which `word` matches a field, if any.
    func best(_ word: String) -> SearchRank? {
        SearchRank.all.first { matches(word, $0) }
    }

    private func matches(_ word: String, _ rank: SearchRank) -> Bool {
        switch rank.field {
        case .username: Self.matches(word, rank.kind, username)
        case .lastName: Self.matches(word, rank.kind, lastName)
        case .firstName: Self.matches(word, rank.kind, firstName)
        case .email: emails.contains { Self.matches(word, rank.kind, $0) }
        }
    }

    private static func matches(_ word: String, _ kind: SearchRank.Kind, _ value: String) -> Bool {
        switch kind {
        case .exact: return value.unicodeScalars.elementsEqual(word.unicodeScalars)
        case .prefix: return value.unicodeScalars.starts(with: word.unicodeScalars)
        case .substring:
            if word.unicodeScalars.count >= 3 { return contains(value, word) }
            let prefix = Array(word.unicodeScalars)
            return words(of: value).contains { $0.starts(with: prefix) }
        }
    }

    /// True when `needle` occurs in `haystack`, comparing Unicode scalars (as the index does):
    /// `String.contains` would compare characters, and a folded name may split one.
    private static func contains(_ haystack: String, _ needle: String) -> Bool {
        let text = Array(haystack.unicodeScalars), pattern = Array(needle.unicodeScalars)
        guard pattern.count <= text.count else { return false }
        for start in 0...(text.count - pattern.count) where text[start] == pattern[0] {
            if text[start..<(start + pattern.count)].elementsEqual(pattern) { return true }
        }
        return false
    }

    /// The words of a folded value, as Unicode scalars (as the index counts characters): runs of
    /// letters and digits ("ada.lovelace@navy.mil" has four).
    static func words(of value: String) -> [ArraySlice<Unicode.Scalar>] {
        Array(value.unicodeScalars).split { scalar in
            !(scalar.properties.isAlphabetic || scalar.properties.numericType != nil)
        }
    }
}
