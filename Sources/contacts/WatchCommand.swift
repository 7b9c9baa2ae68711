import ArgumentParser
import CommandLineConventions
import ContactClient

extension ContactsCLI {
    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print changes live, as they are committed.",
            discussion: """
                One line per change, as contacts changes prints it (seq, time, op, username, \
                version, author); with --json, each change as the server sends it, one per line. \
                Without --since, starts with the changes after the newest one. Runs until \
                Ctrl-C or SIGTERM (exit 0). When the server restarts, or drops the subscription \
                because this watch fell behind, it subscribes again from the last seq it printed, \
                saying so on stderr, so nothing is missed or printed twice. When the changes \
                after that seq are no longer kept, exits 1 with a hint to resync.
                """)
        @Option(help: "The last seq already seen: print the changes after it first (0: from the start).")
        var since: Int?
        @Option(help: "Only usernames starting with this (case-insensitive, literal).") var prefix: String?
        @Option(help: "Leave out the changes this author wrote (repeat for more).") var excludeAuthor: [String] = []
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard (since ?? 0) >= 0 && (since ?? 0) <= 9_007_199_254_740_991 else {
                throw ValidationError("--since must be 0 to 9007199254740991")
            }
        }

        func run() throws {
            let watcher = ChangeWatcher(
                socketPath: global.socketPath, timeout: global.timeout.seconds, since: since, prefix: prefix,
                excludeAuthors: excludeAuthor, json: global.json)
            try watcher.run()
        }
    }
}

extension ContactsCLI.Watch: CommandExamples {
    static let examples = [
        "contacts watch", "contacts watch --prefix ada --exclude-author contacts-tasks",
        "contacts watch --since 120 --json | jq -r .username",
    ]
}
