import ContactStore
import JSONRPC
import Logging

/// The `contacts.*` methods (the vCard ones in `VCardMethods`): decode and validate params, call the store, encode results.
public enum ContactMethods {
    /// Every contacts method, bound to `store`, with the metadata `rpc.discover` publishes.
    /// - Parameters:
    ///   - maxResponseBytes: a list page is encoded only up to this size; past it the call gets
    ///     `-32003` without the rest being built.
    ///   - logger: where database errors are logged (at warning level), if anywhere.
    ///   - limits: counts (and rate-limits the log lines of) a full disk.
    ///   - maxImportCards, maxRequestBytes: the server's `--max-batch` and `--max-request-bytes`,
    ///     which bound a `contacts.import` call (and are published in `rpc.discover`).
    public static func all(
        store: ContactStore, maxResponseBytes: Int = 16 << 20, maxImportCards: Int = 1000,
        maxRequestBytes: Int = 1 << 20, logger: Logger? = nil, limits: LimitEvents? = nil
    ) -> [RPCMethod] {
        let errors = StoreErrorReporter(logger: logger, limits: limits)
        typealias S = ContactSchemas
        let username = RPCParam("username", schema: S.username, required: true, summary: "The contact's username (case-insensitive).")
        let expected = RPCParam(
            "expected_version", schema: S.version, summary: "Fail with 409 version_mismatch unless the contact is at this version.")
        let contactResult = (name: "contact", schema: S.contactRef)
        let author = RPCParam(
            "author", schema: S.author,
            summary: "Who makes this change, as the change log records it (default: contactsd).")
        return [
            RPCMethod(
                name: "contacts.list", summary: "List contacts in case-insensitive username order, one page at a time.",
                params: [
                    RPCParam("limit", schema: S.limit, summary: "Contacts per page."),
                    RPCParam("cursor", schema: ["type": ["string", "null"]], summary: "next_cursor of the previous page."),
                    RPCParam(
                        "username_prefix", schema: S.usernamePrefix,
                        summary: "Only usernames starting with this, literally and case-insensitively."),
                    RPCParam("email", schema: ["type": "string"], summary: "Only the contact owning this address."),
                ],
                result: (name: "page", schema: [
                    "type": "object", "required": ["contacts", "next_cursor", "head_seq"],
                    "properties": [
                        "contacts": ["type": "array", "items": S.contactRef], "next_cursor": ["type": ["string", "null"]],
                        "head_seq": [
                            "type": "integer", "minimum": 0,
                            "description": "The newest change in this page's snapshot: the since to follow contacts.changes from.",
                        ],
                    ],
                ])
            ) { params in list(params, store: store, maxResponseBytes: maxResponseBytes, errors: errors) },
            RPCMethod(
                name: "contacts.changes",
                summary: "The change log after a seq, oldest first: every create, update and delete, with the contact.",
                params: [
                    RPCParam("since", schema: S.seq, required: true, summary: "The last seq seen (exclusive); 0 for the start."),
                    RPCParam("limit", schema: S.limit, summary: "Most changes returned."),
                    RPCParam("exclude_authors", schema: S.authors, summary: "Leave out the changes of these authors."),
                ],
                result: (name: "changes", schema: [
                    "type": "object", "required": ["changes", "next"],
                    "properties": [
                        "changes": ["type": "array", "items": S.changeRef],
                        "next": [
                            "type": "integer", "minimum": 0,
                            "description": "The since to ask with next: the last change's seq on a full page, else the head.",
                        ],
                    ],
                ]),
                errors: [S.gone]
            ) { params in changes(params, store: store, maxResponseBytes: maxResponseBytes, errors: errors) },
            RPCMethod(
                name: "contacts.search",
                summary: "Find contacts by any fragment of a username, name or address, best matches first.",
                params: [
                    RPCParam(
                        "query", schema: ["type": "string", "minLength": 1, "maxLength": .number(JSONNumber(SearchQuery.maxLength))],
                        required: true,
                        summary: "Words that must all match, each in any field; case and accents are ignored."),
                    RPCParam(
                        "limit",
                        schema: ["type": "integer", "minimum": 1, "maximum": .number(JSONNumber(SearchQuery.maxLimit))],
                        summary: "Most contacts returned (default \(SearchQuery.defaultLimit))."),
                ],
                result: (name: "found", schema: [
                    "type": "object", "required": ["contacts", "has_more"],
                    "properties": [
                        "contacts": ["type": "array", "items": S.contactRef],
                        "has_more": ["type": "boolean", "description": "More contacts match than were returned."],
                    ],
                ])
            ) { params in search(params, store: store, errors: errors) },
            RPCMethod(
                name: "contacts.get", summary: "Get one contact by username.", params: [username], result: contactResult,
                errors: [S.notFound]
            ) { params in get(params, store: store, errors: errors) },
            RPCMethod(
                name: "contacts.create", summary: "Create a contact.",
                params: [
                    username,
                    RPCParam("first_name", schema: S.name, required: true, summary: "Given name."),
                    RPCParam("last_name", schema: S.name, required: true, summary: "Family name."),
                    RPCParam("emails", schema: S.emails, summary: "Email addresses, in order."),
                    author,
                ],
                result: contactResult, errors: [S.conflict(["username_taken", "email_taken"])]
            ) { params in create(params, store: store, errors: errors) },
            RPCMethod(
                name: "contacts.update",
                summary: "Change a contact: names, username, or emails (replace the list, or add and remove).",
                params: [
                    username,
                    RPCParam("first_name", schema: S.name, summary: "New given name."),
                    RPCParam("last_name", schema: S.name, summary: "New family name."),
                    RPCParam("new_username", schema: S.username, summary: "Rename the contact."),
                    RPCParam("emails", schema: S.emails, summary: "Replace the whole list."),
                    expected,
                    RPCParam("add_emails", schema: S.emails, summary: "Append these addresses (in the same transaction)."),
                    RPCParam("remove_emails", schema: S.emails, summary: "Remove these addresses (in the same transaction)."),
                    author,
                ],
                result: contactResult,
                errors: [S.notFound, S.conflict(["username_taken", "email_taken", "version_mismatch"])]
            ) { params in update(params, store: store, errors: errors) },
            RPCMethod(
                name: "contacts.delete", summary: "Delete a contact and its emails.", params: [username, expected, author],
                result: (name: "deleted", schema: [
                    "type": "object", "required": ["username", "deleted"],
                    "properties": ["username": ["type": "string"], "deleted": ["const": true]],
                ]),
                errors: [S.notFound, S.conflict(["version_mismatch"])]
            ) { params in delete(params, store: store, errors: errors) },
        ]
            + VCardMethods.all(
                store: store, maxCards: maxImportCards, maxRequestBytes: maxRequestBytes,
                maxResponseBytes: maxResponseBytes, errors: errors)
    }

