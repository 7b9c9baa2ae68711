/// Parses one unfolded content line into a `VCardProperty`, undoing 2.1's quoted-printable
/// and `CHARSET`, so that every value comes out as vCard 4.0 text.
enum VCardPropertyParser {
    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }

    private static let colon = UInt8(ascii: ":"), semicolon = UInt8(ascii: ";"), quote = UInt8(ascii: "\"")
    private static let equals = UInt8(ascii: "="), comma = UInt8(ascii: ",")

    static func parse(_ bytes: [UInt8], line: Int) -> Result<VCardProperty, VCardFailure> {
        var scan = HeadScan()
        guard let valueColon = scan.advance(over: bytes) else {
            // Name the property when the line has one before its parameters.
            let name = bytes.firstIndex(of: semicolon).flatMap { try? parseHead(bytes[..<$0], line: line).get().name }
            return .failure(VCardFailure(
                line: line, property: name,
                message: name == nil ? "not a vCard property: no ':' on the line" : "not a vCard property: no ':' after the parameters"))
        }
        let head: Head
        switch parseHead(bytes[..<valueColon], line: line) {
        case .success(let parsed): head = parsed
        case .failure(let failure): return .failure(failure)
        }
        let name = head.name, group = head.group
        var parameters = head.parameters
        var raw = bytes[(valueColon + 1)...]
        let quotedPrintable = declaresQuotedPrintable(parameters)
        var decodedBytes: [UInt8]?
        if quotedPrintable {
            decodedBytes = Self.quotedPrintable(raw)
            parameters.removeAll { $0.name == "ENCODING" }
        }
        if let decodedBytes { raw = decodedBytes[...] }
        var value: String
        if let charsetName = parameters.first(where: { $0.name == "CHARSET" })?.values.first {
            guard let charset = VCardCharset(name: charsetName) else {
                return .failure(VCardFailure(
                    line: line, property: name,
                    message: "\(name) has CHARSET=\(charsetName), which is not read (\(VCardCharset.supported) are)"))
            }
            guard let text = charset.decode(raw) else {
                return .failure(VCardFailure(line: line, property: name, message: "\(name) is not valid \(charsetName)"))
            }
            value = text
            parameters.removeAll { $0.name == "CHARSET" }
        } else {
            value = VCardCharset.decodeGuessing(raw)
        }
        if quotedPrintable, value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
            // Decoded line breaks are text: in 4.0 they are written as \n.
            var escaped = String.UnicodeScalarView()
            var previousCR = false
            for scalar in value.unicodeScalars {
                if scalar == "\r" || (scalar == "\n" && !previousCR) {
                    escaped.append(contentsOf: "\\n".unicodeScalars)
                } else if scalar != "\n" {
                    escaped.append(scalar)
                }
                previousCR = scalar == "\r"
            }
            value = String(escaped)
        }
        return .success(VCardProperty(group: group, name: name, parameters: parameters, value: value, line: line))
    }

    /// A content line's `[group.]NAME` and parameters.
    struct Head {
        var group: String?
        var name: String
        var parameters: [VCardParameter]
    }

    /// Finds where a content line's value starts, a piece at a time while the line is unfolded:
    /// at the first `:` after the name that is outside double quotes. The name ends at the first
    /// `;` or `:`; quotes count only in the parameters. `parse` and the reader's soft line breaks
    /// both use it, so they cannot disagree on where the parameters end.
    struct HeadScan {
        private var scanned = 0
        private var inParameters = false
        private var quoted = false
        /// The index of the value's `:`, once found.
        private(set) var valueColon: Int?

        /// Scans what was appended to `bytes` since the last call; returns the `:`'s index once found.
        mutating func advance(over bytes: [UInt8]) -> Int? {
            while valueColon == nil, scanned < bytes.count {
                switch bytes[scanned] {
                case quote where inParameters: quoted.toggle()
                case colon where !quoted: valueColon = scanned
                case semicolon: inParameters = true
                default: break
                }
                scanned += 1
            }
            return valueColon
        }
    }

    /// The name and parameters of `head`, everything before the value's `:`.
    static func parseHead(_ head: ArraySlice<UInt8>, line: Int) -> Result<Head, VCardFailure> {
        // The name: up to the first ';'.
        let nameEnd = head.firstIndex(of: semicolon) ?? head.endIndex
        var nameBytes = head[..<nameEnd]
        while let last = nameBytes.last, last == 0x20 || last == 0x09 { nameBytes.removeLast() }
        let parts = nameBytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count <= 2, parts.allSatisfy({ !$0.isEmpty && $0.count <= 64 && $0.allSatisfy(isNameByte) }) else {
            return .failure(VCardFailure(
                line: line, message: "not a vCard property: the name may hold only letters, digits and '-'"))
        }
        let name = String(decoding: parts.last!, as: UTF8.self).uppercased()
        let group = parts.count == 2 ? String(decoding: parts[0], as: UTF8.self) : nil
        // The parameters: ';'-separated, a ';' inside double quotes being part of a value.
        var parameters: [VCardParameter] = []
        var index = nameEnd
        while index < head.endIndex {
            index += 1
            let start = index
            var quoted = false
            while index < head.endIndex, quoted || head[index] != semicolon {
                if head[index] == quote { quoted.toggle() }
                index += 1
            }
            guard let parameter = parameter(head[start..<index]) else {
                return .failure(VCardFailure(line: line, property: name, message: "\(name) has a parameter that is not NAME=VALUE"))
            }
            parameters.append(parameter)
        }
        return .success(Head(group: group, name: name, parameters: parameters))
    }

    /// True when `parameters` ask for quoted-printable: the first `ENCODING`'s first value.
    static func declaresQuotedPrintable(_ parameters: [VCardParameter]) -> Bool {
        parameters.first { $0.name == "ENCODING" }?.values.first?.uppercased() == "QUOTED-PRINTABLE"
    }

    /// `NAME=VALUE[,VALUE]`, or a bare 2.1 value (`HOME`, `PREF`, `QUOTED-PRINTABLE`) under the
    /// name it stands for.
    private static func parameter(_ bytes: ArraySlice<UInt8>) -> VCardParameter? {
        guard let equalsIndex = bytes.firstIndex(of: equals) else {
            let bare = String(decoding: bytes, as: UTF8.self).trimmingSpaces
            guard !bare.isEmpty, bare.utf8.allSatisfy(isNameByte) else { return nil }
            switch bare.uppercased() {
            case "QUOTED-PRINTABLE", "BASE64", "8BIT", "7BIT", "B": return VCardParameter(name: "ENCODING", values: [bare])
            case "PREF": return VCardParameter(name: "PREF", values: ["1"])
            default: return VCardParameter(name: "TYPE", values: [bare])
            }
        }
        let name = String(decoding: bytes[bytes.startIndex..<equalsIndex], as: UTF8.self).trimmingSpaces
        guard !name.isEmpty, name.utf8.allSatisfy(isNameByte) else { return nil }
        var values: [String] = []
        var current: [UInt8] = []
        var quoted = false
        for byte in bytes[(equalsIndex + 1)...] {
            if byte == quote {
                quoted.toggle()
            } else if byte == comma && !quoted {
                values.append(VCardCharset.decodeGuessing(current[...]))
                current.removeAll()
            } else {
                current.append(byte)
            }
        }
        values.append(VCardCharset.decodeGuessing(current[...]))
        return VCardParameter(name: name, values: values)
    }

    /// Quoted-printable decoding (`=XX`; soft line breaks were removed while unfolding). A `=`
    /// not followed by two hex digits is kept as it is.
    private static func quotedPrintable(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: return byte - 0x30
            case 0x41...0x46: return byte - 0x41 + 10
            case 0x61...0x66: return byte - 0x61 + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == equals, index + 2 < bytes.endIndex, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        return out
    }
}

extension String {
    /// Without spaces and tabs at either end.
    var trimmingSpaces: String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
            let end = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })
        else { return "" }
        return String(scalars[start...end])
    }
}
