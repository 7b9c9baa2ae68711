import ArgumentParser
import ContactClient
import ContactPaths

import Glibc

/// `contacts`: the command-line client. Flags and output live here; the protocol lives in ContactClient.
@main
struct ContactsCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contacts",
        abstract: "Manage contacts on a contactsd server.",
        discussion: """
            Exit codes: 0 success; 1 the server answered with an error (one line on stderr says \
            what failed); 2 usage error; 3 the server cannot be reached (or stopped mid-call).

            Socket: --socket (before or after the subcommand), else $CONTACTS_SOCKET, else \
            $XDG_RUNTIME_DIR/contacts/contactsd.sock (or /tmp/contacts-$UID/contactsd.sock), \
            the same rule contactsd follows.

            Output: aligned tables and records for people; --json prints the server's result as \
            one compact JSON document (list --all --json: one contact per line). No colour when \
            stdout is not a terminal or NO_COLOR is set.

            Shell completion: contacts --generate-completion-script bash|zsh|fish (see README).
            """,
        version: ContactsVersion.current,
        subcommands: [
            List.self, Get.self, Create.self, Update.self, Delete.self, Call.self, Methods.self, Stats.self, Ping.self,
        ])

    @OptionGroup var global: GlobalOptions

    /// Maps failures to the documented exit codes (argument-parser's own usage code is 64).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as CLIFailure {
            Terminal.error(failure.message)
            Glibc.exit(failure.code)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { Terminal.output(message) }
                Glibc.exit(0)
            }
            if !message.isEmpty { Terminal.error(message) }
            Glibc.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}

/// Flags every subcommand takes, before or after its name.
struct GlobalOptions: ParsableArguments {
    @Option(help: "The server's Unix socket (env CONTACTS_SOCKET).")
    var socket: String?

    @Flag(help: "Print the server's JSON result as is, compact, for scripts.")
    var json = false

    @Option(help: "Seconds to wait for each answer.")
    var timeout: Double = 30

    /// The socket path by the shared default rule.
    var socketPath: String { ContactPaths.socket(flag: socket) }
}

/// A failure with its exit code and the line to print.
struct CLIFailure: Error {
    var code: Int32
    var message: String

    /// Turns a client error into exit 1 (server said no) or 3 (server unreachable).
    init(_ error: ClientError, socket: String) {
        switch error {
        case .server(let rpc) where rpc.code == -32001:
            // Refused for who we are (SO_PEERCRED): say which uid the server saw and what fixes it.
            let uid = rpc.data?.objectValue?["uid"]?.numberValue?.intValue.map(String.init) ?? "\(getuid())"
            code = 1
            message = """
                contacts: the server at \(socket) does not serve uid \(uid): \(rpc.message)
                hint: its owner can allow you by starting contactsd with --allow-uid \(uid) (or --allow-gid).
                """
        case .server(let rpc):
            code = 1
            message = "contacts: \(rpc.message)"
        case .invalidResponse:
            code = 1
            message = "contacts: \(error)"
        case .connectionClosed:
            code = 3
            message = "contacts: \(error) (the request may or may not have been applied)"
        case .cannotConnect, .timedOut:
            code = 3
            message = """
                contacts: \(error)
                hint: is contactsd running? Start it with `contactsd --socket \(socket)` (or tools/run), \
                or point --socket / CONTACTS_SOCKET at the socket it listens on.
                """
        }
    }

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }
}

extension GlobalOptions {
    /// Connects, runs `body`, and turns client errors into CLI failures.
    /// - Parameter waitForever: no read timeout (for `call -`, whose input may pause at will).
    func withClient<T>(waitForever: Bool = false, _ body: (ContactClient) throws(ClientError) -> T) throws -> T {
        let path = socketPath
        do {
            // SO_RCVTIMEO of 0 means no timeout.
            let client = try ContactClient(socketPath: path, readTimeout: waitForever ? 0 : timeout)
            return try body(client)
        } catch {
            throw CLIFailure(error, socket: path)
        }
    }
}
