/// A request's params, by name, whether the client sent them by name or by position.
public struct Params: Sendable {
    /// The params as a name → value object; positional params are named by the method's order.
    public let values: JSONObject
    /// Names the method does not take, and positions past its last parameter. Handlers report
    /// them together with their own checks, so one `-32602` lists every problem.
    public let problems: [ParamProblem]

    /// Wraps named values.
    public init(_ values: JSONObject = JSONObject(), problems: [ParamProblem] = []) {
        self.values = values
        self.problems = problems
    }

    /// The value of a param, or nil when absent. An explicit `null` counts as absent.
    public subscript(name: String) -> JSONValue? {
        guard let value = values[name], value != .null else { return nil }
        return value
    }

    /// Maps raw `params` (an object, an array or absent) onto the method's parameter names,
    /// noting unknown names and extra positions as problems.
    static func decode(_ raw: JSONValue?, names: [String]) -> Params {
        switch raw {
        case .object(let object)?:
            let unknown = object.keys.filter { !names.contains($0) }
            return Params(object, problems: unknown.map { ParamProblem(field: $0, message: "is not a parameter of this method") })
        case .array(let array)?:
            var object = JSONObject()
            for (name, value) in zip(names, array) { object.append(name, value) }
            let extra = (min(names.count, array.count)..<array.count).map {
                ParamProblem(
                    field: "params[\($0)]",
                    message: names.isEmpty
                        ? "is not expected: this method takes no parameters"
                        : "is past the \(names.count) positional parameters (\(names.joined(separator: ", ")))")
            }
            return Params(object, problems: extra)
        default:
            return Params()
        }
    }
}
