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

    /// `column` of the values in `utf8` (separated by newlines, as addresses are stored), as
    /// UTF-8. ASCII text, the common case, is decorated byte by byte: folding it is lower-casing,
    /// and its words are runs of letters and digits. Anything else goes through `column`.
    static func column(utf8: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        guard utf8.allSatisfy({ $0 < 0x80 }) else {
            let values = utf8.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
            return Array(column(values).utf8)
        }
        var text: [UInt8] = []
        text.reserveCapacity(utf8.count * 2 + 16)
        for value in utf8.split(separator: UInt8(ascii: "\n")) {
            let folded = value.map { (65...90).contains($0) ? $0 | 0x20 : $0 }
            text += [2, 2]
            text += folded
            text.append(3)
            if folded.count >= 3 {
                text.append(UInt8(ascii: "\n"))
                UTF8.encode(Unicode.Scalar(0xF0000 + UInt32(folded[0]))!) { text.append($0) }
                text += folded[1...2]
            }
            let isWordByte = { (byte: UInt8) in
                (48...57).contains(byte) || (97...122).contains(byte)
            }
            var start: Int? = nil
            for index in 0...folded.count {
                if index < folded.count, isWordByte(folded[index]) {
                    if start == nil { start = index }
                } else if let first = start {
                    text += [1, 1]
                    text += folded[first..<min(first + 2, index)]
                    start = nil
                }
            }
            text.append(UInt8(ascii: "\n"))
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

    /// A text that every field matching `word` at any rank holds in its column text: the word
    /// itself, or for a word of one or two characters, the word start it must be
    /// (`SQLiteConnection.pendingMatches` looks for it with `instr`).
    static func needle(_ word: String) -> String {
        word.unicodeScalars.count < 3 ? wordStart + word : word
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
