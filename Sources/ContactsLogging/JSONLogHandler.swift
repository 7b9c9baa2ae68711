import JSONRPC
import Logging

import Glibc

/// A swift-log handler that writes one compact JSON object per line to stderr.
public struct JSONLogHandler: StderrLogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String

    /// A handler for `label`.
    public init(label: String) {
        self.label = label
    }

    public func log(event: LogEvent) {
        var object = JSONObject()
        object.append("ts", .string(Self.timestamp()))
        object.append("level", .string(event.level.rawValue))
        object.append("label", .string(label))
        object.append("message", .string(event.message.description))
        let merged = mergedMetadata(event)
        for key in merged.keys.sorted() where !["ts", "level", "label", "message"].contains(key) {
            object.append(key, Self.json(merged[key]!))
        }
        var line = JSONValue.object(object).jsonBytes
        line.append(UInt8(ascii: "\n"))
        // One write(2) per line: lines from several threads never interleave.
        line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let string): return .string(string)
        case .stringConvertible(let convertible): return .string(convertible.description)
        case .array(let array): return .array(array.map(json))
        case .dictionary(let dictionary):
            var object = JSONObject()
            for key in dictionary.keys.sorted() { object.append(key, json(dictionary[key]!)) }
            return .object(object)
        }
    }

    /// RFC 3339 UTC with milliseconds.
    private static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = spec.tv_nsec / 1_000_000
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}
