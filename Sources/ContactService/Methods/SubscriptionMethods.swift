import ContactStore
import JSONRPC
import Logging

/// `contacts.subscribe` and `contacts.unsubscribe`, and the two notifications they lead to.
/// A subscription belongs to the connection that made it (`RequestContext.connection`); the
/// server's `ChangeFeed` reads the log for every subscription.
enum SubscriptionMethods {
    /// Both methods.
    static func all(store: ContactStore, logger: Logger?, limits: LimitEvents?) -> [RPCMethod] {
        let errors = StoreErrorReporter(logger: logger, limits: limits)
        typealias S = ContactSchemas
        return [
            RPCMethod(
                name: "contacts.subscribe",
                summary: "Push the changes after since (default: the head) on this connection, as contacts.changed notifications.",
                params: [
                    RPCParam(
                        "since", schema: S.seq,
                        summary: "The last seq seen (exclusive): the missed changes come first. Default: the head now."),
                    RPCParam(
                        "username_prefix", schema: S.usernamePrefix,
                        summary: "Only changes whose username, or old_username on a rename, starts with this (case-insensitive)."),
                    RPCParam("exclude_authors", schema: S.authors, summary: "Leave out the changes of these authors."),
                ],
                result: (name: "subscription", schema: [
                    "type": "object", "required": ["subscription", "head_seq"],
                    "properties": [
                        "subscription": ["type": "string", "description": "Its id on this connection (opaque)."],
                        "head_seq": [
                            "type": "integer", "minimum": 0,
                            "description": "The head when it began; without since, the changes after it are sent.",
                        ],
                    ],
                ]),
                errors: [S.gone]
            ) { params in subscribe(params, store: store, errors: errors) },
            RPCMethod(
                name: "contacts.unsubscribe", summary: "End a subscription of this connection; nothing more is sent for it.",
                params: [
                    RPCParam("subscription", schema: ["type": "string"], required: true, summary: "The id contacts.subscribe gave.")
                ],
                result: (name: "unsubscribed", schema: [
                    "type": "object", "required": ["unsubscribed"], "properties": ["unsubscribed": ["const": true]],
                ]),
                errors: [unknownSubscription]
            ) { params in unsubscribe(params) },
        ]
    }

    /// The notifications, for `rpc.discover`'s `x-notifications`.
    static let notifications = [
        RPCNotificationSpec(
            name: "contacts.changed",
            summary: "Changes for a subscription, in seq order, at most 100 in one notification.",
            params: [
                "type": "object", "required": ["subscription", "changes"],
                "properties": [
                    "subscription": ["type": "string"],
                    "changes": ["type": "array", "maxItems": 100, "items": ContactSchemas.changeRef],
                ],
            ]),
        RPCNotificationSpec(
            name: "contacts.subscription_dropped",
            summary: "The subscription ended because its client did not keep up; subscribe again with since = last_seq.",
            params: [
                "type": "object", "required": ["subscription", "last_seq", "reason"],
                "properties": [
                    "subscription": ["type": "string"],
                    "last_seq": ["type": "integer", "minimum": 0, "description": "The last seq sent for it."],
                    "reason": ["enum": ["queue_full", "pruned"]],
                ],
            ]),
    ]

    static let unknownSubscription = RPCErrorSpec(
        code: 404, message: "no subscription \"…\" on this connection",
        data: [
            "type": "object",
            "properties": ["reason": ["const": "unknown_subscription"], "subscription": ["type": "string"]],
        ])

    static func subscribe(_ params: Params, store: ContactStore, errors: StoreErrorReporter) -> RPCOutcome {
        var reader = ParamReader(params)
        let since = reader.integer("since", in: 0...ContactMethods.maxVersion).map(Int64.init)
        let prefix = reader.usernamePrefix()
        let excluded = reader.excludedAuthors()
        guard reader.problems.isEmpty else { return .error(reader.error) }
        guard let context = params.context as? RequestContext else {
            return .error(.internalError("contacts.subscribe needs a connection"))
        }
        do throws(StoreError) {
            let bounds = try store.changeLogBounds(in: context.session)
            // The same rule, and the same 410, as contacts.changes.
            if let since, since < bounds.oldest - 1 || since > bounds.head {
                throw StoreError.changesGone(since: since, oldest: bounds.oldest, head: bounds.head)
            }
            let id = context.connection.subscribe(
                filter: ChangeFilter(usernamePrefix: prefix, excludeAuthors: excluded), after: since ?? bounds.head)
            return .result(JSONFragment(["subscription": .string(id), "head_seq": .number(JSONNumber(Int(bounds.head)))]))
        } catch {
            return .error(errors.rpcError(error))
        }
    }

    static func unsubscribe(_ params: Params) -> RPCOutcome {
        var reader = ParamReader(params)
        let id = reader.string("subscription", required: true)
        guard reader.problems.isEmpty, let id else { return .error(reader.error) }
        guard let context = params.context as? RequestContext else {
            return .error(.internalError("contacts.unsubscribe needs a connection"))
        }
        guard context.connection.unsubscribe(id) else {
            var writer = JSONWriter()
            writer.writeString(id)
            return .error(
                RPCError(
                    code: 404, message: "no subscription \(String(decoding: writer.bytes, as: UTF8.self)) on this connection",
                    data: ["reason": "unknown_subscription", "subscription": .string(id)]))
        }
        return .result(JSONFragment(["unsubscribed": true]))
    }
}
