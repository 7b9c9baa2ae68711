/// A `contacts.search`: words that must all match, and how many contacts to return.
public struct SearchQuery: Sendable, Equatable {
    public static let defaultLimit = 20
    public static let maxLimit = 100
    /// Longest query accepted, in characters: a name, an address and some room.
    public static let maxLength = 256

    /// The query's words, folded (`SearchFolding`), in the order typed.
    public let words: [String]
    public let limit: Int

    /// Splits `text` at white space and folds each word; nil when no word is left.
    public init?(_ text: String, limit: Int = SearchQuery.defaultLimit) {
        let words = SearchFolding.fold(text).unicodeScalars
            .split(whereSeparator: { $0.properties.isWhitespace || $0.properties.generalCategory == .control })
            .map { String(String.UnicodeScalarView($0)) }
        guard !words.isEmpty else { return nil }
        self.words = words
        self.limit = limit
    }
}

/// Where a word matched a contact, from best to worst. Results are ordered by how the query's
/// first word matches, then by username (protocol.md, `contacts.search`).
public struct SearchRank: Comparable, Sendable, CustomStringConvertible {
    /// How closely: the whole field, its start, or anywhere in it (for words of one or two
    /// characters: the start of a word in it).
    public enum Kind: Int, Sendable, CaseIterable {
        case exact, prefix, substring
    }

    /// Which field, in ranking order.
    public enum Field: Int, Sendable, CaseIterable {
        case username, lastName, firstName, email

        /// The contacts column holding this field, and the search index table of it.
        var column: String {
            switch self {
            case .username: "username"
            case .lastName: "last_name"
            case .firstName: "first_name"
            case .email: "emails"
            }
        }

        var indexTable: String { "search_" + column }

        /// The name `contacts.search` reports.
        public var name: String {
            switch self {
            case .username: "username"
            case .lastName: "last_name"
            case .firstName: "first_name"
            case .email: "email"
            }
        }
    }

    public let kind: Kind
    public let field: Field

    /// The ranks in order. Only usernames and addresses match exactly: a name equal to the word
    /// is a prefix match.
    static let all: [SearchRank] = Kind.allCases.flatMap { kind in
        Field.allCases.compactMap { field in
            kind == .exact && (field == .lastName || field == .firstName) ? nil : SearchRank(kind: kind, field: field)
        }
    }

    public static func < (a: SearchRank, b: SearchRank) -> Bool {
        (a.kind.rawValue, a.field.rawValue) < (b.kind.rawValue, b.field.rawValue)
    }

    public var description: String { "\(kind) \(field.name)" }
}