    /// Biggest `expected_version` accepted (SQLite integers are 64-bit; JSON clients lose precision past 2^53).
    static let maxVersion = 9_007_199_254_740_991

    static func get(_ params: Params, store: ContactStore, errors: StoreErrorReporter) -> RPCOutcome {
        var reader = ParamReader(params)
        let username = reader.username("username")
        guard reader.problems.isEmpty, let username else { return .error(reader.error) }
        do {
            return .result(try store.get(username: username, in: params.readSession).fragment)
        } catch {
            return .error(errors.rpcError(error))
        }
    }

    static func search(_ params: Params, store: ContactStore, errors: StoreErrorReporter) -> RPCOutcome {
        var reader = ParamReader(params)
        let text = reader.string("query", required: true)
        let limit = reader.integer("limit", in: 1...SearchQuery.maxLimit) ?? SearchQuery.defaultLimit
        var query: SearchQuery?
        if let text {
            if text.unicodeScalars.count > SearchQuery.maxLength {
                reader.problem("query", "must be at most \(SearchQuery.maxLength) characters")
            } else {
                // One more than asked for tells whether there are more.
                query = SearchQuery(text, limit: limit + 1)
                if query == nil { reader.problem("query", "must contain a word (it is empty or only white space)") }
            }
        }
        guard reader.problems.isEmpty, let query else { return .error(reader.error) }
        do {
            let found = try store.search(query, in: params.readSession)
            var writer = JSONWriter(capacity: 64 + min(found.count, limit) * 300)
            writer.writeRaw("{\"contacts\":[")
            for (index, contact) in found.prefix(limit).enumerated() {
                if index > 0 { writer.writeRaw(",") }
                contact.write(to: &writer)
            }
            writer.writeRaw(found.count > limit ? "],\"has_more\":true}" : "],\"has_more\":false}")
            return .result(JSONFragment(bytes: writer.bytes))
        } catch {
            return .error(errors.rpcError(error))
        }
    }

