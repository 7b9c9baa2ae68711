import Foundation

/// Where every Contacts program finds the server socket and the database when no flag says.
///
/// One rule for all executables: a flag wins, then the environment variable
/// (`CONTACTS_SOCKET`, `CONTACTS_DB`), then the per-user default:
/// - socket: `$XDG_RUNTIME_DIR/contacts/contactsd.sock`, else `/tmp/contacts-$UID/contactsd.sock`;
/// - database: `$XDG_DATA_HOME/contacts/contacts.db`, else `~/.local/share/contacts/contacts.db`.
public enum ContactPaths {
    /// The socket path: `flag`, else `CONTACTS_SOCKET`, else the per-user default.
    public static func socket(flag: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let value = environment["CONTACTS_SOCKET"], !value.isEmpty { return value }
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            return runtime + "/contacts/contactsd.sock"
        }
        return "/tmp/contacts-\(getuid())/contactsd.sock"
    }

    /// The database path: `flag`, else `CONTACTS_DB`, else the per-user default.
    public static func database(flag: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let value = environment["CONTACTS_DB"], !value.isEmpty { return value }
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") {
            return data + "/contacts/contacts.db"
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/share/contacts/contacts.db"
    }

    /// Creates the missing parent directories of `path` with mode 0700 (private to this user).
    /// - Throws: `PathError` when a directory cannot be created.
    public static func createParentDirectories(of path: String) throws(PathError) {
        let parent = (path as NSString).deletingLastPathComponent
        guard !parent.isEmpty, parent != "/" else { return }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return }
            throw PathError(message: "\(parent) exists and is not a directory")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw PathError(message: "cannot create directory \(parent): \(error.localizedDescription)")
        }
    }
}

/// A path that could not be prepared.
public struct PathError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, naming the path.
    public var message: String
    public var description: String { message }
}
