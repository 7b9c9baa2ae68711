import ContactPaths
import ContactStore
import JSONRPC
import Logging
import Synchronization

/// Methods about the server itself, and the assembly of the whole registry.
enum ServerMethods {
    /// Every method `contactsd` answers: the contacts methods, `server.ping`, `server.stats`
    /// and `rpc.discover`, whose document is generated from this very list.
    static func registry(
        store: ContactStore, stats: LateBinding<ServerStats>, limits: LimitEvents, logger: Logger, databasePath: String,
        connections: @escaping @Sendable () -> (open: Int, accepted: Int, refused: Int)
    ) -> [RPCMethod] {
        var discover = RPCMethod(
            name: "rpc.discover", summary: "This server's OpenRPC 1.3 document: every method, its params, result and errors.",
            params: [], result: (name: "OpenRPC document", schema: ["$ref": "https://meta.open-rpc.org/"])
        ) { _ in .error(.internalError("not ready")) }
        var methods = ContactMethods.all(store: store, logger: logger, limits: limits) + [ping, self.stats(stats, limits: limits, store: store, databasePath: databasePath, connections: connections)]
        methods.append(discover)
        let document = JSONFragment(
            OpenRPCDocument.make(
                title: "contactsd", version: ContactsVersion.current, methods: methods, schemas: ContactSchemas.components))
        discover.handler = { params in
            params.problems.isEmpty ? .result(document) : .error(.invalidParams(params.problems))
        }
        methods[methods.count - 1] = discover
        return methods
    }

    /// `server.ping`: answers `{"pong": true, "version": …}` and touches nothing but memory.
    static let ping = RPCMethod(
        name: "server.ping", summary: "Check that the server answers; touches nothing but memory.", params: [],
        result: (name: "pong", schema: [
            "type": "object", "required": ["pong", "version"],
            "properties": ["pong": ["const": true], "version": ["type": "string"]],
        ])
    ) { params in
        params.problems.isEmpty ? .result(pong) : .error(.invalidParams(params.problems))
    }

    private static let pong = JSONFragment(["pong": true, "version": .string(ContactsVersion.current)])

    /// `server.stats`: connections, per-method calls, errors and latency, errors by code, store size.
    static func stats(
        _ stats: LateBinding<ServerStats>, limits: LimitEvents, store: ContactStore, databasePath: String,
        connections: @escaping @Sendable () -> (open: Int, accepted: Int, refused: Int)
    ) -> RPCMethod {
        RPCMethod(
            name: "server.stats",
            summary: "Live counters: connections, calls, errors and latency per method, errors by code, store size.",
            params: [],
            result: (name: "stats", schema: [
                "type": "object",
                "required": ["version", "pid", "uptime_s", "connections", "methods", "errors", "limits", "store"],
            ]),
            errors: [RPCErrorSpec(code: -32603, message: "stats are not collected (the server runs with --no-stats)")]
        ) { params in
            guard params.problems.isEmpty else { return .error(.invalidParams(params.problems)) }
            guard let stats = stats.get() else { return .error(.internalError("stats are not collected (--no-stats)")) }
            return .result(JSONFragment(stats.snapshot(connections: connections(), limits: limits, store: store, databasePath: databasePath)))
        }
    }
}

/// A value set once after construction (the server exists only after the methods that report on it).
final class LateBinding<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)
    func set(_ newValue: Value) { value.withLock { $0 = newValue } }
    func get() -> Value? { value.withLock { $0 } }
}
