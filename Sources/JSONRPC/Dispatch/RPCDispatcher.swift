import MonotonicClock

/// Turns requests into response bytes by the JSON-RPC 2.0 rules: single requests, notifications,
/// batches and every standard error. It knows methods only through the registry.
///
/// A line is first decoded (`decode`), then answered one request at a time by an `RPCLineRun`,
/// which frames a batch's elements (`[`, `,`, `]`) as they finish, so a caller can stream a batch
/// reply and stop or pause between elements. Every request, immediate or deferred, is formatted
/// by one function, which also replaces a reply over `maxResponseBytes` by `-32003`.
public final class RPCDispatcher: Sendable {
    /// Limits that protect the server from oversized input and output.
    public struct Limits: Sendable {
        /// Most elements in one batch array (documented in protocol.md).
        public var maxBatchSize: Int
        /// Deepest nesting of arrays and objects accepted in one line.
        public var maxDepth: Int
        /// Largest single reply (one response object); a larger one becomes `-32003`.
        public var maxResponseBytes: Int

        /// Defaults: batches of up to 1000, nesting up to `JSONReader.defaultMaxDepth`, replies up to 16 MiB.
        public init(
            maxBatchSize: Int = 1000, maxDepth: Int = JSONReader.defaultMaxDepth, maxResponseBytes: Int = 16 << 20
        ) {
            self.maxBatchSize = maxBatchSize
            self.maxDepth = maxDepth
            self.maxResponseBytes = maxResponseBytes
        }
    }

    /// A hook told about every request, notification and rejected line once it is finished
    /// (for stats and debug logs). It runs on whichever thread finished the request.
    public struct Observer: Sendable {
        /// - Parameters: the method named (nil when the line was not a valid request), the id
        ///   (nil for notifications), how long it took, and the error code if it failed.
        public var completed: @Sendable (_ method: String?, _ id: RPCID?, _ nanoseconds: UInt64, _ errorCode: Int?) -> Void

        /// An observer around one callback.
        public init(completed: @escaping @Sendable (String?, RPCID?, UInt64, Int?) -> Void) {
            self.completed = completed
        }
    }

    /// What one request line holds.
    public enum Request: Sendable {
        /// One value (a request object, or anything else, which is answered as invalid).
        case single(JSONValue)
        /// A batch within the size limit.
        case batch([JSONValue])
        /// The whole line is answered with this error line (parse error, empty or oversized batch).
        case rejected([UInt8])
    }

    /// What running one request gave.
    public enum Outcome: Sendable {
        /// The response bytes, framed as asked.
        case response([UInt8])
        /// Nothing to send (a notification).
        case none
        /// It finishes later.
        case deferred(Deferred)
    }

    /// A request that finishes later (a write).
    public struct Deferred: Sendable {
        /// Whether it will produce bytes (false for a notification).
        public let producesOutput: Bool
        fileprivate let body: @Sendable (@escaping @Sendable ([UInt8]?) -> Void) -> Void

        /// Starts it; `completion` runs exactly once, on any thread, with the framed response
        /// bytes (nil for a notification).
        public func start(_ completion: @escaping @Sendable ([UInt8]?) -> Void) {
            body(completion)
        }
    }

    /// Bytes written around one response: what comes before it (`[` or `,` in a batch) and
    /// after it (`\n` for a single reply).
    public struct Framing: Sendable {
        var lead: UInt8?
        var trail: UInt8?

        /// A single reply: the object and a newline.
        public static let line = Framing(lead: nil, trail: UInt8(ascii: "\n"))
    }

    private let methods: [String: RPCMethod]
    /// The limits this dispatcher enforces.
    public let limits: Limits

    /// Hooks for stats, if any.
    private let observer: Observer?

    /// A dispatcher over a fixed set of methods.
    public init(methods: [RPCMethod], limits: Limits = Limits(), observer: Observer? = nil) {
        var table: [String: RPCMethod] = [:]
        for method in methods { table[method.name] = method }
        self.methods = table
        self.limits = limits
        self.observer = observer
    }

    /// The registered methods, sorted by name.
    public var registeredMethods: [RPCMethod] { methods.values.sorted { $0.name < $1.name } }

