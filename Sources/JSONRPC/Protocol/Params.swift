/// A request's params, by name, whether the client sent them by name or by position.
public struct Params: Sendable {
    /// The params as a name → value object; positional params are named by the method's order.
    public let values: JSONObject

    /// Wraps named values.
    public init(_ values: JSONObject = JSONObject()) {
        self.values = values
    }

    /// The value of a param, or nil when absent. An explicit `null` counts as absent.
    public subscript(name: String) -> JSONValue? {
        guard let value = values[name], value != .null else { return nil }
        return value
    }

    /// Maps raw `params` onto the method's parameter names, rejecting unknown names and extra positions.
    static func decode(_ raw: JSONValue?, names: [String]) -> Result<Params, RPCError> {
        switch raw {
        case nil:
            return .success(Params())
        case .object(let object)?:
            let unknown = object.keys.filter { !names.contains($0) }
            if !unknown.isEmpty {
                return .failure(.invalidParams(unknown.map { ParamProblem(field: $0, message: "is not a parameter of this method") }))
            }
            return .success(Params(object))
        case .array(let array)?:
            if array.count > names.count {
                let extra = (names.count..<array.count).map {
                    ParamProblem(field: "params[\($0)]", message: "is one more than the \(names.count) positional parameters (\(names.joined(separator: ", ")))")
                }
                return .failure(.invalidParams(extra))
            }
            var object = JSONObject()
            for (name, value) in zip(names, array) { object.append(name, value) }
            return .success(Params(object))
        default:
            return .failure(.invalidRequest("params must be an object or an array"))
        }
    }
}
