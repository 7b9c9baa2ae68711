import MonotonicClock

/// Turns one request line into one response line, by the JSON-RPC 2.0 rules: single requests,
/// notifications, batches, and every standard error. It knows methods only through the registry.
public final class RPCDispatcher: Sendable {
    /// Limits that protect the server from oversized input.
    public struct Limits: Sendable {
        /// Most elements in one batch array (documented in protocol.md).
        public var maxBatchSize: Int
        /// Deepest nesting of arrays and objects accepted in one line.
        public var maxDepth: Int

        /// Defaults: batches of up to 1000, nesting up to `JSONReader.defaultMaxDepth`.
        public init(maxBatchSize: Int = 1000, maxDepth: Int = JSONReader.defaultMaxDepth) {
            self.maxBatchSize = maxBatchSize
            self.maxDepth = maxDepth
        }
    }

    /// What `handle` did with a line.
    public enum Handling: Sendable {
        /// Send this line (it ends in `\n`).
        case reply([UInt8])
        /// Send nothing (notifications only).
        case noReply
        /// The answer comes later through the completion callback.
        case pending
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

    /// Handles one line (without its terminator).
    ///
    /// - Parameter completion: called exactly once, on any thread, when the result is `.pending`;
    ///   its argument is the response line, or nil when nothing is to be sent.
    /// - Parameter resume: where a batch goes on after one of its elements finished later (a
    ///   write): the connection passes its own queue, so the rest of the batch never runs on the
    ///   thread that finished the write (the store's single writer queue).
    public func handle(
        line: [UInt8], resume: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void = { $0() },
        completion: @escaping @Sendable ([UInt8]?) -> Void
    ) -> Handling {
        let document: JSONValue
        do {
            document = try JSONReader.parse(line, maxDepth: limits.maxDepth)
        } catch {
            observer?.completed(nil, nil, 0, -32700)
            return .reply(Self.errorLine(.parseError(error.reason, offset: error.offset)))
        }
        guard case .array(let elements) = document else {
            switch process(document) {
            case .none:
                return .noReply
            case .response(let bytes):
                return .reply(bytes + [UInt8(ascii: "\n")])
            case .pending(let start, let id):
                start { result in
                    guard let id else { return completion(nil) }
                    var writer = JSONWriter()
                    Self.write(result, id: id, to: &writer)
                    writer.bytes.append(UInt8(ascii: "\n"))
                    completion(writer.bytes)
                }
                return .pending
            }
        }
        if elements.isEmpty {
            observer?.completed(nil, nil, 0, -32600)
            return .reply(Self.errorLine(.invalidRequest("an empty batch is not a request")))
        }
        if elements.count > limits.maxBatchSize {
            observer?.completed(nil, nil, 0, -32600)
            return .reply(Self.errorLine(.invalidRequest("a batch may hold at most \(limits.maxBatchSize) requests")))
        }
        let batch = BatchRun(elements: elements, dispatcher: self, resume: resume, completion: completion)
        if batch.run() {
            return batch.finished().map(Handling.reply) ?? .noReply
        }
        return .pending
    }

    /// The answer to a line longer than the limit (the framer dropped it), counted like any
    /// invalid request.
    public func oversizedLine(limit: Int) -> [UInt8] {
        observer?.completed(nil, nil, 0, -32600)
        return Self.errorLine(.invalidRequest("the request line is longer than \(limit) bytes (--max-request-bytes)"))
    }

    /// A whole response line for an error that has no request to go with it.
    public static func errorLine(_ error: RPCError, id: RPCID = .null) -> [UInt8] {
        var writer = JSONWriter()
        write(.failure(error), id: id, to: &writer)
        writer.bytes.append(UInt8(ascii: "\n"))
        return writer.bytes
    }

    // MARK: One request

    enum ElementOutcome {
        case none
        case response([UInt8])
        /// `id` nil means a notification: run it, answer nothing.
        case pending(
            start: (@escaping @Sendable (Result<JSONFragment, RPCError>) -> Void) -> Void, id: RPCID?)
    }


