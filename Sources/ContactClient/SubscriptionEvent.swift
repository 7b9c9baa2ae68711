import JSONRPC

/// One notification of a subscription (protocol.md, `contacts.subscribe`).
public enum SubscriptionEvent: Sendable, Equatable {
    /// Changes in `seq` order, each as `contacts.changes` returns it.
    case changed(subscription: String, changes: [JSONValue])
    /// The server stopped sending to the subscription (it fell behind); `lastSeq` is the last
    /// change it was sent. Subscribe again with `since` to resume.
    case dropped(subscription: String, lastSeq: Int, reason: String)

    /// The event a notification carries; nil for another method or malformed params.
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

    /// The `seq` of a change object; nil when it has none.
    public static func seq(of change: JSONValue) -> Int? {
        change.objectValue?["seq"]?.numberValue?.intValue
    }
}
