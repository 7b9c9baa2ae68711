import Glibc

/// Where every Contacts program finds the server socket and the database when no flag says.
///
/// One rule for all executables: a flag wins, then the environment variable
/// (`CONTACTS_SOCKET`, `CONTACTS_DB`), then the per-user default:
/// - socket: `$XDG_RUNTIME_DIR/contacts/contactsd.sock`, else `/tmp/contacts-$UID/contactsd.sock`;
///   a client (`clientSocket`) that finds no file at that per-user path uses the system socket,
///   `/run/contacts/contactsd.sock` (the system `contactsd.socket` unit's), instead;
/// - database: `$XDG_DATA_HOME/contacts/contacts.db`, else `~/.local/share/contacts/contacts.db`;
/// - backups: `--backup-dir`, else `backups/` beside the database.
///
/// Written without Foundation on purpose: loading it costs every process several MB of memory.
public enum ContactPaths {
    /// The process environment, read with getenv(3).
    public static var processEnvironment: [String: String] {
        var result: [String: String] = [:]
        for name in ["CONTACTS_SOCKET", "CONTACTS_DB", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "HOME"] {
            if let value = getenv(name) { result[name] = String(cString: value) }
        }
        return result
    }

    /// The socket path: `flag`, else `CONTACTS_SOCKET`, else the per-user default.
    public static func socket(flag: String? = nil, environment: [String: String] = processEnvironment) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let value = environment["CONTACTS_SOCKET"], !value.isEmpty { return value }
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            return runtime + "/contacts/contactsd.sock"
        }
        return "/tmp/contacts-\(getuid())/contactsd.sock"
    }

    /// The socket of the system-wide server (the system `contactsd.socket` unit listens there).
    public static let systemSocket = "/run/contacts/contactsd.sock"

    /// The socket a client connects to: `flag`, else `CONTACTS_SOCKET`, else the per-user default
    /// when a file exists there, else `systemSocket`. Only clients fall back: a server binds what
    /// `socket` says.
    /// - Parameter exists: whether a file (of any type) is at a path; stat(2) by default.
    public static func clientSocket(
        flag: String? = nil, environment: [String: String] = processEnvironment,
        exists: (String) -> Bool = fileExists
    ) -> String {
        let path = socket(flag: flag, environment: environment)
        if let flag, !flag.isEmpty { return path }
        if let value = environment["CONTACTS_SOCKET"], !value.isEmpty { return path }
        return exists(path) ? path : systemSocket
    }

    /// True when something (of any file type) is at `path`.
    public static func fileExists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// The database path: `flag`, else `CONTACTS_DB`, else the per-user default.
    public static func database(flag: String? = nil, environment: [String: String] = processEnvironment) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let value = environment["CONTACTS_DB"], !value.isEmpty { return value }
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") {
            return data + "/contacts/contacts.db"
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? homeFromPasswd() ?? "/"
        return home + "/.local/share/contacts/contacts.db"
    }

    /// The backup directory: `flag`, else `backups` in the directory of `database` (the same rule
    /// for `contactsd` and `contacts-tasks`, so both write their backups to one place).
    public static func backupDirectory(flag: String? = nil, database: String) -> String {
        if let flag, !flag.isEmpty { return flag }
        guard let slash = database.lastIndex(of: "/") else { return "backups" }
        return String(database[..<slash]) + "/backups"
    }

    /// Creates the missing parent directories of `path` with mode 0700 (private to this user).
    /// The shared-/tmp fallback directory must also be ours and private, or it is refused: in a
    /// world-writable /tmp another user could have made it first.
    /// - Throws: `PathError` when a directory cannot be created, or a path component is not one.
    public static func createParentDirectories(of path: String) throws(PathError) {
        try createDirectories(above: path)
        let fallback = "/tmp/contacts-\(getuid())"
        if path.hasPrefix(fallback + "/") {
            var info = stat()
            guard lstat(fallback, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid(),
                info.st_mode & 0o077 == 0
            else {
                throw PathError(message: "\(fallback) is not a private directory owned by you (mode 0700); remove it or set XDG_RUNTIME_DIR")
            }
        }
    }

    private static func createDirectories(above path: String) throws(PathError) {
        guard let slash = path.lastIndex(of: "/") else { return }
        let parent = String(path[..<slash])
        guard !parent.isEmpty else { return }
        var info = stat()
        if stat(parent, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw PathError(message: "\(parent) exists and is not a directory") }
            return
        }
        try createDirectories(above: parent)
        if mkdir(parent, 0o700) != 0 && errno != EEXIST {
            throw PathError(message: "cannot create directory \(parent): \(String(cString: strerror(errno)))")
        }
    }

    private static func homeFromPasswd() -> String? {
        guard let entry = getpwuid(getuid()), let dir = entry.pointee.pw_dir else { return nil }
        return String(cString: dir)
    }
}

/// A path that could not be prepared.
public struct PathError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, naming the path.
    public var message: String
    public var description: String { message }
}