    static func list(
        _ params: Params, store: ContactStore, maxResponseBytes: Int, errors: StoreErrorReporter
    ) -> RPCOutcome {
        var reader = ParamReader(params)
        let limit = reader.integer("limit", in: 1...ListQuery.maxLimit) ?? ListQuery.defaultLimit
        let after = reader.cursor()
        let prefix = reader.usernamePrefix()
        let email = reader.string("email", required: false)
        guard reader.problems.isEmpty else { return .error(reader.error) }
        let query = ListQuery(limit: limit, after: after, usernamePrefix: prefix, email: email.map(Validation.trim))
        do {
            guard let page = try store.list(query, in: params.readSession).fragment(maxBytes: maxResponseBytes)
            else {
                return .error(.responseTooLarge(limit: maxResponseBytes))
            }
            return .result(page)
        } catch {
            return .error(errors.rpcError(error))
        }
    }

    static func changes(
        _ params: Params, store: ContactStore, maxResponseBytes: Int, errors: StoreErrorReporter
    ) -> RPCOutcome {
        var reader = ParamReader(params)
        let since = params["since"] == nil ? nil : reader.integer("since", in: 0...maxVersion)
        if params["since"] == nil { reader.problem("since", "is required") }
        let limit = reader.integer("limit", in: 1...ChangeQuery.maxLimit) ?? ChangeQuery.defaultLimit
        let excluded = reader.excludedAuthors()
        guard reader.problems.isEmpty, let since else { return .error(reader.error) }
        let query = ChangeQuery(since: Int64(since), limit: limit, excludeAuthors: excluded)
        do {
            guard
                let page = try store.changes(query, in: params.readSession).fragment(maxBytes: maxResponseBytes)
            else {
                return .error(.responseTooLarge(limit: maxResponseBytes))
            }
            return .result(page)
        } catch {
            return .error(errors.rpcError(error))
        }
    }

    static func create(_ params: Params, store: ContactStore, errors: StoreErrorReporter) -> RPCOutcome {
        var reader = ParamReader(params)
        let username = reader.username("username")
        let first = reader.name("first_name", required: true)
        let last = reader.name("last_name", required: true)
        let emails = reader.emails("emails") ?? []
        let author = reader.author()
        guard reader.problems.isEmpty, let username, let first, let last else {
            return .error(reader.error)
        }
        let new = NewContact(validatedUsername: username, firstName: first, lastName: last, emails: emails)
        return .deferred { finish in
            store.create(new, author: author) { result in finish(result.map(\.fragment).mapError(errors.rpcError)) }
        }
    }

    static func update(_ params: Params, store: ContactStore, errors: StoreErrorReporter) -> RPCOutcome {
        var reader = ParamReader(params)
        let username = reader.username("username")
        var change = ContactUpdate(username: username ?? "")
        change.firstName = reader.name("first_name", required: false)
        change.lastName = reader.name("last_name", required: false)
        if params["new_username"] != nil { change.newUsername = reader.username("new_username") }
        change.emails = reader.emails("emails")
        change.addEmails = reader.emails("add_emails")
        change.removeEmails = reader.emails("remove_emails")
        change.expectedVersion = reader.integer("expected_version", in: 1...maxVersion).map(Int64.init)
        let changes = ["first_name", "last_name", "new_username", "emails", "add_emails", "remove_emails"]
        if !changes.contains(where: { params[$0] != nil }) {
            reader.problem("params", "at least one of \(changes.joined(separator: ", ")) is required")
        }
        if params["emails"] != nil, params["add_emails"] != nil || params["remove_emails"] != nil {
            reader.problem("emails", "replaces the whole list, so it cannot be combined with add_emails or remove_emails")
        }
        let author = reader.author()
        guard reader.problems.isEmpty, username != nil else { return .error(reader.error) }
        let validated = change
        return .deferred { finish in
            store.update(validated, author: author) { result in finish(result.map(\.fragment).mapError(errors.rpcError)) }
        }
    }