    /// Parses one line (without its terminator) and checks the batch rules.
    public func decode(line: [UInt8]) -> Request {
        let document: JSONValue
        do {
            document = try JSONReader.parse(line, maxDepth: limits.maxDepth)
        } catch {
            return .rejected(rejectLine(.parseError(error.reason, offset: error.offset)))
        }
        guard case .array(let elements) = document else { return .single(document) }
        if elements.isEmpty {
            return .rejected(rejectLine(.invalidRequest("an empty batch is not a request")))
        }
        if elements.count > limits.maxBatchSize {
            return .rejected(rejectLine(.invalidRequest("a batch may hold at most \(limits.maxBatchSize) requests")))
        }
        return .batch(elements)
    }

    /// The answer to a line longer than the limit (the framer dropped it), counted like any
    /// invalid request.
    public func oversizedLine(limit: Int) -> [UInt8] {
        rejectLine(.invalidRequest("the request line is longer than \(limit) bytes (--max-request-bytes)"))
    }

    /// Answers a whole line, however many requests it holds, and calls `completion` exactly once
    /// (possibly before returning) with the reply line, or nil when there is nothing to send.
    /// For tools and tests; the server streams with `RPCLineRun` instead.
    public func respond(to line: [UInt8], completion: @escaping @Sendable ([UInt8]?) -> Void) {
        LineResponder(run: RPCLineRun(decode(line: line)), dispatcher: self, completion: completion).resume()
    }

    /// A whole response line for an error that has no request to go with it.
    public static func errorLine(_ error: RPCError, id: RPCID = .null) -> [UInt8] {
        var writer = JSONWriter()
        write(.failure(error), id: id, to: &writer)
        writer.bytes.append(UInt8(ascii: "\n"))
        return writer.bytes
    }

    private func rejectLine(_ error: RPCError) -> [UInt8] {
        observer?.completed(nil, nil, 0, error.code)
        return Self.errorLine(error)
    }

    // MARK: One request

    /// Runs one request (an element of a batch, or a single request) and frames its response.
    /// - Parameter context: handed to the method in `Params.context`, untouched.
    public func process(_ element: JSONValue, framing: Framing, context: (any RPCContext)? = nil) -> Outcome {
        let started = observer == nil ? 0 : MonotonicClock.nanoseconds()
        guard case .object(let request) = element else {
            return invalid("a request must be a JSON object", id: .null, framing: framing)
        }
        let rawID = request["id"]
        var id: RPCID? = nil
        if let rawID {
            guard let valid = RPCID(rawID) else {
                // Answered with id null, but reported as having no readable id (logged `-`).
                return invalid("id must be a string, a number or null", id: .null, framing: framing, idReadable: false)
            }
            id = valid
        }
        guard request["jsonrpc"] == .string("2.0") else {
            return invalid("jsonrpc must be exactly \"2.0\"", id: id ?? .null, framing: framing)
        }
        guard case .string(let name)? = request["method"] else {
            return invalid("method must be a string", id: id ?? .null, framing: framing)
        }
        let rawParams = request["params"]
        if let rawParams, rawParams.objectValue == nil, rawParams.arrayValue == nil {
            // Counted and logged like any invalid request (method `-`), as protocol.md says.
            return invalid("params must be an object or an array", id: id ?? .null, framing: framing)
        }
        guard let method = methods[name] else {
            return .finished(finish(.failure(.methodNotFound(name)), method: name, id: id, started: started, framing: framing))
        }
        let params = Params.decode(rawParams, names: method.parameters, context: context)
        switch method.handler(params) {
        case .result(let fragment):
            // A handler that ignored the unknown names still may not succeed with them.
            let result: Result<JSONFragment, RPCError> = params.problems.isEmpty ? .success(fragment) : .failure(params.error)
            return .finished(finish(result, method: name, id: id, started: started, framing: framing))
        case .error(let error):
            return .finished(finish(.failure(error), method: name, id: id, started: started, framing: framing))
        case .deferred(let start):
            let requestID = id
            return .deferred(
                Deferred(producesOutput: requestID != nil) { completion in
                    start { result in
                        completion(self.finish(result, method: name, id: requestID, started: started, framing: framing))
                    }
                })
        }
    }

    private func invalid(_ reason: String, id: RPCID, framing: Framing, idReadable: Bool = true) -> Outcome {
        // Invalid requests are answered even without an id: the spec's examples answer `[1,2,3]`.
        observer?.completed(nil, idReadable ? id : nil, 0, -32600)
        return .response(format(.failure(.invalidRequest(reason)), id: id, framing: framing).bytes)
    }

