import JSONRPC

/// One notification of a subscription (protocol.md, `contacts.subscribe`).
public enum SubscriptionEvent: Sendable, Equatable {
    /// Changes in `seq` order, each as `contacts.changes` returns it: an object with `seq`, `op`
    /// (`created`, `updated` or `deleted`), `username`, `version`, `at`, `author` and `contact`
    /// (protocol.md, "The change object").
    /// - Parameters:
    ///   - subscription: the subscription's id, as in ``Subscription/id``.
    ///   - changes: the change objects; ``seq(of:)`` reads each one's `seq`.
    case changed(subscription: String, changes: [JSONValue])
    /// The server stopped sending to the subscription (it fell behind); `lastSeq` is the last
    /// change it was sent. Subscribe again with `since` to resume.
    /// - Parameters:
    ///   - subscription: the subscription's id.
    ///   - lastSeq: the last change sent to it: pass it as `since` to resume without a gap.
    ///   - reason: why it was dropped, for example `queue_full`.
    case dropped(subscription: String, lastSeq: Int, reason: String)

    /// The event a notification carries.
    /// - Parameter notification: a notification from ``ContactClient/nextNotification()``.
    /// - Returns: nil for another method or malformed params.
    public init?(_ notification: ServerNotification) {
        guard let params = notification.params?.objectValue, let id = params["subscription"]?.stringValue else {
            return nil
        }
        switch notification.method {
        case "contacts.changed":
            guard let changes = params["changes"]?.arrayValue else { return nil }
            self = .changed(subscription: id, changes: changes)
        case "contacts.subscription_dropped":
            guard let lastSeq = params["last_seq"]?.numberValue?.intValue else { return nil }
            self = .dropped(subscription: id, lastSeq: lastSeq, reason: params["reason"]?.stringValue ?? "")
        default:
            return nil
        }
    }

    /// The `seq` of a change object.
    /// - Parameter change: one element of ``changed(subscription:changes:)``'s `changes`.
    /// - Returns: nil when it has no integer `seq`.
    public static func seq(of change: JSONValue) -> Int? {
        change.objectValue?["seq"]?.numberValue?.intValue
    }
}
