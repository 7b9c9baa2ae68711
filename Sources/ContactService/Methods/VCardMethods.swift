import ContactStore
import JSONRPC
import VCard

/// `contacts.import` and `contacts.export`: vCards in and out (protocol.md, "vCard rules").
enum VCardMethods {
    /// Both methods, bound to `store`.
    /// - Parameters:
    ///   - maxCards: most cards one `contacts.import` takes (the server's `--max-batch`).
    ///   - maxRequestBytes: the server's `--max-request-bytes`, published in `rpc.discover` so
    ///     that a client can split a file into calls that fit.
    ///   - maxResponseBytes: an export page stops growing at half of this.
    static func all(
        store: ContactStore, maxCards: Int, maxRequestBytes: Int, maxResponseBytes: Int, errors: StoreErrorReporter
    ) -> [RPCMethod] {
        let author = RPCParam(
            "author", schema: ContactSchemas.author,
            summary: "Who makes this change, as the change log records it (default: contactsd).")
        return [
            RPCMethod(
                name: "contacts.import",
                summary: "Import vCards (4.0, 3.0, 2.1), each in the write path with its own result.",
                params: [
                    RPCParam(
                        "cards",
                        schema: [
                            "type": "array", "minItems": 1, "maxItems": .number(JSONNumber(maxCards)),
                            "items": ["type": "string", "description": "One vCard, BEGIN:VCARD to END:VCARD."],
                            "x-max-request-bytes": .number(JSONNumber(maxRequestBytes)),
                            "description": .string(
                                "At most --max-batch cards, and the whole request within --max-request-bytes "
                                    + "(x-max-request-bytes); a property may hold at most \(VCardReader.defaultMaxPropertyBytes) bytes."),
                        ], required: true, summary: "The cards, one vCard text each."),
                    RPCParam(
                        "on_conflict", schema: ["enum": ["skip", "update", "fail"], "default": "skip"],
                        summary: "For a card whose UID a contact has: leave it, update it, or fail the card (409 uid_taken)."),
                    RPCParam(
                        "dry_run", schema: ["type": "boolean", "default": false],
                        summary: "Report what would happen; change nothing."),
                    RPCParam(
                        "atomic", schema: ["type": "boolean", "default": false],
                        summary: "If any card fails, import none of this call's cards."),
                    author,
                ],
                result: (name: "import", schema: importResult)
            ) { params in importCards(params, store: store, maxCards: maxCards, errors: errors) },
            RPCMethod(
                name: "contacts.export",
                summary: "Every contact as a vCard 4.0, one page at a time, in username order.",
                params: [
                    RPCParam("limit", schema: ContactSchemas.limit, summary: "Cards per page."),
                    RPCParam("cursor", schema: ["type": ["string", "null"]], summary: "next_cursor of the previous page."),
                ],
                result: (name: "page", schema: [
                    "type": "object", "required": ["cards", "next_cursor"],
                    "properties": [
                        "cards": ["type": "array", "items": ["type": "string"]],
                        "next_cursor": ["type": ["string", "null"]],
                    ],
                ])
            ) { params in export(params, store: store, maxResponseBytes: maxResponseBytes, errors: errors) },
        ]
    }

    private static let importResult: JSONValue = [
        "type": "object",
        "required": ["applied", "created", "updated", "unchanged", "skipped", "failed", "results"],
        "properties": [
            "applied": ["type": "boolean", "description": "False for dry_run, and for atomic when a card failed."],
            "created": ["type": "integer"], "updated": ["type": "integer"], "unchanged": ["type": "integer"],
            "skipped": ["type": "integer"], "failed": ["type": "integer"],
            "results": [
                "type": "array",
                "description": "One per card, in order.",
                "items": [
                    "type": "object", "required": ["status"],
                    "properties": [
                        "status": ["enum": ["created", "updated", "unchanged", "skipped", "failed"]],
                        "username": ["type": "string"], "uid": ["type": "string"],
                        "warnings": [
                            "type": "array",
                            "items": [
                                "type": "object", "properties": ["field": ["type": "string"], "message": ["type": "string"]],
                            ],
                        ],
                        "error": [
                            "type": "object", "description": "A JSON-RPC error object: why this card was not imported.",
                        ],
                    ],
                ],
            ],
        ],
    ]

