import ContactClient
import JSONRPC

/// Human output: aligned tables and records.
enum Render {
    /// Display width: one column per character (good enough for the names we store; wide
    /// CJK characters may misalign by a column, they never break the layout).
    static func width(_ text: String) -> Int { text.count }

    static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - Self.width(text)))
    }

    /// `username  first name  …` as aligned columns, header in bold on a terminal.
    static func table(_ contacts: [ContactRecord], header: Bool = true) -> String {
        let rows = contacts.map { [$0.username, $0.firstName, $0.lastName, $0.emails.joined(separator: ", "), String($0.version)] }
        let titles = ["USERNAME", "FIRST", "LAST", "EMAILS", "VERSION"]
        var widths = titles.map(width)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], width(cell)) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in index == cells.count - 1 ? cell : pad(cell, widths[index]) }
                .joined(separator: "  ")
        }
        var lines: [String] = []
        if header { lines.append(Terminal.bold(line(titles))) }
        lines += rows.map(line)
        return lines.joined(separator: "\n")
    }

    /// One contact as a record: a label per line, emails one per line.
    static func record(_ contact: ContactRecord) -> String {
        var fields: [(String, String)] = [
            ("username", contact.username), ("first name", contact.firstName), ("last name", contact.lastName),
        ]
        if contact.emails.isEmpty {
            fields.append(("emails", Terminal.dim("(none)")))
        } else {
            for (index, email) in contact.emails.enumerated() { fields.append((index == 0 ? "emails" : "", email)) }
        }
        fields += [("created", contact.createdAt), ("updated", contact.updatedAt), ("version", String(contact.version))]
        let labelWidth = fields.map { width($0.0) }.max() ?? 0
        return fields.map { Terminal.bold(pad($0.0, labelWidth)) + "  " + $0.1 }.joined(separator: "\n")
    }

    /// Indented JSON for people (scripts get compact JSON with --json).
    static func prettyJSON(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let elements) where !elements.isEmpty:
            return "[\n" + elements.map { inner + prettyJSON($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let object) where !object.members.isEmpty:
            return "{\n" + object.members.map { member in
                inner + JSONValue.string(member.key).jsonString + ": " + prettyJSON(member.value, indent: inner)
            }.joined(separator: ",\n") + "\n\(indent)}"
        default:
            return value.jsonString
        }
    }
}
