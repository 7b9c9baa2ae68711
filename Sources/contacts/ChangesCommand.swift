import ArgumentParser
import CommandLineConventions
import ContactClient
import JSONRPC

extension ContactsCLI {
    struct Changes: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the change log after a seq, oldest first.",
            discussion: """
                One line per change: seq, time, op, username (and the old one after a rename), \
                version and author; with --json, each change as the server sends it, one per line. \
                Prints every change up to the newest (or --limit of them). When the changes after \
                --since are no longer kept, exits 1 with a hint to resync: list every contact, then \
                follow from the head_seq that contacts.list reports.
                """)
        @Option(help: "The last seq already seen (0: from the start).") var since: Int
        @Option(help: "Print at most this many changes.") var limit: Int?
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard since >= 0 else { throw ValidationError("--since must be 0 or more") }
            guard (limit ?? 1) >= 1 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() throws {
            // Set when the server answers 410: the changes after `since` are gone.
            var gone: RPCError?
            try global.withClient { client throws(ClientError) in
                var since = self.since
                var left = limit ?? Int.max
                while left > 0 {
                    let page = min(left, 1000)
                    let result: JSONValue
                    do throws(ClientError) {
                        result = try client.call(
                            method: "contacts.changes",
                            params: ["since": .number(JSONNumber(since)), "limit": .number(JSONNumber(page))])
                    } catch .server(let rpc) where rpc.code == 410 {
                        gone = rpc
                        return
                    } catch {
                        throw error
                    }
                    let changes = result.objectValue?["changes"]?.arrayValue ?? []
                    for change in changes {
                        Terminal.output(global.json ? change.jsonString : Render.change(change))
                    }
                    left -= changes.count
                    since = result.objectValue?["next"]?.numberValue?.intValue ?? since
                    // A short page reached the head.
                    if changes.count < page { break }
                }
            }
            if let gone { throw CLIFailure(gone: gone, follow: "contacts changes --since HEAD") }
        }
    }
}

extension ContactsCLI.Changes: CommandExamples {
    static let examples = ["contacts changes --since 0", "contacts changes --since 120 --limit 10 --json"]
}
