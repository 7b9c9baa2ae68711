import ContactPaths
import JSONRPC

/// Methods about the server itself rather than contacts.
enum ServerMethods {
    /// `server.ping`: answers `{"pong": true, "version": …}` and touches nothing but memory.
    static let ping = RPCMethod(name: "server.ping", parameters: []) { _ in
        .result(pong)
    }

    private static let pong = JSONFragment(["pong": true, "version": .string(ContactsVersion.current)])
}
