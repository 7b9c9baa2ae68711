import ArgumentParser
import ContactClient
import JSONRPC

extension ContactsCLI {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List contacts in username order.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Contacts per page (1-1000).") var limit: Int?
        @Option(help: "Only usernames starting with this (case-insensitive, literal).") var prefix: String?
        @Option(help: "Only the contact that owns this address.") var email: String?
        @Option(help: "Continue from a page's next_cursor.") var cursor: String?
        @Flag(help: "Follow cursors to the end, printing page by page (with --json: one contact per line).") var all = false
        @Flag(help: "Show every value whole, even past the terminal's width.") var wide = false

        func validate() throws {
            try UsageCheck.limit(limit)
        }

        func run() throws {
            try global.withClient { client throws(ClientError) in
                var cursor = self.cursor
                var first = true
                // Set by the first page, so every page of --all lines up with it.
                var widths: [Int]?
                repeat {
                    var params = JSONObject()
                    if let limit { params.append("limit", .number(JSONNumber(limit))) }
                    if let cursor { params.append("cursor", .string(cursor)) }
                    if let prefix { params.append("username_prefix", .string(prefix)) }
                    if let email { params.append("email", .string(email)) }
                    let result = try client.call(method: "contacts.list", params: .object(params))
                    let contacts = result.objectValue?["contacts"]?.arrayValue ?? []
                    cursor = result.objectValue?["next_cursor"]?.stringValue
                    if global.json && !all {
                        Terminal.output(result.jsonString)
                        return
                    }
                    if global.json {
                        for contact in contacts { Terminal.output(contact.jsonString) }
                    } else {
                        let records = contacts.compactMap(ContactRecord.init)
                        if first && records.isEmpty {
                            Terminal.output(Terminal.dim("no contacts"))
                        } else if !records.isEmpty {
                            if !Terminal.isTTY {
                                Terminal.output(Render.tabSeparated(records, header: first))
                            } else {
                                let columns =
                                    widths ?? Render.widths(records, fitting: Terminal.columns, wide: wide, fill: all)
                                widths = columns
                                Terminal.output(Render.table(records, widths: columns, header: first, wide: wide))
                            }
                        }
                        // On stderr, so `contacts list | wc -l` counts contacts only.
                        if !all, let cursor { Terminal.error(Terminal.dim("more: " + nextPageCommand(cursor: cursor))) }
                    }
                    first = false
                } while all && cursor != nil
            }
        }
    }
}

extension ContactsCLI.List {
    /// The command that lists the next page of this same query: its filters, limit and socket.
    func nextPageCommand(cursor: String) -> String {
        var words = ["contacts", "list"]
        if let socket = global.socket { words += ["--socket", socket] }
        if let limit { words += ["--limit", String(limit)] }
        if let prefix { words += ["--prefix", prefix] }
        if let email { words += ["--email", email] }
        words += ["--cursor", cursor]
        return words.map(shellQuoted).joined(separator: " ")
    }
}

