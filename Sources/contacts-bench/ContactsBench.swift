import ArgumentParser
import ContactService
import ContactStore
import JSONRPC
import LoadGenerator

import Glibc

/// `contacts-bench`: the load generator `tools/bench` drives. Prints one JSON line per run.
@main
struct ContactsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contacts-bench",
        abstract: "Closed-loop load generator for contactsd (used by tools/bench).",
        subcommands: [
            Seed.self, Load.self, Soak.self, Hold.self, Hostile.self, Purge.self, InProcess.self, Storm.self,
            StormCheck.self,
        ])

    struct Seed: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create user0000000… with two emails each.")
        @Option(help: "The server's socket.") var socket: String
        @Option(help: "First index.") var from: Int = 0
        @Option(help: "Contacts to create (indices from..<count).") var count: Int
        @Option(help: "Creates per batch.") var batch: Int = 500
        @Option(help: "Parallel connections.") var connections: Int = 4
        @Flag(help: "Five emails and 50-character names each (the hostile-client scenarios).") var wide = false

        func run() throws {
            let created = try Seeder.seed(
                socketPath: socket, from: from, to: count, batch: batch, connections: connections, wide: wide)
            print(#"{"seeded":\#(created)}"#)
            if created != count - from { throw ExitCode(1) }
        }
    }

    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drive one scenario and print its measurements as JSON.")
        @Option(help: "The server's socket.") var socket: String
        @Option(help: "get, create, list, mix, ping or search.") var scenario: String
        @Option(help: "Connections.") var connections: Int = 16
        @Option(help: "Requests in flight per connection.") var pipeline: Int = 1
        @Option(help: "Measured seconds.") var seconds: Double = 5
        @Option(help: "Unmeasured seconds first.") var warmup: Double = 1
        @Option(help: "Client threads.") var threads: Int = 2
        @Option(help: "Seeded contacts (user0000000…).") var seeded: Int = 10_000
        @Option(help: "Use seeded contacts from this index on.") var seededFrom: Int = 0
        @Option(help: "Name for the report.") var name: String?
        @Flag(help: "Check every response (slower).") var verify = false
        @Flag(
            help: """
                Also follow every change on a subscription of its own, from the head before the warm-up \
                to the head after the load, and report what it received and when.
                """)
        var subscriber = false

        func run() throws {
            guard let kind = Scenario(rawValue: scenario) else { throw ValidationError("unknown scenario \(scenario)") }
            var configuration = LoadConfiguration(
                socketPath: socket, scenario: kind, connections: connections, pipeline: pipeline, seconds: seconds,
                warmup: warmup, threads: threads, seeded: seeded, verify: verify)
            configuration.firstSeeded = seededFrom
            configuration.subscriber = subscriber
            let result = try LoadGenerator.run(configuration)
            func micro(_ q: Double) -> String { format2(Double(result.latency.percentile(q)) / 1000) }
            let label = name ?? "\(scenario) c\(connections) p\(pipeline)"
            let watched = result.subscriber.map { "," + Self.subscriberFields($0) } ?? ""
            print(#"{"scenario":"\#(label)","method":"\#(scenario)","connections":\#(connections),"pipeline":\#(pipeline),"requests":\#(result.requests),"rps":\#(Int(result.requestsPerSecond)),"p50_us":\#(micro(0.5)),"p99_us":\#(micro(0.99)),"p999_us":\#(micro(0.999)),"max_us":\#(format2(Double(result.latency.max) / 1000)),"errors":\#(result.errors)\#(watched)}"#)
            if let first = result.firstError { printError("first error: \(first)") }
            if let reason = result.subscriber?.droppedReason { printError("the subscription was dropped: \(reason)") }
        }

        /// The subscriber's members of the report: counts over the whole run (warm-up included),
        /// the delivery rate over the measured window, latencies over every change received.
        private static func subscriberFields(_ watched: SubscriberResult) -> String {
            func micro(_ q: Double) -> String { format2(Double(watched.latency.percentile(q)) / 1000) }
            return #""subscriber_changes":\#(watched.received),"subscriber_expected":\#(watched.expected),"subscriber_missing":\#(watched.missing),"subscriber_gaps":\#(watched.gaps),"subscriber_dropped":\#(watched.dropped),"subscriber_changes_per_s":\#(Int(watched.changesPerSecond)),"notify_p50_us":\#(micro(0.5)),"notify_p99_us":\#(micro(0.99)),"notify_max_us":\#(format2(Double(watched.latency.max) / 1000))"#
        }
    }
}