    static func importCards(_ params: Params, store: ContactStore, maxCards: Int, errors: StoreErrorReporter) -> RPCOutcome {
        var reader = ParamReader(params)
        let cards = reader.stringArray("cards")
        if params["cards"] == nil { reader.problem("cards", "is required") }
        if let cards, cards.count > maxCards { reader.problem("cards", "must hold at most \(maxCards) cards") }
        if let cards, cards.count == 0 { reader.problem("cards", "must hold at least one card") }
        var policy = ImportConflictPolicy.skip
        if let name = reader.string("on_conflict", required: false) {
            if let chosen = ImportConflictPolicy(rawValue: name) { policy = chosen } else {
                reader.problem("on_conflict", "must be skip, update or fail")
            }
        }
        let dryRun = reader.boolean("dry_run")
        let atomic = reader.boolean("atomic")
        let author = reader.author()
        guard reader.problems.isEmpty, let cards, cards.allStrings else { return .error(reader.error) }
        // Mapped here, on the caller's thread; only the store's part runs on the writer's.
        let mapped = cards.strings.map { contact(from: $0.value) }
        let valid = mapped.compactMap { try? $0.get() }
        let anyInvalid = valid.count < mapped.count
        let storeDryRun = dryRun || (atomic && anyInvalid)
        let chosen = policy
        let finishImport: @Sendable ([ImportOutcome], Bool) -> JSONFragment = { outcomes, applied in
            var stored = outcomes.makeIterator()
            var results: [ImportOutcome] = []
            for entry in mapped {
                switch entry {
                case .success: results.append(stored.next()!)
                case .failure(let error): results.append(ImportOutcome(status: .failed, username: nil, uid: "", error: error))
                }
            }
            return fragment(results, applied: applied && !(atomic && anyInvalid), errors: errors)
        }
        if valid.isEmpty { return .result(finishImport([], false)) }
        return .deferred { finish in
            store.importContacts(valid, policy: chosen, dryRun: storeDryRun, atomic: atomic, author: author) { result in
                finish(result.map { finishImport($0.outcomes, $0.applied) }.mapError(errors.rpcError))
            }
        }
    }

    /// The contact of one card's text, or why it cannot be imported.
    static func contact(from text: String) -> Result<ImportedContact, StoreError> {
        let events = VCardReader.read(Array(text.utf8))
        var cards: [VCard] = []
        for event in events {
            switch event {
            case .card(let card): cards.append(card)
            case .failure(let failure):
                return .failure(.invalid([FieldError(field: failure.property ?? "card", message: "\(failure.message) (line \(failure.line) of the card)")]))
            }
        }
        guard cards.count == 1 else {
            return .failure(.invalid([FieldError(field: "card", message: "must hold exactly one vCard, not \(cards.count)")]))
        }
        return VCardMapping.imported(from: cards[0])
    }

    private static func fragment(_ results: [ImportOutcome], applied: Bool, errors: StoreErrorReporter) -> JSONFragment {
        var counts: [ImportOutcome.Status: Int] = [:]
        var items: [JSONValue] = []
        items.reserveCapacity(results.count)
        for result in results {
            counts[result.status, default: 0] += 1
            var item = JSONObject()
            item.append("status", .string(result.status.rawValue))
            if let username = result.username { item.append("username", .string(username)) }
            if !result.uid.isEmpty { item.append("uid", .string(result.uid)) }
            if !result.warnings.isEmpty {
                item.append("warnings", .array(result.warnings.map { ["field": .string($0.field), "message": .string($0.message)] }))
            }
            if let error = result.error {
                let rpc = errors.rpcError(error)
                var object = JSONObject()
                object.append("code", .number(JSONNumber(rpc.code)))
                object.append("message", .string(rpc.message))
                if let data = rpc.data { object.append("data", data) }
                item.append("error", .object(object))
            }
            items.append(.object(item))
        }
        var object = JSONObject()
        object.append("applied", .bool(applied))
        for status in [ImportOutcome.Status.created, .updated, .unchanged, .skipped, .failed] {
            object.append(status.rawValue, .number(JSONNumber(counts[status] ?? 0)))
        }
        object.append("results", .array(items))
        return JSONFragment(.object(object))
    }

    static func export(_ params: Params, store: ContactStore, maxResponseBytes: Int, errors: StoreErrorReporter) -> RPCOutcome {
        var reader = ParamReader(params)
        let limit = reader.integer("limit", in: 1...ListQuery.maxLimit) ?? ListQuery.defaultLimit
        let after = reader.cursor()
        guard reader.problems.isEmpty else { return .error(reader.error) }
        let read: ExportPageRead
        do {
            read = try store.readExportPage(after: after, limit: limit + 1, in: params.readSession)
        } catch {
            return .error(errors.rpcError(error))
        }
        return .deferred { finish in
            store.exportPage(read) { result in
                finish(result.map { page in exportFragment(page, limit: limit, maxBytes: maxResponseBytes / 2) }
                    .mapError(errors.rpcError))
            }
        }
    }

    /// `{"cards": [...], "next_cursor": …}`: up to `limit` cards (a page was read with one more,
    /// to know whether more follow), ending early once the cards pass `maxBytes`.
    private static func exportFragment(_ page: [ExportedContact], limit: Int, maxBytes: Int) -> JSONFragment {
        var writer = JSONWriter(capacity: 64 + min(page.count, limit) * 400)
        writer.writeRaw("{\"cards\":[")
        var last: String?
        var more = page.count > limit
        for (index, exported) in page.prefix(limit).enumerated() {
            if index > 0 { writer.writeRaw(",") }
            writer.writeString(String(decoding: VCardMapping.card(for: exported), as: UTF8.self))
            last = exported.contact.username
            if writer.bytes.count > maxBytes && index + 1 < min(page.count, limit + 1) {
                more = true
                break
            }
        }
        writer.writeRaw("],\"next_cursor\":")
        if more, let last { writer.writeString(ListCursor.encode(after: last)) } else { writer.writeNull() }
        writer.writeRaw("}")
        return JSONFragment(bytes: writer.bytes)
    }
}
