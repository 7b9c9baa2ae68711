import Logging

import Glibc

/// A swift-log handler that writes readable lines to stderr, like swift-log's own stream handler
/// (`2026-11-30T13:13:45+0000 info contactsd: key=value [source] message`), except that every
/// control character in the message and the metadata is escaped as JSON escapes it (`\n`,
/// `\u001b`, …), so no value a client sent can start a forged log line or move the cursor.
public struct TextLogHandler: StderrLogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String

    /// A handler for `label`.
    public init(label: String) {
        self.label = label
    }

    public func log(event: LogEvent) {
        let merged = mergedMetadata(event)
        var line = "\(Self.timestamp()) \(event.level) \(label):"
        for key in merged.keys.sorted() {
            line += " \(Self.escaped(key))=\(Self.escaped(Self.text(merged[key]!)))"
        }
        line += " [\(Self.escaped(event.source))] \(Self.escaped(event.message.description))\n"
        // One write(2) per line: lines from several threads never interleave.
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// `text` with backslashes and control characters escaped the way JSON escapes them.
    static func escaped(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\\") || $0 == 0x7F }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): return string
        case .stringConvertible(let convertible): return convertible.description
        case .array(let array): return "[" + array.map(text).joined(separator: ", ") + "]"
        case .dictionary(let dictionary):
            return "[" + dictionary.keys.sorted().map { "\($0): \(text(dictionary[$0]!))" }.joined(separator: ", ") + "]"
        }
    }

    /// Local time with the offset, as swift-log's stream handler writes it.
    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) { buffer in
            let count = strftime(buffer.baseAddress, 32, "%Y-%m-%dT%H:%M:%S%z", &parts)
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: count), as: UTF8.self)
        }
    }
}
