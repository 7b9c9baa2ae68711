import ContactPaths
import ContactStore
import JSONRPC
import Locking
import Logging

/// Methods about the server itself, and the assembly of the whole registry.
enum ServerMethods {
    /// Every method `contactsd` answers: the contacts methods, `server.ping`, `server.stats`,
    /// `server.backup` and `rpc.discover`, whose document is generated from this very list. `stats` is nil when
    /// the server does not collect them (`--no-stats`).
    /// - Parameter contactMethods: `ContactMethods.all`, built once by the caller (which also
    ///   names them to `ServerStats`).
    static func registry(
        contactMethods: [RPCMethod], store: ContactStore, stats: ServerStats?, limits: LimitEvents,
        connections: ConnectionCounters, output: OutputBudget, feed: ChangeFeed, databasePath: String,
        backupDirectory: String, logger: Logger? = nil
    ) -> [RPCMethod] {
        let served = contactMethods + [
            ping, self.stats(
                stats, limits: limits, store: store, databasePath: databasePath, connections: connections, output: output,
                feed: feed),
            backup(store: store, directory: backupDirectory, logger: logger),
        ]
        return served + [discover(documenting: served)]
    }

    /// The names of every method `registry` returns, for counters made before the methods.
    static func names(contactMethods: [RPCMethod]) -> [String] {
        contactMethods.map(\.name) + ["server.ping", "server.stats", "server.backup", "rpc.discover"]
    }

    /// `rpc.discover`: the OpenRPC document of `methods` and of itself.
    static func discover(documenting methods: [RPCMethod]) -> RPCMethod {
        let summary = "This server's OpenRPC 1.3 document: every method, its params, result and errors."
        let result: (name: String, schema: JSONValue) = (name: "OpenRPC document", schema: ["$ref": "https://meta.open-rpc.org/"])
        // The document describes this method too; its entry needs the metadata only.
        let description = RPCMethod(name: "rpc.discover", summary: summary, params: [], result: result) { _ in
            .error(.methodNotFound("rpc.discover"))
        }
        let document = JSONFragment(
            OpenRPCDocument.make(
                title: "contactsd", version: ContactsVersion.current, methods: methods + [description],
                schemas: ContactSchemas.components, notifications: SubscriptionMethods.notifications))
        return RPCMethod(name: "rpc.discover", summary: summary, params: [], result: result) { params in
            params.problems.isEmpty ? .result(document) : .error(params.error)
        }
    }

    /// `server.ping`: answers `{"pong": true, "version": …}` and touches nothing but memory.
    static let ping = RPCMethod(
        name: "server.ping", summary: "Check that the server answers; touches nothing but memory.", params: [],
        result: (name: "pong", schema: [
            "type": "object", "required": ["pong", "version"],
            "properties": ["pong": ["const": true], "version": ["type": "string"]],
        ])
    ) { params in
        params.problems.isEmpty ? .result(pong) : .error(params.error)
    }

    private static let pong = JSONFragment(["pong": true, "version": .string(ContactsVersion.current)])

    /// `server.stats`: connections, per-method calls, errors and latency, errors by code, store size.
    static func stats(
        _ stats: ServerStats?, limits: LimitEvents, store: ContactStore, databasePath: String,
        connections: ConnectionCounters, output: OutputBudget, feed: ChangeFeed
    ) -> RPCMethod {
        RPCMethod(
            name: "server.stats",
            summary: "Live counters: connections, calls, errors and latency per method, errors by code, store size.",
            params: [],
            result: (name: "stats", schema: [
                "type": "object",
                "required": ["version", "pid", "uptime_s", "connections", "methods", "errors", "limits", "store"],
            ])
            // -32603 under --no-stats is a protocol error, which rpc.discover lists for no method.
        ) { params in
            guard params.problems.isEmpty else { return .error(params.error) }
            guard let stats else { return .error(.internalError("stats are not collected (--no-stats)")) }
            return .result(JSONFragment(stats.snapshot(
                connections: connections.snapshot, unsentBytes: output.usedBytes, subscriptions: feed.activeCount,
                limits: limits,
                // The request's read session, if any: a second reader on this thread could wait forever.
                session: params.readSession, store: store, databasePath: databasePath)))
        }
    }

    /// `server.backup`: a consistent copy of the live database in `directory`, checked with
    /// `PRAGMA quick_check` (`ContactStore.backup`). It runs on a thread of its own for as long as
    /// the copy takes, so no request waits for it.
    static func backup(store: ContactStore, directory: String, logger: Logger?) -> RPCMethod {
        RPCMethod(
            name: "server.backup",
            summary: "Write a consistent copy of the live database into the backup directory, checked with quick_check.",
            params: [
                RPCParam(
                    "name",
                    schema: [
                        "type": ["string", "null"], "minLength": 1, "maxLength": .number(JSONNumber(BackupName.maxLength)),
                        "pattern": .string(BackupName.pattern),
                        "description": "A plain file name: letters, digits, '.', '_', '-'; not starting with '.'.",
                    ],
                    summary: "The backup's file name in the backup directory (default contacts-YYYYMMDDTHHMMSSZ.db, UTC)."),
            ],
            result: (name: "backup", schema: [
                "type": "object", "required": ["name", "path", "size_bytes", "duration_ms", "quick_check"],
                "properties": [
                    "name": ["type": "string"], "path": ["type": "string"],
                    "size_bytes": ["type": "integer", "minimum": 0], "duration_ms": ["type": "number", "minimum": 0],
                    "quick_check": ["const": "ok"],
                ],
            ]),
            errors: [ContactSchemas.conflict(["backup_exists"])]
        ) { params in
            var reader = ParamReader(params)
            let name = reader.string("name", required: false)
            if let name, let problem = BackupName.problem(with: name) { reader.problem("name", problem) }
            guard reader.problems.isEmpty else { return .error(reader.error) }
            return .deferred { finish in
                BackgroundThread.start {
                    do throws(StoreError) {
                        let result = try store.backup(into: directory, name: name)
                        logger?.info(
                            "backup written",
                            metadata: [
                                "path": "\(result.path)", "bytes": "\(result.sizeBytes)",
                                "duration_ms": "\(result.durationNanoseconds / 1_000_000)",
                            ])
                        finish(.success(JSONFragment(backupResult(result))))
                    } catch {
                        // The client's own conflicts are not the server's trouble: only failures are logged.
                        if case .backupFailed = error {
                            logger?.warning(
                                "backup failed", metadata: ["directory": "\(directory)", "error": "\(error.logDescription)"])
                        }
                        finish(.failure(error.rpcError))
                    }
                }
            }
        }
    }

    /// The result of `server.backup`.
    private static func backupResult(_ result: BackupResult) -> JSONValue {
        [
            "name": .string(result.name), "path": .string(result.path),
            "size_bytes": .number(JSONNumber(Int(result.sizeBytes))),
            "duration_ms": .number(JSONNumber(text: String(Double(result.durationNanoseconds / 1000) / 1000))),
            "quick_check": "ok",
        ]
    }
}
