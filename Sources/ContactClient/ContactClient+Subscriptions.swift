import JSONRPC

extension ContactClient {
    /// Subscribes to the change log (`contacts.subscribe`); the changes then arrive as
    /// `contacts.changed` notifications, read with ``nextNotification()`` and decoded with
    /// ``SubscriptionEvent/init(_:)``.
    /// - Parameters:
    ///   - since: deliver the changes after this seq first (missed ones, then live ones); without
    ///     it, the changes after the returned `headSeq`.
    ///   - usernamePrefix: only changes to usernames starting with this (case-insensitive).
    ///   - excludeAuthors: leave out the changes these authors wrote.
    /// - Returns: the subscription's id and the newest change's seq when it began.
    /// - Throws: ``ClientError/server(_:)`` with `410` when the changes after `since` are no longer
    ///   kept (resync with ``list(limit:cursor:usernamePrefix:email:)``), `-32602` for invalid params.
    public func subscribe(since: Int? = nil, usernamePrefix: String? = nil, excludeAuthors: [String] = [])
        throws(ClientError) -> Subscription
    {
        var params = JSONObject()
        if let since { params.append("since", .number(JSONNumber(since))) }
        if let usernamePrefix { params.append("username_prefix", .string(usernamePrefix)) }
        if !excludeAuthors.isEmpty { params.append("exclude_authors", .array(excludeAuthors.map { .string($0) })) }
        let result = try call(method: "contacts.subscribe", params: .object(params))
        guard let id = result.objectValue?["subscription"]?.stringValue,
            let headSeq = result.objectValue?["head_seq"]?.numberValue?.intValue
        else { throw .invalidResponse("contacts.subscribe result has no subscription and head_seq") }
        return Subscription(id: id, headSeq: headSeq)
    }

    /// Ends a subscription (`contacts.unsubscribe`); notifications already sent may still arrive.
    /// - Parameter subscription: what ``subscribe(since:usernamePrefix:excludeAuthors:)`` returned.
    /// - Throws: ``ClientError/server(_:)`` with `404` when the subscription is not one of this
    ///   connection's.
    public func unsubscribe(_ subscription: Subscription) throws(ClientError) {
        _ = try call(method: "contacts.unsubscribe", params: ["subscription": .string(subscription.id)])
    }
}
