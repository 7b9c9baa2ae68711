/// How `contacts.search` compares text: NFKD, combining marks dropped, full case folding, and a
/// few letters with strokes mapped to their base letter (ł→l, ø→o, đ→d, …), so that "jose" finds
/// "José", "lodz" finds "Łódź" and "strasse" finds "Straße".
///
/// SQLite 3.40's trigram tokenizer cannot remove diacritics, so the search index holds folded
/// text and queries are folded the same way. The table is generated (tools/gen-search-folding);
/// changing it changes what is indexed, so it comes with a schema step that rebuilds the index.
public enum SearchFolding {
    /// `text` folded. ASCII only needs lower-casing, which is the common case and kept cheap.
    public static func fold(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            return String(decoding: text.utf8.map { (65...90).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
        }
        var folded = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value < 0x80 {
                folded.append((65...90).contains(scalar.value) ? Unicode.Scalar(scalar.value | 0x20)! : scalar)
            } else if let replacement = mapping[scalar.value] {
                folded.append(contentsOf: replacement.unicodeScalars)
            } else if !isMark(scalar) {
                folded.append(scalar)
            }
        }
        return String(folded)
    }

    /// Combining marks, dropped wherever they appear (input is NFC, so most arrive precomposed
    /// and are removed by the table; these are the ones that had no precomposed form).
    static func isMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }

    /// The generated table, parsed once.
    private static let mapping: [UInt32: String] = {
        var mapping: [UInt32: String] = [:]
        for line in table.split(separator: "\n") {
            guard let space = line.firstIndex(of: " "), let code = UInt32(line[..<space], radix: 16) else { continue }
            mapping[code] = String(line[line.index(after: space)...])
        }
        return mapping
    }()
}