extension ContactsBench {
    struct Soak: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The soak's load (tools/soak): the mix at a fixed rate, with reconnects, on contacts a purger removes.",
            discussion: """
                Prints one JSON line per window and a summary line; exits 1 on any unexpected answer \
                (any error but 404 for a contact past --max-age) or a contact past --max-age still there.
                """)
        @Option(help: "The server's socket.") var socket: String
        @Option(help: "Requests a second in all.") var rate: Double
        @Option(help: "Connections.") var connections: Int = 16
        @Option(help: "Client threads.") var threads: Int = 2
        @Option(help: "Seconds to run.") var seconds: Double
        @Option(help: "Seconds per reported window.") var window: Double = 10
        @Option(help: "The task runner's --max-age, in seconds.") var maxAge: Double
        @Option(help: "Requests per connection, on average, before it reconnects.") var churnEvery: Int = 200

        func run() throws {
            let configuration = SoakConfiguration(
                socketPath: socket, rate: rate, connections: connections, threads: threads, seconds: seconds,
                window: window, maxAge: maxAge, churnEvery: churnEvery)
            let total = try SoakLoad.run(configuration) { window in
                printLine(
                    #"{"window":\#(window.index),"end_s":\#(format2(Double(window.index + 1) * self.window)),\#(Self.counts(window, seconds: self.window))}"#)
                if let first = window.firstUnexpected { printError("window \(window.index): unexpected: \(first)") }
            }
            printLine(#"{"summary":true,\#(Self.counts(total, seconds: seconds))}"#)
            if total.unexpectedErrors > 0 || total.unpurged > 0 { throw ExitCode(1) }
        }

        private static func counts(_ window: SoakWindow, seconds: Double) -> String {
            func micro(_ q: Double) -> String { format2(Double(window.latency.percentile(q)) / 1000) }
            return #""requests":\#(window.requests),"rps":\#(Int(Double(window.requests) / seconds)),"p50_us":\#(micro(0.5)),"p99_us":\#(micro(0.99)),"max_us":\#(format2(Double(window.latency.max) / 1000)),"unexpected_errors":\#(window.unexpectedErrors),"expected_404":\#(window.expectedNotFound),"unpurged":\#(window.unpurged),"reconnects":\#(window.reconnects)"#
        }
    }

    struct Hostile: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Connections that send batches of big list pages and stall or read (the hardening scenarios).")
        @Option(help: "The server's socket.") var socket: String
        @Option(help: "Batch-sending connections.") var clients: Int = 16
        @Option(help: "stall (send one batch, never read) or read (read each reply, send the next batch).") var mode: String = "stall"
        @Option(help: "contacts.list calls per batch.") var batch: Int = 200
        @Option(help: "The limit of each call.") var limit: Int = 1000
        @Flag(help: "Also send one 1 MiB line of bad positional params.") var paramsLine = false
        @Option(help: "Seconds to keep the connections open.") var seconds: Double = 10

        func run() throws {
            guard let kind = HostileClients.Mode(rawValue: mode) else { throw ValidationError("--mode must be stall or read") }
            let replies = try HostileClients.run(
                socketPath: socket, clients: clients, mode: kind, batch: batch, limit: limit, paramsLine: paramsLine,
                seconds: seconds)
            print(#"{"hostile_clients":\#(clients),"mode":"\#(mode)","batch_replies_read":\#(replies)}"#)
        }
    }

    struct Hold: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open idle connections and keep them open.")
        @Option(help: "The server's socket.") var socket: String
        @Option(help: "Connections to hold.") var connections: Int = 1000
        @Option(help: "Seconds to hold them.") var seconds: Double = 3

        func run() throws {
            var fds: [Int32] = []
            for _ in 0..<connections { fds.append(try LoadGenerator.connect(socket)) }
            var line = #"{"held":\#(fds.count)}"# + "\n"
            line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
            usleep(UInt32(seconds * 1_000_000))
            for fd in fds { close(fd) }
        }
    }

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete contacts created before a time, in chunks of 500, as purge-expired does.")
        @Option(help: "The database file.") var db: String
        @Option(help: "Cutoff in milliseconds since the epoch.") var beforeMs: Int64

        func run() throws {
            // Purges as contacts-tasks does, so the change log records it the same way.
            let store = try ContactStore(path: db, options: StoreOptions(author: "contacts-tasks"))
            defer { store.close() }
            let started = LoadGenerator.now()
            var total = 0
            while true {
                let removed = try store.purge(createdBefore: Timestamp(milliseconds: beforeMs), limit: 500)
                total += removed
                if removed < 500 { break }
            }
            let seconds = Double(LoadGenerator.now() - started) / 1e9
            print(#"{"purged":\#(total),"seconds":\#(format2(seconds))}"#)
        }
    }
}

