import ArgumentParser
import CommandLineConventions
import ContactClient
import ContactPaths
import JSONRPC
import UnixSocketAddress

import Glibc

/// `contacts`: the command-line client. Flags and output live here; the protocol lives in ContactClient.
@main
struct ContactsCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contacts",
        abstract: "Manage contacts on a contactsd server.",
        discussion: """
            Exit codes: 0 success; 1 the server answered with an error (one line on stderr says \
            what failed); 2 usage error, found before anything is sent; 3 the server cannot be \
            reached (or stopped mid-call). Durations: 500ms, 30s, 1m30s, 1h, or plain seconds.

            Socket: --socket (before or after the subcommand), else $CONTACTS_SOCKET, else \
            $XDG_RUNTIME_DIR/contacts/contactsd.sock (or /tmp/contacts-$UID/contactsd.sock), \
            the same rule contactsd follows; when no file is at that per-user path, the system \
            server's /run/contacts/contactsd.sock.

            Output: tables fitted to the terminal and records for people (list --wide: values \
            whole); tab-separated rows when stdout is not a terminal; --json prints the server's \
            result as one compact JSON document (list --all --json: one contact per line; changes \
            --json and watch --json: one change per line). No \
            colour when stdout is not a terminal or NO_COLOR is set.

            Shell completion: contacts --generate-completion-script bash|zsh|fish (see README).
            """,
        version: ContactsVersion.current,
        subcommands: [
            List.self, Search.self, Get.self, Create.self, Update.self, Delete.self, Import.self, Export.self,
            Changes.self, Watch.self, Call.self, Methods.self, Stats.self, Backup.self, Ping.self,
        ])

    @OptionGroup var global: GlobalOptions

    /// Exits by the conventions every Contacts program follows (docs/cli.md).
    static func main() { mainFollowingConventions() }
}

/// Flags every subcommand takes, before or after its name.
struct GlobalOptions: ParsableArguments {
    @Option(help: "The server's Unix socket (env CONTACTS_SOCKET).", completion: .file())
    var socket: String?

    @Flag(help: "Print the server's JSON result as is, compact, for scripts.")
    var json = false

    @Option(help: "How long to wait for each answer (500ms, 30s, 1m; a plain number is seconds).")
    var timeout: DurationArgument = DurationArgument(seconds: 30)

    /// The socket path by the shared default rule (falling back to the system socket).
    var socketPath: String { ContactPaths.clientSocket(flag: socket) }
}

/// The methods contactsd answers, for shell completion of `methods` and `call` (completion
/// cannot ask a server that may not be running).
let knownMethods = [
    "contacts.changes", "contacts.create", "contacts.delete", "contacts.export", "contacts.get", "contacts.import",
    "contacts.list", "contacts.search", "contacts.subscribe",
    "contacts.unsubscribe", "contacts.update", "rpc.discover",
    "server.backup", "server.ping", "server.stats",
]

/// A failure with its exit code and the line to print.
struct CLIFailure: ReportedFailure {
    var exitStatus: Int32
    var message: String

    /// Turns a client error into exit 1 (server said no) or 3 (server unreachable).
    init(_ error: ClientError, socket: String) {
        switch error {
        case .server(let rpc) where rpc.code == -32001:
            // Refused for who we are (SO_PEERCRED): say which uid the server saw and what fixes it.
            let uid = rpc.data?.objectValue?["uid"]?.numberValue?.intValue.map(String.init) ?? "\(getuid())"
            exitStatus = 1
            message = """
                contacts: the server at \(socket) does not serve uid \(uid): \(rpc.message)
                hint: its owner can allow you by starting contactsd with --allow-uid \(uid) (or --allow-gid).
                """
        case .server(let rpc):
            exitStatus = 1
            message = "contacts: \(rpc.message)"
        case .invalidResponse:
            exitStatus = 1
            message = "contacts: \(error)"
        case .connectionClosed:
            exitStatus = 3
            message = "contacts: \(error) (the request may or may not have been applied)"
        case .cannotConnect, .timedOut:
            exitStatus = 3
            message = "contacts: \(error)\nhint: " + Self.hint(socket: socket)
        }
    }

    /// What to do when nothing answers at `socket`: the path itself may be what is wrong.
    static func hint(socket: String) -> String {
        var status = stat()
        if stat(socket, &status) == 0, status.st_mode & S_IFMT == S_IFDIR {
            return "\(socket) is a directory, not a socket: point --socket / CONTACTS_SOCKET at the socket file "
                + "in it (contactsd names it contactsd.sock by default)."
        }
        let length = socket.utf8.count
        if length > UnixSocketAddress.maxPathLength {
            return "the socket path is \(length) bytes, longer than the \(UnixSocketAddress.maxPathLength) a Unix socket address allows: "
                + "no server can listen there; use a shorter --socket path."
        }
        if socket == ContactPaths.systemSocket {
            // Reached by the fallback, most often: say where the per-user server would have been.
            return "is contactsd running? No socket is at the per-user path \(ContactPaths.socket()) either; "
                + "start the system service (systemctl start contactsd.socket), or start contactsd as yourself "
                + "(tools/run), or point --socket / CONTACTS_SOCKET at the socket it listens on."
        }
        return "is contactsd running? Start it with `contactsd --socket \(socket)` (or tools/run), "
            + "or point --socket / CONTACTS_SOCKET at the socket it listens on."
    }

    /// The 410 of the change log (the changes after `since` are no longer kept), with the way to
    /// resync; `follow` is the command that follows the log from HEAD.
    init(gone: RPCError, follow: String) {
        exitStatus = 1
        message = "contacts: \(gone.message)\n"
            + "hint: resync: list every contact (contacts list --all), then follow with "
            + "\(follow), HEAD being head_seq of the first page (contacts list --json)."
    }

    init(code: Int32, message: String) {
        self.exitStatus = code
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
            let client = try ContactClient(socketPath: path, readTimeout: waitForever ? 0 : timeout.seconds)
            return try body(client)
        } catch {
            throw CLIFailure(error, socket: path)
        }
    }
}