/// `word` as one shell word: as is when it holds only safe characters, else in single quotes.
func shellQuoted(_ word: String) -> String {
    let safe = word.utf8.allSatisfy { byte in
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || Array("-_./@+:,=".utf8).contains(byte)
    }
    if safe && !word.isEmpty { return word }
    return "'" + word.replacing("'", with: #"'\''"#) + "'"
}

extension ContactsCLI {
    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one contact.")
        @Argument(help: "The username (case-insensitive).") var username: String
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try show(global) { client throws(ClientError) in
                try client.call(method: "contacts.get", params: ["username": .string(username)])
            }
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a contact.")
        @Argument(help: "The new username: letters, digits, '.', '_', '-'; 1-64.") var username: String
        @Option(help: "First name.") var first: String
        @Option(help: "Last name.") var last: String
        @Option(help: "An email address (repeat for more).") var email: [String] = []
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try UsageCheck.name(first, flag: "--first")
            try UsageCheck.name(last, flag: "--last")
        }

        func run() throws {
            try show(global) { client throws(ClientError) in
                try client.call(method: "contacts.create", params: [
                    "username": .string(username), "first_name": .string(first), "last_name": .string(last),
                    "emails": .array(email.map { .string($0) }),
                ])
            }
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a contact.",
            discussion: """
                --email replaces the whole list; --add-email and --remove-email change it on the \
                server, in one transaction, so concurrent changes are not lost.
                """)
        @Argument(help: "The username (case-insensitive).") var username: String
        @Option(help: "New first name.") var first: String?
        @Option(help: "New last name.") var last: String?
        @Option(help: "New username.") var rename: String?
        @Option(help: "Replace the emails with these (repeat).") var email: [String] = []
        @Option(help: "Add an address (repeat).") var addEmail: [String] = []
        @Option(help: "Remove an address (repeat).") var removeEmail: [String] = []
        @Option(help: "Fail with a conflict unless the contact is at this version.") var ifVersion: Int?
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try UsageCheck.name(first, flag: "--first")
            try UsageCheck.name(last, flag: "--last")
            try UsageCheck.version(ifVersion)
            if first == nil && last == nil && rename == nil && email.isEmpty && addEmail.isEmpty && removeEmail.isEmpty {
                throw ValidationError("nothing to change: give --first, --last, --rename, --email, --add-email or --remove-email")
            }
            if !email.isEmpty && !(addEmail.isEmpty && removeEmail.isEmpty) {
                throw ValidationError("--email replaces the list; it cannot be combined with --add-email or --remove-email")
            }
        }

        func run() throws {
            var params = JSONObject()
            params.append("username", .string(username))
            if let first { params.append("first_name", .string(first)) }
            if let last { params.append("last_name", .string(last)) }
            if let rename { params.append("new_username", .string(rename)) }
            if !email.isEmpty { params.append("emails", .array(email.map { .string($0) })) }
            if !addEmail.isEmpty { params.append("add_emails", .array(addEmail.map { .string($0) })) }
            if !removeEmail.isEmpty { params.append("remove_emails", .array(removeEmail.map { .string($0) })) }
            if let ifVersion { params.append("expected_version", .number(JSONNumber(ifVersion))) }
            try show(global) { client throws(ClientError) in
                try client.call(method: "contacts.update", params: .object(params))
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a contact and its emails.")
        @Argument(help: "The username (case-insensitive).") var username: String
        @Option(help: "Fail with a conflict unless the contact is at this version.") var ifVersion: Int?
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try UsageCheck.version(ifVersion)
        }

        func run() throws {
            var params = JSONObject()
            params.append("username", .string(username))
            if let ifVersion { params.append("expected_version", .number(JSONNumber(ifVersion))) }
            let result = try global.withClient { client throws(ClientError) in
                try client.call(method: "contacts.delete", params: .object(params))
            }
            if global.json {
                Terminal.output(result.jsonString)
            } else {
                Terminal.output("deleted \(result.objectValue?["username"]?.stringValue ?? username)")
            }
        }
    }

    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a consistent copy of the live database into the server's backup directory (server.backup).",
            discussion: """
                The server writes it into its --backup-dir (by default backups/ beside its database), \
                with mode 0600, checked with PRAGMA quick_check, and never over an existing file (a \
                name already taken exits 1). Restoring: docs/operations.md.
                """)
        @Argument(help: "The file name (letters, digits, '.', '_', '-'; not starting with '.'). (default: contacts-YYYYMMDDTHHMMSSZ.db, UTC)")
        var name: String?
        @OptionGroup var global: GlobalOptions

        func run() throws {
            var params = JSONObject()
            if let name { params.append("name", .string(name)) }
            let result = try global.withClient { client throws(ClientError) in
                try client.call(method: "server.backup", params: .object(params))
            }
            guard !global.json, let backup = result.objectValue else { return Terminal.output(result.jsonString) }
            func text(_ key: String) -> String {
                backup[key]?.stringValue ?? backup[key]?.numberValue?.text ?? "-"
            }
            Terminal.output("wrote \(text("path")) (\(text("size_bytes")) bytes, quick_check \(text("quick_check"))) in \(text("duration_ms")) ms")
        }
    }

    struct Call: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a raw JSON-RPC call.",
            discussion: """
                contacts call METHOD [PARAMS_JSON] prints the result. contacts call - reads requests \
                or batches from stdin, one per line, and prints each response line as it comes \
                (exit 1 if any response is an error).
                """)
        @Argument(help: "The method, or - to read raw request lines from stdin.", completion: .list(knownMethods))
        var method: String
        @Argument(help: "Params as JSON: an object (by name) or an array (by position).") var params: String?
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            _ = try parsedParams()
            if method == "-" && params != nil { throw ValidationError("call - takes no PARAMS_JSON: requests come from stdin") }
        }

        private func parsedParams() throws -> JSONValue? {
            guard let params else { return nil }
            let parsed: JSONValue
            do {
                parsed = try JSONReader.parse(Array(params.utf8))
            } catch {
                throw ValidationError("PARAMS_JSON is not valid JSON: \(error.reason) at byte \(error.offset)")
            }
            guard parsed.objectValue != nil || parsed.arrayValue != nil else {
                throw ValidationError("PARAMS_JSON must be an object or an array")
            }
            return parsed
        }

        func run() throws {
            if method == "-" { return try stream() }
            let parsed = try parsedParams()
            let result = try global.withClient { client throws(ClientError) in
                try client.call(method: method, params: parsed)
            }
            Terminal.output(global.json || !Terminal.isTTY ? result.jsonString : Render.prettyJSON(result))
        }

        /// Pipes stdin lines to the server and its answers to stdout, both as they come.
        private func stream() throws {
            // Answers come as requests do; stdin may pause for as long as it likes.
            let sawError = try global.withClient(waitForever: true) { client throws(ClientError) in
                let writer = StdinPump(client: client)
                writer.start()
                var sawError = false
                while let line = try client.readRawLine() {
                    let text = String(decoding: line, as: UTF8.self)
                    if text.contains("\"error\":{") { sawError = true }
                    Terminal.output(text)
                }
                if let failure = writer.failure { throw failure }
                // The server closed while requests were still coming: it stopped mid-session.
                if !writer.isFinished { throw ClientError.connectionClosed(path: client.socketPath) }
                return sawError
            }
            if sawError { throw ExitCode(1) }
        }
    }
}

/// Prints one contact result: a record for people, the server's JSON with --json.
private func show(_ global: GlobalOptions, _ call: (ContactClient) throws(ClientError) -> JSONValue) throws {
    let result = try global.withClient(call)
    if global.json {
        Terminal.output(result.jsonString)
    } else if let record = ContactRecord(result) {
        Terminal.output(Render.record(record))
    } else {
        Terminal.output(Render.prettyJSON(result))
    }
}

/// Checks of flag values that need no server: a usage error (exit 2) naming the flag, before
/// anything is sent, so exit 1 stays for the server's answers. The bounds are protocol.md's.
enum UsageCheck {
    static func limit(_ limit: Int?) throws {
        guard let limit, !(1...1000).contains(limit) else { return }
        throw ValidationError("--limit must be 1 to 1000")
    }

    static func version(_ version: Int?) throws {
        guard let version, !(1...9_007_199_254_740_991).contains(version) else { return }
        throw ValidationError("--if-version must be 1 to 9007199254740991")
    }

    static func name(_ name: String?, flag: String) throws {
        guard let name, name.unicodeScalars.allSatisfy(\.properties.isWhitespace) else { return }
        throw ValidationError("\(flag) must not be empty")
    }
}
