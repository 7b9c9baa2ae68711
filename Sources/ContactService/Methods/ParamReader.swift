import JSONRPC

/// Reads typed values out of `Params`, collecting every problem instead of stopping at the first.
struct ParamReader {
    let params: Params
    private(set) var problems: [ParamProblem]
    /// Problems beyond the listed ones (see `RPCError.maxListedProblems`).
    private var omitted: Int

    /// Starts with the problems found while decoding (unknown names, extra positions).
    init(_ params: Params) {
        self.params = params
        self.problems = params.problems
        self.omitted = params.omittedProblems
    }

    mutating func problem(_ field: String, _ message: String) {
        if problems.count < RPCError.maxListedProblems {
            problems.append(ParamProblem(field: field, message: message))
        } else {
            omitted += 1
        }
    }

    /// The `-32602` listing every problem found (up to the cap, with the rest counted).
    var error: RPCError { .invalidParams(problems, omitted: omitted) }

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

    /// An array whose elements should be strings: each string with its index, and whether every
    /// element was one (the others are reported as `name[i]`). Nil when absent or not an array.
    mutating func stringArray(_ name: String) -> (strings: [(index: Int, value: String)], count: Int, allStrings: Bool)? {
        guard let value = params[name] else { return nil }
        guard case .array(let elements) = value else {
            problem(name, "must be an array of strings")
            return nil
        }
        var strings: [(index: Int, value: String)] = []
        for (index, element) in elements.enumerated() {
            if case .string(let string) = element {
                strings.append((index, string))
            } else {
                problem("\(name)[\(index)]", "must be a string")
            }
        }
        return (strings, elements.count, strings.count == elements.count)
    }

    /// A boolean param; false when absent.
    mutating func boolean(_ name: String) -> Bool {
        guard let value = params[name] else { return false }
        guard case .bool(let flag) = value else {
            problem(name, "must be true or false")
            return false
        }
        return flag
    }
}
