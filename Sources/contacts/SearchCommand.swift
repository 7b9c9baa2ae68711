import ArgumentParser
import ContactClient
import JSONRPC

extension ContactsCLI {
    struct Search: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find contacts by any fragment of a username, name or address.",
            discussion: """
                Every word must match some field; case and accents are ignored ("jose" finds \
                José). Words of three characters or more match anywhere ("ove" finds Lovelace, \
                "@navy" an address); shorter words match the start of a word. Best matches come \
                first: a whole username or address, then fields starting with the first word \
                (username, last name, first name, address), then fields containing it; then by \
                username. See protocol.md, contacts.search.
                """)
        @Argument(help: "The words to look for (quote them or not: they are joined with spaces).")
        var words: [String]
        @OptionGroup var global: GlobalOptions
        @Option(help: "Most contacts shown (1-100; default 20).") var limit: Int?
        @Flag(help: "Show every value whole, even past the terminal's width.") var wide = false

        func validate() throws {
            if let limit, !(1...100).contains(limit) { throw ValidationError("--limit must be 1 to 100") }
            if words.allSatisfy({ $0.unicodeScalars.allSatisfy(\.properties.isWhitespace) }) {
                throw ValidationError("give at least one word to search for")
            }
        }

        func run() throws {
            try global.withClient { client throws(ClientError) in
                let found = try client.search(words.joined(separator: " "), limit: limit)
                if global.json {
                    Terminal.output(found.result.jsonString)
                    return
                }
                if found.contacts.isEmpty {
                    Terminal.output(Terminal.dim("no contacts match"))
                } else if !Terminal.isTTY {
                    Terminal.output(Render.tabSeparated(found.contacts, header: true))
                } else {
                    let widths = Render.widths(found.contacts, fitting: Terminal.columns, wide: wide)
                    Terminal.output(Render.table(found.contacts, widths: widths, header: true, wide: wide))
                }
                // On stderr, so `contacts search … | wc -l` counts contacts only.
                if found.hasMore {
                    Terminal.error(Terminal.dim("more match: raise --limit (at most 100) or add a word"))
                }
            }
        }
    }
}
