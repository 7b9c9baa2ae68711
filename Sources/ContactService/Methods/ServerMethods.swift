import ContactPaths
import JSONRPC

/// Methods about the server itself rather than contacts.
enum ServerMethods {
    /// `server.ping`: answers `{"pong": true, "version": …}` and touches nothing but memory.
    static let ping = RPCMethod(name: "server.ping", parameters: []) { params in
        params.problems.isEmpty ? .result(pong) : .error(.invalidParams(params.problems))
    }

    private static let pong = JSONFragment(["pong": true, "version": .string(ContactsVersion.current)])
}