    /// The one place a finished request is counted and formatted; a response over the limit
    /// becomes `-32003` (it was built, but is dropped before it is queued for sending).
    private func finish(
        _ result: Result<JSONFragment, RPCError>, method: String, id: RPCID?, started: UInt64, framing: Framing
    ) -> [UInt8]? {
        var result = result
        if case .success(let fragment) = result, fragment.bytes.count > limits.maxResponseBytes {
            result = .failure(.responseTooLarge(limit: limits.maxResponseBytes))
        }
        // Formatted before it is counted: formatting may still replace it by `-32003`.
        var bytes: [UInt8]?
        if let id { (bytes, result) = format(result, id: id, framing: framing) }
        if let observer {
            let code: Int? = if case .failure(let error) = result { error.code } else { nil }
            observer.completed(method, id, MonotonicClock.nanoseconds() - started, code)
        }
        return bytes
    }

    /// The framed response. The limit holds for the whole response object, not only the result:
    /// a result just under it with a long id, or an error that echoes much of the request (a
    /// huge method name), becomes `-32003` too, so no reply is ever over it.
    /// - Returns: the bytes, and the result they hold (`-32003` in place of one over the limit).
    private func format(
        _ result: Result<JSONFragment, RPCError>, id: RPCID, framing: Framing
    ) -> (bytes: [UInt8], sent: Result<JSONFragment, RPCError>) {
        var writer = JSONWriter()
        if let lead = framing.lead { writer.bytes.append(lead) }
        Self.write(result, id: id, to: &writer)
        let responseBytes = writer.bytes.count - (framing.lead == nil ? 0 : 1)
        let tooLarge: Bool =
            switch result {
            case .success: responseBytes > limits.maxResponseBytes
            case .failure(let error): error.code != -32003 && responseBytes > limits.maxResponseBytes
            }
        if tooLarge {
            return format(.failure(.responseTooLarge(limit: limits.maxResponseBytes)), id: id, framing: framing)
        }
        if let trail = framing.trail { writer.bytes.append(trail) }
        return (writer.bytes, result)
    }

    static func write(_ result: Result<JSONFragment, RPCError>, id: RPCID, to writer: inout JSONWriter) {
        writer.writeRaw("{\"jsonrpc\":\"2.0\",\"id\":")
        id.write(to: &writer)
        switch result {
        case .success(let fragment):
            writer.writeRaw(",\"result\":")
            writer.writeRaw(fragment.bytes)
        case .failure(let error):
            writer.writeRaw(",\"error\":{\"code\":")
            writer.writeInt(error.code)
            writer.writeRaw(",\"message\":")
            writer.writeString(error.message)
            if let data = error.data {
                writer.writeRaw(",\"data\":")
                writer.writeValue(data)
            }
            writer.writeRaw("}")
        }
        writer.writeRaw("}")
    }
}

extension RPCDispatcher.Outcome {
    fileprivate static func finished(_ bytes: [UInt8]?) -> RPCDispatcher.Outcome {
        bytes.map { .response($0) } ?? .none
    }
}

/// Drives an `RPCLineRun` to its end without limits, for `RPCDispatcher.respond`.
// @unchecked Sendable: one thread at a time touches it: `resume` runs until an element defers,
// and only that element's single completion resumes it.
private final class LineResponder: @unchecked Sendable {
    private var run: RPCLineRun
    private let dispatcher: RPCDispatcher
    private let completion: @Sendable ([UInt8]?) -> Void
    private var out: [UInt8] = []

    init(run: RPCLineRun, dispatcher: RPCDispatcher, completion: @escaping @Sendable ([UInt8]?) -> Void) {
        self.run = run
        self.dispatcher = dispatcher
        self.completion = completion
    }

    func resume() {
        while true {
            switch run.step(dispatcher) {
            case .output(let bytes):
                out.append(contentsOf: bytes)
            case .nothing:
                continue
            case .deferred(let deferred):
                deferred.start { bytes in
                    if let bytes { self.out.append(contentsOf: bytes) }
                    self.resume()
                }
                return
            case .done:
                completion(out.isEmpty ? nil : out)
                return
            }
        }
    }
}
