/// Answers the requests of one line in order, one step at a time, so that the caller decides
/// when each next request runs (a server pauses while the client is not reading, and yields to
/// other clients between steps).
///
/// A batch reply is produced as it goes: `[` with the first response, `,` before each later
/// one, `]` and the newline at the end; an all-notification batch produces nothing.
public struct RPCLineRun: Sendable {
    /// What the next step gave.
    public enum Step: Sendable {
        /// Bytes to send (a whole reply line, or a piece of a batch reply).
        case output([UInt8])
        /// A request ran and has nothing to send (a notification).
        case nothing
        /// A request finishes later: start it, send its bytes (if any), then step again.
        case deferred(RPCDispatcher.Deferred)
        /// The line is fully answered.
        case done
    }

    private let request: RPCDispatcher.Request
    private var next = 0
    /// Whether a batch's `[` was sent (some element produced a response).
    private var opened = false
    private var closed = false

    /// A run over a decoded line.
    public init(_ request: RPCDispatcher.Request) {
        self.request = request
    }

    /// True when the line is a batch (its reply is streamed element by element).
    public var isBatch: Bool {
        if case .batch = request { return true }
        return false
    }

    /// Runs the next request, or finishes the reply.
    /// - Parameter context: handed to the method (see `RPCContext`).
    public mutating func step(_ dispatcher: RPCDispatcher, context: (any RPCContext)? = nil) -> Step {
        switch request {
        case .rejected(let line):
            guard next == 0 else { return .done }
            next = 1
            return .output(line)
        case .single(let value):
            guard next == 0 else { return .done }
            next = 1
            return Self.step(for: dispatcher.process(value, framing: .line, context: context))
        case .batch(let elements):
            guard next < elements.count else {
                guard opened, !closed else { return .done }
                closed = true
                return .output(Array("]\n".utf8))
            }
            let element = elements[next]
            next += 1
            let framing = RPCDispatcher.Framing(lead: UInt8(ascii: opened ? "," : "["), trail: nil)
            let outcome = dispatcher.process(element, framing: framing, context: context)
            switch outcome {
            case .response: opened = true
            case .deferred(let deferred) where deferred.producesOutput: opened = true
            case .none, .deferred: break
            }
            return Self.step(for: outcome)
        }
    }

    private static func step(for outcome: RPCDispatcher.Outcome) -> Step {
        switch outcome {
        case .response(let bytes): return .output(bytes)
        case .none: return .nothing
        case .deferred(let deferred): return .deferred(deferred)
        }
    }
}
