/// Writes vCard 4.0 text (RFC 6350): content lines folded at 75 octets, never inside a UTF-8
/// sequence, each ended by CRLF.
public enum VCardWriter {
    /// Longest line, in octets, without its CRLF (RFC 6350 §3.2).
    public static let maxLineOctets = 75

    /// The whole card: `BEGIN:VCARD`, `VERSION:4.0`, every property but `VERSION`, `END:VCARD`.
    public static func card(_ properties: [VCardProperty]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        append(VCardProperty(name: "BEGIN", value: "VCARD"), to: &out)
        append(VCardProperty(name: "VERSION", value: "4.0"), to: &out)
        for property in properties where property.name != "VERSION" {
            append(property, to: &out)
        }
        append(VCardProperty(name: "END", value: "VCARD"), to: &out)
        return out
    }

    /// Appends one property as folded content lines, each ended by CRLF.
    public static func append(_ property: VCardProperty, to out: inout [UInt8]) {
        append(line: unfoldedLine(property), to: &out)
    }

    /// Appends one unfolded content line, folded, ended by CRLF.
    public static func append(line text: String, to out: inout [UInt8]) {
        let line = Array(text.utf8)
        var start = 0
        var room = maxLineOctets
        while line.count - start > room {
            var end = start + room
            // Back up to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx).
            while end > start + 1, line[end] & 0xC0 == 0x80 { end -= 1 }
            out.append(contentsOf: line[start..<end])
            out.append(contentsOf: [0x0D, 0x0A, 0x20])
            start = end
            room = maxLineOctets - 1  // the leading space counts
        }
        out.append(contentsOf: line[start...])
        out.append(contentsOf: [0x0D, 0x0A])
    }

    /// `[group.]NAME;PARAM=VALUE:value` on one line; parameter values holding `:`, `;` or `,`
    /// are quoted.
    public static func unfoldedLine(_ property: VCardProperty) -> String {
        var line = ""
        if let group = property.group { line += group + "." }
        line += property.name
        for parameter in property.parameters {
            line += ";" + parameter.name
            if parameter.values.isEmpty { continue }
            line += "="
            line += parameter.values.map { value in
                let clean = value.replacing("\"", with: "'")
                return clean.contains(where: { $0 == ":" || $0 == ";" || $0 == "," }) ? "\"" + clean + "\"" : clean
            }.joined(separator: ",")
        }
        return line + ":" + property.value
    }
}
