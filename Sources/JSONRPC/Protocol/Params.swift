/// What the caller of a request shares with its method, untouched by the dispatcher: for the
/// server, the read session of a run of pipelined requests. A method that knows its type casts it.
public typealias RPCContext = AnyObject & Sendable

/// A request's params, by name, whether the client sent them by name or by position.
public struct Params: Sendable {
    /// The params as a name → value object; positional params are named by the method's order.
    public let values: JSONObject
    /// Names the method does not take, and positions past its last parameter. Handlers report
    /// them together with their own checks, so one `-32602` lists every problem.
    /// At most `RPCError.maxListedProblems` of them are kept; `omittedProblems` counts the rest.
    public let problems: [ParamProblem]
    /// Problems found but not kept in `problems`.
    public let omittedProblems: Int
    /// The caller's context for this request (see `RPCContext`), if any.
    public let context: (any RPCContext)?

    /// Wraps named values.
    public init(
        _ values: JSONObject = JSONObject(), problems: [ParamProblem] = [], omittedProblems: Int = 0,
        context: (any RPCContext)? = nil
    ) {
        self.values = values
        self.problems = problems
        self.omittedProblems = omittedProblems
        self.context = context
    }

    /// The `-32602` for the problems found while decoding.
    public var error: RPCError { .invalidParams(problems, omitted: omittedProblems) }

    /// The value of a param, or nil when absent. An explicit `null` counts as absent.
    public subscript(name: String) -> JSONValue? {
        guard let value = values[name], value != .null else { return nil }
        return value
    }

    /// Maps raw `params` (an object, an array or absent) onto the method's parameter names,
    /// noting unknown names and extra positions as problems.
    static func decode(_ raw: JSONValue?, names: [String], context: (any RPCContext)?) -> Params {
        switch raw {
        case .object(let object)?:
            let unknown = object.keys.filter { !names.contains($0) }
            let kept = unknown.prefix(RPCError.maxListedProblems)
            return Params(
                object, problems: kept.map { ParamProblem(field: $0, message: "is not a parameter of this method") },
                omittedProblems: unknown.count - kept.count, context: context)
        case .array(let array)?:
            var object = JSONObject()
            for (name, value) in zip(names, array) { object.append(name, value) }
            let firstExtra = min(names.count, array.count)
            let keptEnd = min(array.count, firstExtra + RPCError.maxListedProblems)
            let extra = (firstExtra..<keptEnd).map {
                ParamProblem(
                    field: "params[\($0)]",
                    message: names.isEmpty
                        ? "is not expected: this method takes no parameters"
                        : "is past the \(names.count) positional parameters (\(names.joined(separator: ", ")))")
            }
            return Params(object, problems: extra, omittedProblems: array.count - keptEnd, context: context)
        default:
            return Params(context: context)
        }
    }
}
