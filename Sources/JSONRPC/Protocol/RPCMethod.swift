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

/// One method the server answers.
public struct RPCMethod: Sendable {
    /// The wire name, e.g. `contacts.get`.
    public var name: String
    /// Parameter names, in the order used for by-position calls.
    public var parameters: [String]
    /// Runs the method. Params are already mapped to names and free of unknown names.
    public var handler: @Sendable (Params) -> RPCOutcome

    /// Declares a method.
    public init(name: String, parameters: [String], handler: @escaping @Sendable (Params) -> RPCOutcome) {
        self.name = name
        self.parameters = parameters
        self.handler = handler
    }
}
