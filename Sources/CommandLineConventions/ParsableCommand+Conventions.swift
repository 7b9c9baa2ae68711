import ArgumentParser
import Glibc
import Logging

extension ParsableCommand {
    /// Parses the command line, runs the command and exits by the conventions: a usage error is
    /// 2 (argument-parser's own is 64), and an unknown subcommand suggests the nearest one; a
    /// `ReportedFailure` prints its message and exits with its status.
    public static func mainFollowingConventions() -> Never {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let topic = SubcommandSuggestion.unknownHelpTopic(root: self, arguments: arguments) {
            let suggestion = SubcommandSuggestion.message(root: self, arguments: [topic])
            printToStderr(suggestion ?? "\(_commandName): no subcommand \"\(topic)\" to show help for")
            printToStderr("See '\(_commandName) --help' for the subcommands.")
            Glibc.exit(ExitStatus.usage)
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Glibc.exit(ExitStatus.success)
        } catch let failure as any ReportedFailure {
            printToStderr(failure.message)
            Glibc.exit(failure.exitStatus)
        } catch {
            let code = exitCode(for: error)
            var message = fullMessage(for: error)
            if code == .success {
                if message.contains("USAGE:"),
                    let examples = SubcommandSuggestion.command(root: self, arguments: arguments)
                        as? any CommandExamples.Type
                {
                    message += "\n\nEXAMPLES:\n" + examples.examples.map { "  " + $0 }.joined(separator: "\n")
                }
                if !message.isEmpty { print(message) }
                Glibc.exit(ExitStatus.success)
            }
            if code == .validationFailure,
                let suggestion = SubcommandSuggestion.message(root: self, arguments: arguments)
            {
                message = suggestion + "\n" + message
            }
            printToStderr(message)
            Glibc.exit(code == .validationFailure ? ExitStatus.usage : code.rawValue)
        }
    }
}

/// A command whose help ends with a few examples (two or three, each one line of shell).
public protocol CommandExamples {
    static var examples: [String] { get }
}

/// Writes `text` and a newline to stderr in one `write`, if it is not empty.
public func printToStderr(_ text: String) {
    guard !text.isEmpty else { return }
    var line = text.hasSuffix("\n") ? text : text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// `--log-level` takes one of swift-log's levels; a wrong one is a usage error listing them all.
extension Logger.Level: @retroactive ExpressibleByArgument {}
