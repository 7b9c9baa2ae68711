import ArgumentParser

/// "did you mean `list`?" for a word on the command line that is close to, but not, a subcommand.
enum SubcommandSuggestion {
    /// The line to print above the usage error for `arguments` of `root`, if a word there is a
    /// near miss of a subcommand name.
    static func message(root: any ParsableCommand.Type, arguments: [String]) -> String? {
        var subcommands = root.configuration.subcommands
        for (index, word) in arguments.enumerated() where !word.hasPrefix("-") {
            if subcommands.isEmpty { return nil }
            if word == "help" && index == 0 { continue }
            if let exact = subcommands.first(where: { $0._commandName == word }) {
                subcommands = exact.configuration.subcommands
                continue
            }
            var nearest: (name: String, distance: Int)?
            for name in subcommands.map({ $0._commandName }) {
                let distance = Self.distance(word, name)
                if distance < nearest?.distance ?? .max { nearest = (name, distance) }
            }
            guard let nearest, nearest.distance <= max(1, min(2, word.count / 2)) || nearest.name.hasPrefix(word) else {
                return nil
            }
            return "\(root._commandName): unknown subcommand \"\(word)\"; did you mean `\(nearest.name)`?"
        }
        return nil
    }

    /// The unknown subcommand in `contacts help WORD ...`, if any: `help` of a command that does not
    /// exist is a usage error, not the root's help.
    static func unknownHelpTopic(root: any ParsableCommand.Type, arguments: [String]) -> String? {
        guard arguments.first == "help" else { return nil }
        var subcommands = root.configuration.subcommands
        for word in arguments.dropFirst() where !word.hasPrefix("-") {
            guard let sub = subcommands.first(where: { $0._commandName == word }) else { return word }
            subcommands = sub.configuration.subcommands
        }
        return nil
    }

    /// The (sub)command the words of `arguments` name, e.g. for `help list` or `list --help`.
    static func command(root: any ParsableCommand.Type, arguments: [String]) -> any ParsableCommand.Type {
        var command = root
        for word in arguments where !word.hasPrefix("-") {
            guard let sub = command.configuration.subcommands.first(where: { $0._commandName == word }) else {
                continue
            }
            command = sub
        }
        return command
    }

    /// Levenshtein distance between two short words.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
