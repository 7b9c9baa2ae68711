/// An already-encoded JSON value (a method's result), spliced into the response as is.
public struct JSONFragment: Sendable {
    /// The encoded bytes of exactly one JSON value.
    public var bytes: [UInt8]

    /// Wraps encoded JSON.
    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Encodes a value.
    public init(_ value: JSONValue) {
        self.bytes = value.jsonBytes
    }
}

/// What a method handler produces.
public enum RPCOutcome: Sendable {
    /// Finished now with a result.
    case result(JSONFragment)
    /// Finished now with an error.
    case error(RPCError)
    /// Finishes later: the dispatcher passes a callback that must be called exactly once, on any thread.
    case deferred(@Sendable (_ finish: @escaping @Sendable (Result<JSONFragment, RPCError>) -> Void) -> Void)
}

/// One parameter of a method: its name (and so its position), JSON Schema and description.
public struct RPCParam: Sendable {
    /// The name used in by-name calls.
    public var name: String
    /// A JSON Schema with the real limits the method enforces.
    public var schema: JSONValue
    /// Whether the call fails without it.
    public var required: Bool
    /// One line for people.
    public var summary: String

    /// Declares a parameter.
    public init(_ name: String, schema: JSONValue, required: Bool = false, summary: String) {
        self.name = name
        self.schema = schema
        self.required = required
        self.summary = summary
    }
}

/// An error a method can return, for discovery.
public struct RPCErrorSpec: Sendable {
    /// The error code.
    public var code: Int
    /// What it means.
    public var message: String
    /// A JSON Schema (or example) of its `data`.
    public var data: JSONValue?

    /// Declares an error.
    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }
}

/// One method the server answers, with everything discovery says about it.
public struct RPCMethod: Sendable {
    /// The wire name, e.g. `contacts.get`.
    public var name: String
    /// One line for people.
    public var summary: String
    /// Parameters, in the order used for by-position calls.
    public var params: [RPCParam]
    /// The result's name and JSON Schema.
    public var result: (name: String, schema: JSONValue)
    /// Application errors it may return (the standard ones apply to every method).
    public var errors: [RPCErrorSpec]
    /// Runs the method. Params are already mapped to names; unknown names are in `problems`.
    public var handler: @Sendable (Params) -> RPCOutcome

    /// Declares a method.
    public init(
        name: String, summary: String, params: [RPCParam], result: (name: String, schema: JSONValue),
        errors: [RPCErrorSpec] = [], handler: @escaping @Sendable (Params) -> RPCOutcome
    ) {
        self.name = name
        self.summary = summary
        self.params = params
        self.result = result
        self.errors = errors
        self.handler = handler
    }

    /// Parameter names in positional order.
    public var parameters: [String] { params.map(\.name) }
}

/// A notification the server sends on its own (no request answers it), for discovery. OpenRPC
/// has no place for these, so `OpenRPCDocument` lists them under `x-notifications`.
public struct RPCNotificationSpec: Sendable {
    /// The notification's `method`, e.g. `contacts.changed`.
    public var name: String
    /// One line for people.
    public var summary: String
    /// A JSON Schema of its `params` object.
    public var params: JSONValue

    /// Declares a notification.
    public init(name: String, summary: String, params: JSONValue) {
        self.name = name
        self.summary = summary
        self.params = params
    }
}
