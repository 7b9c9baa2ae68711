import ContactStore
import JSONRPC
import MonotonicClock
import Locking
import Synchronization

import Glibc

/// Live counters for `server.stats`: per-method calls, errors and latency, errors by code.
///
/// Counting is lock-free (relaxed atomics in structures built once at start), so the hot path
/// pays a few atomic adds and two clock reads per request; the benchmark shows it within noise.
final class ServerStats: Sendable {
    private final class MethodStats: Sendable {
        let calls = Atomic<Int>(0)
        let errors = Atomic<Int>(0)
        let latency = LatencyWindow()
    }

    /// The codes counted without a lock; any other code goes to `otherErrors`.
    private static let knownCodes = [-32700, -32600, -32601, -32602, -32603, -32000, 404, 409]

    private let methods: [String: MethodStats]
    private let errorCounts: InlineArray<8, Atomic<Int>> = InlineArray { _ in Atomic(0) }
    private let otherErrors = LockedValue<[Int: Int]>([:])
    private let startedAt = MonotonicClock.nanoseconds()

    /// Counters for these method names (others count only under their error code).
    init(methodNames: [String]) {
        var table: [String: MethodStats] = [:]
        for name in methodNames { table[name] = MethodStats() }
        methods = table
    }

    /// Records one finished request, notification or rejected line.
    func record(method: String?, nanoseconds: UInt64, errorCode: Int?) {
        if let method, let stats = methods[method] {
            stats.calls.wrappingAdd(1, ordering: .relaxed)
            if errorCode != nil { stats.errors.wrappingAdd(1, ordering: .relaxed) }
            stats.latency.record(nanoseconds: nanoseconds, now: MonotonicClock.nanoseconds())
        }
        if let errorCode { countError(errorCode) }
    }

    /// Counts an error that no request carried (e.g. a refused connection).
    func countError(_ code: Int) {
        if let index = Self.knownCodes.firstIndex(of: code) {
            errorCounts[index].wrappingAdd(1, ordering: .relaxed)
        } else {
            otherErrors.withLock { $0[code, default: 0] += 1 }
        }
    }

    /// The `server.stats` result.
    func snapshot(
        connections: (open: Int, accepted: Int, refused: Int), unsentBytes: Int, subscriptions: Int, limits: LimitEvents,
        session: ReadSession?, store: ContactStore,
        databasePath: String
    ) -> JSONValue {
        let now = MonotonicClock.nanoseconds()
        var methodObject = JSONObject()
        for name in methods.keys.sorted() {
            let stats = methods[name]!
            let latency = stats.latency.summary(now: now)
            methodObject.append(name, [
                "calls": .number(JSONNumber(stats.calls.load(ordering: .relaxed))),
                "errors": .number(JSONNumber(stats.errors.load(ordering: .relaxed))),
                "p50_ms": milliseconds(latency.p50), "p99_ms": milliseconds(latency.p99), "max_ms": milliseconds(latency.max),
            ])
        }
        var errors: [Int: Int] = otherErrors.withLock { $0 }
        for (index, code) in Self.knownCodes.enumerated() {
            let count = errorCounts[index].load(ordering: .relaxed)
            if count > 0 { errors[code] = count }
        }
        var errorObject = JSONObject()
        for code in errors.keys.sorted() { errorObject.append(String(code), .number(JSONNumber(errors[code]!))) }
        var limitObject = JSONObject()
        for (name, count) in limits.snapshot { limitObject.append(name, .number(JSONNumber(count))) }
        let writer = store.writerStats
        let uptime = Double(now - startedAt) / 1e9
        return [
            "version": .string(ContactServer.version),
            "pid": .number(JSONNumber(Int(getpid()))),
            "uptime_s": .number(JSONNumber(text: String(Double(Int(uptime * 10)) / 10))),
            "connections": [
                "open": .number(JSONNumber(connections.open)), "accepted": .number(JSONNumber(connections.accepted)),
                "refused": .number(JSONNumber(connections.refused)),
                "unsent_bytes": .number(JSONNumber(unsentBytes)),
                "subscriptions": .number(JSONNumber(subscriptions)),
            ],
            "methods": .object(methodObject),
            "errors": .object(errorObject),
            "limits": .object(limitObject),
            "store": [
                "contacts": .number(JSONNumber(Int((try? store.count(in: session)) ?? -1))),
                "db_bytes": .number(JSONNumber(fileSize(databasePath))),
                "wal_bytes": .number(JSONNumber(fileSize(databasePath + "-wal"))),
                "writer_queue_depth": .number(JSONNumber(writer.queueDepth)),
                "mean_batch_size": .number(JSONNumber(text: String(Double(Int(writer.meanBatchSize * 100)) / 100))),
            ],
        ]
    }

    private func milliseconds(_ nanoseconds: UInt64) -> JSONValue {
        .number(JSONNumber(text: String(Double(nanoseconds / 1000) / 1000)))
    }

    private func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }
}

