import ArgumentParser
import ContactClient
import JSONRPC

extension ContactsCLI {
    struct Methods: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the server's methods, or show one method's params, result and errors (from rpc.discover).")
        @Argument(help: "A method to describe.", completion: .list(knownMethods)) var method: String?
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let document = try global.withClient { client throws(ClientError) in
                try client.call(method: "rpc.discover")
            }
            let methods = document.objectValue?["methods"]?.arrayValue ?? []
            guard let method else {
                // --json: the server's result as is, the whole OpenRPC document.
                if global.json { return Terminal.output(document.jsonString) }
                let names = methods.compactMap { $0.objectValue?["name"]?.stringValue }
                let width = names.map(\.count).max() ?? 0
                for entry in methods {
                    let name = entry.objectValue?["name"]?.stringValue ?? "?"
                    let summary = entry.objectValue?["summary"]?.stringValue ?? ""
                    Terminal.output(Terminal.bold(Render.pad(name, width)) + "  " + summary)
                }
                return
            }
            guard let entry = methods.first(where: { $0.objectValue?["name"]?.stringValue == method })?.objectValue else {
                throw CLIFailure(code: 1, message: "contacts: the server has no method named \"\(method)\" (see: contacts methods)")
            }
            if global.json { return Terminal.output(JSONValue.object(entry).jsonString) }
            Terminal.output(Self.describe(entry))
        }

        /// A method's params (in positional order, with their limits), result and errors.
        static func describe(_ entry: JSONObject) -> String {
            var lines = [Terminal.bold(entry["name"]?.stringValue ?? "?") + "  " + (entry["summary"]?.stringValue ?? ""), ""]
            let params = entry["params"]?.arrayValue ?? []
            lines.append(Terminal.bold("params") + (params.isEmpty ? "  (none)" : "  (by name, or by position in this order)"))
            for param in params.compactMap(\.objectValue) {
                let name = param["name"]?.stringValue ?? "?"
                let required = param["required"]?.boolValue == true ? "required" : "optional"
                lines.append("  \(name)  \(required)  \(limits(param["schema"]))")
                if let summary = param["summary"]?.stringValue { lines.append("      \(summary)") }
            }
            if let result = entry["result"]?.objectValue {
                lines.append(Terminal.bold("result") + "  \(result["name"]?.stringValue ?? "")  \(limits(result["schema"]))")
            }
            lines.append(Terminal.bold("errors"))
            for error in (entry["errors"]?.arrayValue ?? []).compactMap(\.objectValue) {
                let code = error["code"]?.numberValue?.text ?? "?"
                var line = "  \(code)  \(error["message"]?.stringValue ?? "")"
                if let reasons = error["data"]?.objectValue?["properties"]?.objectValue?["reason"]?.objectValue?["enum"]?.arrayValue {
                    line += " (" + reasons.compactMap(\.stringValue).joined(separator: ", ") + ")"
                }
                lines.append(line)
            }
            return lines.joined(separator: "\n")
        }

        /// `string, 1-64 chars, pattern …` from a JSON Schema.
        static func limits(_ schema: JSONValue?) -> String {
            guard let schema = schema?.objectValue else { return "" }
            if let ref = schema["$ref"]?.stringValue { return ref.split(separator: "/").last.map(String.init) ?? ref }
            var parts: [String] = []
            if let type = schema["type"] { parts.append(type.stringValue ?? type.arrayValue?.compactMap(\.stringValue).joined(separator: "|") ?? "") }
            let min = schema["minLength"]?.numberValue?.text, max = schema["maxLength"]?.numberValue?.text
            if min != nil || max != nil { parts.append("\(min ?? "0")-\(max ?? "…") chars") }
            let lo = schema["minimum"]?.numberValue?.text, hi = schema["maximum"]?.numberValue?.text
            if lo != nil || hi != nil { parts.append("\(lo ?? "…")..\(hi ?? "…")") }
            if let items = schema["maxItems"]?.numberValue?.text { parts.append("at most \(items) items") }
            if let pattern = schema["pattern"]?.stringValue { parts.append("pattern \(pattern)") }
            if let value = schema["default"] { parts.append("default \(value.jsonString)") }
            if let items = schema["items"] { parts.append("of " + limits(items)) }
            return parts.joined(separator: ", ")
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the server's live counters (server.stats).")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let stats = try global.withClient { client throws(ClientError) in
                try client.call(method: "server.stats")
            }
            guard !global.json, let object = stats.objectValue else { return Terminal.output(stats.jsonString) }
            func text(_ value: JSONValue?) -> String { value?.numberValue?.text ?? value?.stringValue ?? "-" }
            let connections = object["connections"]?.objectValue
            let store = object["store"]?.objectValue
            var lines = [
                "contactsd \(text(object["version"]))  pid \(text(object["pid"]))  up \(text(object["uptime_s"])) s",
                "connections  \(text(connections?["open"])) open, \(text(connections?["accepted"])) accepted, \(text(connections?["refused"])) refused",
                "store        \(text(store?["contacts"])) contacts, db \(text(store?["db_bytes"])) B, wal \(text(store?["wal_bytes"])) B, writer queue \(text(store?["writer_queue_depth"])), mean batch \(text(store?["mean_batch_size"]))",
                "",
            ]
            var rows = [["METHOD", "CALLS", "ERRORS", "P50_MS", "P99_MS", "MAX_MS"]]
            for member in object["methods"]?.objectValue?.members ?? [] {
                let m = member.value.objectValue
                rows.append([member.key, text(m?["calls"]), text(m?["errors"]), text(m?["p50_ms"]), text(m?["p99_ms"]), text(m?["max_ms"])])
            }
            let widths = (0..<6).map { column in rows.map { $0[column].count }.max() ?? 0 }
            for (index, row) in rows.enumerated() {
                let line = row.enumerated().map { $0.offset == row.count - 1 ? $0.element : Render.pad($0.element, widths[$0.offset]) }
                    .joined(separator: "  ")
                lines.append(index == 0 ? Terminal.bold(line) : line)
            }
            let errors = object["errors"]?.objectValue?.members ?? []
            lines.append("")
            lines.append("errors       " + (errors.isEmpty ? "none" : errors.map { "\($0.key): \(text($0.value))" }.joined(separator: ", ")))
            Terminal.output(lines.joined(separator: "\n"))
        }
    }

    struct Ping: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that the server answers: exit 0 if it does, 3 if it cannot be reached (for health checks).")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let started = monotonicMilliseconds()
            let pong: JSONValue
            do {
                pong = try global.withClient { client throws(ClientError) in
                    try client.call(method: "server.ping")
                }
            } catch let failure as CLIFailure {
                // For a health check any failure (even "busy: too many connections") means the
                // service is not usable: exit 3, not 1.
                throw CLIFailure(code: 3, message: failure.message)
            }
            if global.json { return Terminal.output(pong.jsonString) }
            let version = pong.objectValue?["version"]?.stringValue ?? "?"
            Terminal.output("pong from contactsd \(version) in \(String(format1(monotonicMilliseconds() - started))) ms")
        }
    }
}
