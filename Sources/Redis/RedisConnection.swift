import CHiredis

import Glibc

/// One blocking connection to Redis over hiredis.
///
/// Not thread-safe: use it from one thread at a time (each worker and the beat own their own).
/// Commands are sent with `redisCommandArgv`, so no user data is ever spliced into command text.
/// After a `.connection` error the connection is broken; make a new one.
public final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>
    /// Where this connection goes.
    public let url: RedisURL
    /// True once an I/O error has broken the connection.
    public private(set) var isBroken = false

    /// Connects, then authenticates and selects the database the URL names.
    /// - Parameters:
    ///   - connectTimeout: seconds to wait for the connection.
    ///   - readTimeout: seconds to wait for any reply (blocking commands add their own block time).
    public init(url: RedisURL, connectTimeout: Double = 2, readTimeout: Double = 5) throws(RedisError) {
        _ = Self.ignoreBrokenPipes
        self.url = url
        let tv = Self.timeval(seconds: connectTimeout)
        let made: UnsafeMutablePointer<redisContext>?
        switch url.endpoint {
        case .tcp(let host, let port): made = redisConnectWithTimeout(host, port, tv)
        case .unix(let path): made = redisConnectUnixWithTimeout(path, tv)
        }
        guard let made else { throw RedisError(.connection, "cannot connect to \(url): out of memory") }
        guard made.pointee.err == 0 else {
            let reason = Self.errorText(made)
            redisFree(made)
            throw RedisError(.connection, "cannot connect to \(url): \(reason)")
        }
        context = made
        setReadTimeout(readTimeout)
        if url.username != nil || url.password != nil {
            // `redis://user@host` names a user without a password: an ACL user with `nopass`
            // accepts any password, the empty one included.
            let auth = url.username.map { ["AUTH", $0, url.password ?? ""] } ?? ["AUTH", url.password ?? ""]
            do {
                _ = try command(auth)
            } catch where error.kind == .server {
                // e.g. "AUTH <password> called without any password configured for the default user"
                throw RedisError(.authentication, "\(url) refused the credentials: \(error.message)", code: error.code)
            }
        }
        if url.database != 0 {
            _ = try command(["SELECT", String(url.database)])
        }
    }

    deinit {
        redisFree(context)
    }

    /// hiredis writes with write(2), so a write to a Redis that went away raises SIGPIPE, whose
    /// default action kills the process. Ignore it process-wide (as SwiftNIO does) and let the
    /// write fail with EPIPE, which becomes a `.connection` error.
    private static let ignoreBrokenPipes: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    /// Sets how long a reply may take before the call fails with a `.connection` error.
    public func setReadTimeout(_ seconds: Double) {
        redisSetTimeout(context, Self.timeval(seconds: seconds))
    }

    /// Sends one command and waits for its reply. Error replies throw `.server`.
    @discardableResult
    public func command(_ arguments: [String]) throws(RedisError) -> RedisReply {
        guard !isBroken else { throw RedisError(.connection, "the connection to \(url) is broken") }
        let bytes = arguments.map { Array($0.utf8) }
        let raw: UnsafeMutableRawPointer? = withArgv(bytes) { argv, lengths in
            redisCommandArgv(context, Int32(bytes.count), argv, lengths)
        }
        guard let raw else {
            isBroken = true
            throw RedisError(.connection, "lost the connection to \(url): \(Self.errorText(context))")
        }
        defer { freeReplyObject(raw) }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        if reply.pointee.type == REDIS_REPLY_ERROR {
            throw RedisError(reply: Self.text(reply))
        }
        return Self.decode(reply)
    }

    /// The socket descriptor, for `RedisConnection.interrupt(descriptor:)` from another thread.
    public var descriptor: Int32 { context.pointee.fd }

    /// Shuts a connection's socket down so that a call blocked on it in another thread returns
    /// at once with a `.connection` error. Safe from any thread: shutdown(2) frees nothing, and
    /// the owner still closes the descriptor in `deinit`.
    public static func interrupt(descriptor: Int32) {
        shutdown(descriptor, Int32(SHUT_RDWR))
    }

    private func withArgv<T>(
        _ arguments: [[UInt8]], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> T
    ) -> T {
        var pointers: [UnsafePointer<CChar>?] = []
        var lengths: [Int] = []
        pointers.reserveCapacity(arguments.count)
        // Copy every argument into one buffer that lives for the call; hiredis copies it again.
        let total = arguments.reduce(0) { $0 + $1.count + 1 }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: max(total, 1)) { buffer in
            var offset = 0
            for argument in arguments {
                let start = buffer.baseAddress! + offset
                argument.withUnsafeBytes { raw in
                    UnsafeMutableRawPointer(start).copyMemory(from: raw.baseAddress ?? UnsafeRawPointer(start), byteCount: argument.count)
                }
                start[argument.count] = 0
                pointers.append(UnsafePointer(start))
                lengths.append(argument.count)
                offset += argument.count + 1
            }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { body(argv.baseAddress!, $0.baseAddress!) }
            }
        }
    }

    private static func decode(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        switch reply.pointee.type {
        case REDIS_REPLY_STATUS: return .status(text(reply))
        case REDIS_REPLY_INTEGER: return .integer(Int64(reply.pointee.integer))
        case REDIS_REPLY_STRING:
            guard let str = reply.pointee.str else { return .string([]) }
            return .string(Array(UnsafeRawBufferPointer(start: str, count: Int(reply.pointee.len))))
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            for index in 0..<Int(reply.pointee.elements) {
                if let element = reply.pointee.element[index] { elements.append(decode(element)) }
            }
            return .array(elements)
        default:
            return .null
        }
    }

    private static func text(_ reply: UnsafeMutablePointer<redisReply>) -> String {
        guard let str = reply.pointee.str else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: str, count: Int(reply.pointee.len)), as: UTF8.self)
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            let text = String(decoding: bytes, as: UTF8.self)
            return text.isEmpty ? "connection closed" : text
        }
    }

    private static func timeval(seconds: Double) -> Glibc.timeval {
        let whole = Int(seconds)
        return Glibc.timeval(tv_sec: whole, tv_usec: Int((seconds - Double(whole)) * 1_000_000))
    }
}
