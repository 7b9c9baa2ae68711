import JSONRPC

/// A message the server sent without being asked: a JSON-RPC notification (a `method`, no `id`).
public struct ServerNotification: Sendable, Equatable {
    /// The notification's method, e.g. `contacts.changed`.
    public var method: String
    /// Its params, as sent.
    public var params: JSONValue?

    /// A notification.
    /// - Parameters:
    ///   - method: its method.
    ///   - params: its params; nil when it has none.
    public init(method: String, params: JSONValue? = nil) {
        self.method = method
        self.params = params
    }

    /// The notification in a parsed message, or nil when the message is a response.
    init?(_ message: JSONValue) {
        guard let object = message.objectValue, object["id"] == nil, let method = object["method"]?.stringValue
        else { return nil }
        self.init(method: method, params: object["params"])
    }
}