    func process(_ element: JSONValue) -> ElementOutcome {
        let started = observer == nil ? 0 : MonotonicClock.nanoseconds()
        guard case .object(let request) = element else {
            return invalid("a request must be a JSON object", id: .null)
        }
        let rawID = request["id"]
        var id: RPCID? = nil
        if let rawID {
            guard let valid = RPCID(rawID) else {
                return invalid("id must be a string, a number or null", id: .null)
            }
            id = valid
        }
        guard request["jsonrpc"] == .string("2.0") else {
            return invalid("jsonrpc must be exactly \"2.0\"", id: id ?? .null)
        }
        guard case .string(let name)? = request["method"] else {
            return invalid("method must be a string", id: id ?? .null)
        }
        let rawParams = request["params"]
        if let rawParams, rawParams.objectValue == nil, rawParams.arrayValue == nil {
            return invalid("params must be an object or an array", id: id ?? .null, method: name)
        }
        guard let method = methods[name] else {
            return finish(.failure(.methodNotFound(name)), method: name, id: id, started: started)
        }
        let params = Params.decode(rawParams, names: method.parameters)
        switch method.handler(params) {
        case .result(let fragment):
            // A handler that ignored the unknown names still may not succeed with them.
            if !params.problems.isEmpty {
                return finish(.failure(.invalidParams(params.problems)), method: name, id: id, started: started)
            }
            return finish(.success(fragment), method: name, id: id, started: started)
        case .error(let error):
            return finish(.failure(error), method: name, id: id, started: started)
        case .deferred(let start):
            let observer = self.observer
            let requestID = id
            return .pending(
                start: { done in
                    start { result in
                        if let observer {
                            let code: Int? = if case .failure(let error) = result { error.code } else { nil }
                            observer.completed(name, requestID, MonotonicClock.nanoseconds() - started, code)
                        }
                        done(result)
                    }
                }, id: id)
        }
    }

    private func invalid(_ reason: String, id: RPCID, method: String? = nil) -> ElementOutcome {
        // Invalid requests are answered even without an id: the spec's examples answer `[1,2,3]`.
        observer?.completed(method, id, 0, -32600)
        var writer = JSONWriter()
        Self.write(.failure(.invalidRequest(reason)), id: id, to: &writer)
        return .response(writer.bytes)
    }

    private func finish(
        _ result: Result<JSONFragment, RPCError>, method: String, id: RPCID?, started: UInt64
    ) -> ElementOutcome {
        if let observer {
            let code: Int? = if case .failure(let error) = result { error.code } else { nil }
            observer.completed(method, id, MonotonicClock.nanoseconds() - started, code)
        }
        guard let id else { return .none }
        var writer = JSONWriter()
        Self.write(result, id: id, to: &writer)
        return .response(writer.bytes)
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

/// Runs a batch's elements one after another, pausing on each deferred one.
// @unchecked Sendable: the state is touched by one thread at a time. `run` goes on until an
// element defers and then returns; only that element's single completion resumes it.
private final class BatchRun: @unchecked Sendable {
    private let elements: [JSONValue]
    private let dispatcher: RPCDispatcher
    private let completion: @Sendable ([UInt8]?) -> Void
    private let resume: @Sendable (@escaping @Sendable () -> Void) -> Void
    private var next = 0
    private var out = JSONWriter()
    private var entries = 0

    init(
        elements: [JSONValue], dispatcher: RPCDispatcher,
        resume: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void,
        completion: @escaping @Sendable ([UInt8]?) -> Void
    ) {
        self.elements = elements
        self.dispatcher = dispatcher
        self.resume = resume
        self.completion = completion
        out.writeRaw("[")
    }

    /// Runs until done (true) or until an element defers (false; the completion will follow).
    func run() -> Bool {
        while next < elements.count {
            let element = elements[next]
            next += 1
            switch dispatcher.process(element) {
            case .none:
                continue
            case .response(let bytes):
                append(bytes)
            case .pending(let start, let id):
                start { result in
                    self.resume {
                        if let id {
                            var writer = JSONWriter()
                            RPCDispatcher.write(result, id: id, to: &writer)
                            self.append(writer.bytes)
                        }
                        if self.run() { self.completion(self.finished()) }
                    }
                }
                return false
            }
        }
        return true
    }

    /// The batch response line, or nil when every element was a notification.
    func finished() -> [UInt8]? {
        guard entries > 0 else { return nil }
        out.writeRaw("]\n")
        return out.bytes
    }

    private func append(_ bytes: [UInt8]) {
        if entries > 0 { out.writeRaw(",") }
        out.writeRaw(bytes)
        entries += 1
    }
}
