import JSONRPC

/// Reads typed values out of `Params`, collecting every problem instead of stopping at the first.
struct ParamReader {
    let params: Params
    private(set) var problems: [ParamProblem] = []

    init(_ params: Params) {
        self.params = params
    }

    mutating func problem(_ field: String, _ message: String) {
        problems.append(ParamProblem(field: field, message: message))
    }

    /// A string param; records "is required" or a type problem.
    mutating func string(_ name: String, required: Bool) -> String? {
        guard let value = params[name] else {
            if required { problem(name, "is required") }
            return nil
        }
        guard case .string(let string) = value else {
            problem(name, "must be a string")
            return nil
        }
        return string
    }

    /// An integer param within `range`.
    mutating func integer(_ name: String, in range: ClosedRange<Int>) -> Int? {
        guard let value = params[name] else { return nil }
        guard case .number(let number) = value, let int = number.intValue else {
            problem(name, "must be an integer")
            return nil
        }
        guard range.contains(int) else {
            problem(name, "must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return int
    }

    /// An array of strings; non-string elements are reported as `name[i]`.
    mutating func stringArray(_ name: String) -> [String]? {
        guard let value = params[name] else { return nil }
        guard case .array(let elements) = value else {
            problem(name, "must be an array of strings")
            return nil
        }
        var strings: [String] = []
        var ok = true
        for (index, element) in elements.enumerated() {
            if case .string(let string) = element {
                strings.append(string)
            } else {
                problem("\(name)[\(index)]", "must be a string")
                ok = false
            }
        }
        return ok ? strings : nil
    }
}