    static func delete(_ params: Params, store: ContactStore, errors: StoreErrorReporter) -> RPCOutcome {
        var reader = ParamReader(params)
        let username = reader.username("username")
        let expected = reader.integer("expected_version", in: 1...maxVersion).map(Int64.init)
        let author = reader.author()
        guard reader.problems.isEmpty, let username else { return .error(reader.error) }
        return .deferred { finish in
            store.delete(username: username, expectedVersion: expected, author: author) { result in
                finish(
                    result.map { stored in
                        JSONFragment(["username": .string(stored), "deleted": true])
                    }.mapError(errors.rpcError))
            }
        }
    }
}

extension ParamReader {
    /// A required username, checked against the username rule.
    mutating func username(_ name: String) -> String? {
        guard let raw = string(name, required: true) else { return nil }
        return validUsername(raw, field: name)
    }

    /// `raw` when it passes the username rule; else nil, with the problem noted under `field`.
    mutating func validUsername(_ raw: String, field: String) -> String? {
        validated { errors in Validation.username(raw, field: field, into: &errors) }
    }

    /// The optional `author` of a write: the name the change log records (the username rule).
    mutating func author() -> String? {
        string("author", required: false).flatMap { validUsername($0, field: "author") }
    }

    /// The optional `username_prefix` of a list or a subscription: at most 64 bytes of UTF-8.
    mutating func usernamePrefix() -> String? {
        let prefix = string("username_prefix", required: false)
        // Bytes, not characters: usernames are ASCII, so a longer prefix could match nothing.
        if let prefix, prefix.utf8.count > Validation.maxUsernameLength {
            problem("username_prefix", "must be at most \(Validation.maxUsernameLength) bytes of UTF-8")
        }
        return prefix
    }

    /// The optional `cursor` of a page: the username it continues after, checked to be one this
    /// server issued.
    mutating func cursor() -> String? {
        guard let cursor = string("cursor", required: false) else { return nil }
        let after = ListCursor.decode(cursor)
        if after == nil { problem("cursor", "is not a cursor this server issued") }
        return after
    }

    /// The optional `exclude_authors`: at most 100 names, each by the username rule.
    mutating func excludedAuthors() -> [String] {
        var excluded: [String] = []
        guard let raw = stringArray("exclude_authors") else { return excluded }
        if raw.count > ChangeQuery.maxExcludedAuthors {
            problem("exclude_authors", "must hold at most \(ChangeQuery.maxExcludedAuthors) names")
        } else {
            for (index, name) in raw.strings {
                if let name = validUsername(name, field: "exclude_authors[\(index)]") { excluded.append(name) }
            }
        }
        return excluded
    }

    /// A first or last name, trimmed and checked.
    mutating func name(_ name: String, required: Bool) -> String? {
        guard let raw = string(name, required: required) else { return nil }
        return validated { errors in Validation.name(raw, field: name, into: &errors) }
    }

    /// An email list, each address trimmed and checked, no duplicates; every bad entry reported.
    mutating func emails(_ name: String) -> [Email]? {
        guard let raw = stringArray(name) else { return nil }
        let emails = validated { errors in
            Validation.emails(indexed: raw.strings, count: raw.count, field: name, into: &errors)
        }
        return raw.allStrings ? emails : nil
    }

    private mutating func validated<T>(_ check: (inout [FieldError]) -> T?) -> T? {
        var errors: [FieldError] = []
        let value = check(&errors)
        for error in errors { problem(error.field, error.message) }
        return value
    }
}