extension ContactsBench {
    struct Storm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Creates, updates and deletes on many connections, recording every reply to a file (tools/crash-matrix).")
        @Option(help: "The server's socket.") var socket: String
        @Option(help: "The record: one line per reply, appended as it arrives.") var acks: String
        @Option(help: "Connections, one request in flight each.") var connections: Int = 16
        @Option(help: "Seconds, unless the server goes away first.") var seconds: Double = 10
        @Option(help: "Username prefix (unique per storm on one database).") var tag: String = "storm"

        func run() throws {
            let totals = try WriteStorm.run(
                socketPath: socket, ackPath: acks, connections: connections, seconds: seconds, tag: tag)
            let reasons = totals.reasons.sorted { $0.key < $1.key }.map { #""\#($0.key)":\#($0.value)"# }
            print(#"{"acknowledged":\#(totals.acknowledged),"refused":\#(totals.refused),"reasons":{\#(reasons.joined(separator: ","))},"connections_lost":\#(totals.lost)}"#)
        }
    }

    struct StormCheck: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "storm-check", abstract: "Checks a server's contacts against a storm's record; exit 1 on any difference.")
        @Option(help: "The server's socket.") var socket: String
        @Option(help: "The storm's record.") var acks: String

        func run() throws {
            let verdict = try WriteStorm.check(socketPath: socket, ackPath: acks)
            print(#"{"acknowledged":\#(verdict.acknowledged),"checked":\#(verdict.checked),"undecided":\#(verdict.undecided),"wrong":\#(verdict.wrong.count)}"#)
            for line in verdict.wrong.prefix(10) { printError("storm-check: \(line)") }
            if !verdict.wrong.isEmpty { throw ExitCode(1) }
        }
    }
}

extension ContactsBench {
    struct InProcess: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "in-process", abstract: "Time store.get and the whole dispatcher path without sockets (for profiling).")
        @Option(help: "A seeded database file.") var db: String
        @Option(help: "Iterations.") var iterations: Int = 200_000
        @Option(help: "Get usernames spread at random over the first N seeded contacts.") var keys: Int = 1000

        func run() throws {
            let store = try ContactStore(path: db)
            defer { store.close() }
            // Usernames are built before timing, so only the store's work is measured.
            var generator = SystemRandomNumberGenerator()
            let names = (0..<iterations).map { _ in Seeder.username(Int.random(in: 0..<keys, using: &generator)) }
            var started = LoadGenerator.now()
            for name in names {
                _ = try store.get(username: name)
            }
            print("store.get: \(Double(LoadGenerator.now() - started) / Double(iterations)) ns")
            started = LoadGenerator.now()
            store.withReadSession { session in
                for name in names {
                    _ = try? store.get(username: name, in: session)
                }
            }
            print("store.get in one snapshot: \(Double(LoadGenerator.now() - started) / Double(iterations)) ns")
            let dispatcher = RPCDispatcher(methods: ContactMethods.all(store: store))
            let line = Array(#"{"jsonrpc":"2.0","id":1,"method":"contacts.get","params":{"username":"user0000042"}}"#.utf8)
            started = LoadGenerator.now()
            for _ in 0..<iterations {
                dispatcher.respond(to: line) { _ in }
            }
            print("dispatcher contacts.get: \(Double(LoadGenerator.now() - started) / Double(iterations)) ns")
        }
    }
}

func format2(_ value: Double) -> String {
    let scaled = Int((value * 100).rounded())
    let fraction = scaled % 100
    return "\(scaled / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

/// Writes a line to stdout at once (a script reads the lines while the run goes on).
func printLine(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}

func printError(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
