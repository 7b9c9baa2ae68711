/// What the search index holds for a contact, and the index tokens a query word needs.
///
/// The index is one FTS5 table per field, with the trigram tokenizer and `detail=none`: it knows
/// which three-character sequences occur in the field of which contact, not where. (One table per
/// field rather than one column per field: a trigram common in one field and absent from another,
/// like `exa` of every `@example.com` and the last names, would otherwise be read whole to find
/// its few rows in the other field.) Each field is folded (`SearchFolding`) and decorated so that a
/// rank becomes a set of trigrams:
///
/// - `\u{2}\u{2}` + value + `\u{3}`: the value's start and end are trigrams of their own, so
///   "starts with `ada`" needs `\u{2}\u{2}a`, `\u{2}ad` and `ada`, and "is `ada`" also `da\u{3}`;
/// - an *anchor*: the value's first three characters with the first moved into the private use
///   plane 15 (U+F0000 + its code point), one trigram that says "starts with these three"
///   (without it, "starts with `lav`" would also offer every Ladislav: starts with `la`, holds `lav`);
/// - `\u{1}\u{1}` + the first two characters of every word: words of one or two characters
///   match word starts (`\u{1}\u{1}a`, `\u{1}ad`), as the trigrams alone cannot serve them.
///
/// Validation forbids control characters in every field, so the markers never occur in data
/// and no query word contains them. The index finds a superset of the matches (trigrams present,
/// not necessarily in sequence); `SearchMatcher` checks every candidate against the real text.
enum SearchIndexText {
    static let valueStart = "\u{2}\u{2}"
    static let valueEnd = "\u{3}"
    static let wordStart = "\u{1}\u{1}"

    /// The column text for one field holding `values` (one for a name, every address for emails).
    static func column(_ values: [String]) -> String {
        var text = ""
        for value in values {
            let folded = SearchFolding.fold(value)
            text += valueStart + folded + valueEnd
            if let anchor = anchor(folded) { text += "\n" + anchor }
            for word in SearchMatcher.words(of: folded) {
                text += wordStart + String(String.UnicodeScalarView(word.prefix(2)))
            }
            text += "\n"
        }
        return text
    }

    /// The trigrams a contact must have in a field to match `word` at `kind` there.
    static func tokens(for word: String, kind: SearchRank.Kind) -> [String] {
        let short = word.unicodeScalars.count < 3
        let anchored = anchor(word).map { [$0] } ?? []
        switch kind {
        case .exact: return anchored + trigrams(valueStart + word + valueEnd)
        case .prefix: return anchored + trigrams(valueStart + word)
        case .substring: return short ? trigrams(wordStart + word) : trigrams(word)
        }
    }

    /// The anchor trigram of a folded value or word: nil when shorter than three characters or
    /// when its first character is outside the Basic Multilingual Plane (then the plain trigrams
    /// serve alone, and the candidates are checked as always).
    static func anchor(_ folded: String) -> String? {
        let scalars = Array(folded.unicodeScalars.prefix(3))
        guard scalars.count == 3, scalars[0].value <= 0xFFFF, let moved = Unicode.Scalar(0xF0000 + scalars[0].value) else {
            return nil
        }
        return String(String.UnicodeScalarView([moved, scalars[1], scalars[2]]))
    }

    /// An FTS5 query for the field's table: every token of `word` at `kind`. (The other words of
    /// a query are checked on the candidates: they may match in any field.)
    static func match(_ word: String, _ kind: SearchRank.Kind) -> String {
        tokens(for: word, kind: kind).map(quoted).joined(separator: " AND ")
    }

    /// Every distinct three-character sequence of `text`, in order.
    static func trigrams(_ text: String) -> [String] {
        let characters = Array(text.unicodeScalars)
        guard characters.count >= 3 else { return [] }
        var seen = Set<String>()
        var result: [String] = []
        for start in 0...(characters.count - 3) {
            let trigram = String(String.UnicodeScalarView(characters[start..<(start + 3)]))
            if seen.insert(trigram).inserted { result.append(trigram) }
        }
        return result
    }

    /// An FTS5 string: in double quotes, inner quotes doubled.
    private static func quoted(_ token: String) -> String {
        var quoted = "\""
        for character in token {
            quoted += character == "\"" ? "\"\"" : String(character)
        }
        return quoted + "\""
    }
}
