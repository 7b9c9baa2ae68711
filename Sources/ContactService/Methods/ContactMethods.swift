import ContactStore
import JSONRPC

/// The five `contacts.*` methods: decode and validate params, call the store, encode results.
public enum ContactMethods {
    /// Every contacts method, bound to `store`.
    public static func all(store: ContactStore) -> [RPCMethod] {
        [
            RPCMethod(name: "contacts.list", parameters: ["limit", "cursor", "username_prefix", "email"]) { params in
                list(params, store: store)
            },
            RPCMethod(name: "contacts.get", parameters: ["username"]) { params in
                get(params, store: store)
            },
            RPCMethod(name: "contacts.create", parameters: ["username", "first_name", "last_name", "emails"]) { params in
                create(params, store: store)
            },
            RPCMethod(
                name: "contacts.update",
                parameters: [
                    "username", "first_name", "last_name", "new_username", "emails", "expected_version", "add_emails",
                    "remove_emails",
                ]
            ) { params in
                update(params, store: store)
            },
            RPCMethod(name: "contacts.delete", parameters: ["username", "expected_version"]) { params in
                delete(params, store: store)
            },
        ]
    }

    /// Biggest `expected_version` accepted (SQLite integers are 64-bit; JSON clients lose precision past 2^53).
    static let maxVersion = 9_007_199_254_740_991

    static func get(_ params: Params, store: ContactStore) -> RPCOutcome {
        var reader = ParamReader(params)
        let username = reader.username("username")
        guard reader.problems.isEmpty, let username else { return .error(.invalidParams(reader.problems)) }
        do {
            return .result(try store.get(username: username).fragment)
        } catch {
            return .error(error.rpcError)
        }
    }

    static func list(_ params: Params, store: ContactStore) -> RPCOutcome {
        var reader = ParamReader(params)
        let limit = reader.integer("limit", in: 1...ListQuery.maxLimit) ?? ListQuery.defaultLimit
        var after: String?
        if let cursor = reader.string("cursor", required: false) {
            after = ListCursor.decode(cursor)
            if after == nil { reader.problem("cursor", "is not a cursor this server issued") }
        }
        let prefix = reader.string("username_prefix", required: false)
        if let prefix, prefix.utf8.count > Validation.maxUsernameLength {
            reader.problem("username_prefix", "must be at most \(Validation.maxUsernameLength) characters")
        }
        let email = reader.string("email", required: false)
        guard reader.problems.isEmpty else { return .error(.invalidParams(reader.problems)) }
        let query = ListQuery(limit: limit, after: after, usernamePrefix: prefix, email: email.map(Validation.trim))
        do {
            return .result(try store.list(query).fragment)
        } catch {
            return .error(error.rpcError)
        }
    }

    static func create(_ params: Params, store: ContactStore) -> RPCOutcome {
        var reader = ParamReader(params)
        let username = reader.username("username")
        let first = reader.name("first_name", required: true)
        let last = reader.name("last_name", required: true)
        let emails = reader.emails("emails") ?? []
        guard reader.problems.isEmpty, let username, let first, let last else {
            return .error(.invalidParams(reader.problems))
        }
        let new = NewContact(validatedUsername: username, firstName: first, lastName: last, emails: emails)
        return .deferred { finish in
            store.create(new) { result in finish(result.map(\.fragment).mapError(\.rpcError)) }
        }
    }

    static func update(_ params: Params, store: ContactStore) -> RPCOutcome {
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
        guard reader.problems.isEmpty, username != nil else { return .error(.invalidParams(reader.problems)) }
        let validated = change
        return .deferred { finish in
            store.update(validated) { result in finish(result.map(\.fragment).mapError(\.rpcError)) }
        }
    }

    static func delete(_ params: Params, store: ContactStore) -> RPCOutcome {
        var reader = ParamReader(params)
        let username = reader.username("username")
        let expected = reader.integer("expected_version", in: 1...maxVersion).map(Int64.init)
        guard reader.problems.isEmpty, let username else { return .error(.invalidParams(reader.problems)) }
        return .deferred { finish in
            store.delete(username: username, expectedVersion: expected) { result in
                finish(
                    result.map { stored in
                        JSONFragment(["username": .string(stored), "deleted": true])
                    }.mapError(\.rpcError))
            }
        }
    }
}

extension ParamReader {
    /// A required username, checked against the username rule.
    mutating func username(_ name: String) -> String? {
        guard let raw = string(name, required: true) else { return nil }
        return validated { errors in Validation.username(raw, field: name, into: &errors) }
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
