/// The escapes of vCard text values (RFC 6350 §3.4): `\\`, `\,`, `\;` and `\n`.
public enum VCardText {
    /// `text` escaped for a text value: backslash, comma, semicolon and line breaks.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var previousCR = false
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case ",": out += "\\,"
            case ";": out += "\\;"
            case "\r": out += "\\n"
            case "\n": if !previousCR { out += "\\n" }
            default: out.unicodeScalars.append(scalar)
            }
            previousCR = scalar == "\r"
        }
        return out
    }

    /// `value` with its escapes undone; an unknown escape keeps the escaped character.
    public static func unescape(_ value: Substring) -> String {
        guard value.contains("\\") else { return String(value) }
        var out = ""
        var escaped = false
        for scalar in value.unicodeScalars {
            if escaped {
                out.unicodeScalars.append(scalar == "n" || scalar == "N" ? "\n" : scalar)
                escaped = false
            } else if scalar == "\\" {
                escaped = true
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        if escaped { out += "\\" }
        return out
    }

    /// `value` with its escapes undone.
    public static func unescape(_ value: String) -> String { unescape(value[...]) }

    /// The components of a structured value (`N`, `ADR`): split at each unescaped `;`, each unescaped.
    public static func components(_ value: String) -> [String] {
        split(value, at: ";").map { unescape($0) }
    }

    /// The values of a list (`NICKNAME`, `CATEGORIES`): split at each unescaped `,`, each unescaped.
    public static func list(_ value: String) -> [String] {
        split(value, at: ",").map { unescape($0) }
    }

    private static func split(_ value: String, at separator: Character) -> [Substring] {
        var parts: [Substring] = []
        var start = value.startIndex
        var escaped = false
        var index = value.startIndex
        while index < value.endIndex {
            let character = value[index]
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == separator {
                parts.append(value[start..<index])
                start = value.index(after: index)
            }
            index = value.index(after: index)
        }
        parts.append(value[start...])
        return parts
    }
}
