import Dispatch
import Glibc
import Synchronization

/// The database file the store opened, and whether its path still names that file.
///
/// SQLite keeps using the descriptors it opened: once the file is deleted, or another file (a
/// backup) is moved over the path, every write would go into a file nobody will ever open again.
/// The device and inode seen at open are compared with the path's by `check()`: the writer
/// calls it around each group commit, and a timer once a second, so reads stop within a second.
/// Once they differ the store refuses everything (`StoreError.databaseReplaced`) for good.
// @unchecked Sendable: `timer` is the only non-Sendable member; it is set up in init and
// afterwards only cancelled, which libdispatch allows from any thread. Everything else is
// immutable or atomic.
final class DatabaseFile: @unchecked Sendable {
    /// The path the store was opened with.
    let path: String
    /// The directory holding it, where SQLite makes its `-wal` and `-shm` files.
    private let directory: String
    /// Device and inode at open; nil for an in-memory database (never replaced).
    private let identity: (device: UInt64, inode: UInt64)?
    private let replaced = Atomic<Bool>(false)
    private let onReplaced: @Sendable (String) -> Void
    private let timer: any DispatchSourceTimer

    /// How often the timer looks at the path.
    static let checkInterval: DispatchTimeInterval = .seconds(1)

    /// Records the identity of the file at `path` (call once SQLite has it open) and starts the
    /// timer. `onReplaced` runs once, on the first check that finds another file (or none).
    init(path: String, onReplaced: @escaping @Sendable (String) -> Void) {
        self.path = path
        self.onReplaced = onReplaced
        directory = path.lastIndex(of: "/").map { String(path[..<$0]).isEmpty ? "/" : String(path[..<$0]) } ?? "."
        identity = path.hasPrefix(":") ? nil : Self.identity(of: path)
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "contacts.store.file", target: .global()))
        if identity != nil {
            timer.schedule(
                deadline: .now() + Self.checkInterval, repeating: Self.checkInterval, leeway: .milliseconds(100))
            timer.setEventHandler { [weak self] in _ = self?.check() }
        }
        // Always activated: libdispatch traps when an inactive source is released.
        timer.activate()
    }

    deinit {
        timer.cancel()
    }

    /// True once a check found that the path names another file, or none. One relaxed load:
    /// cheap enough for every read.
    var isReplaced: Bool { replaced.load(ordering: .relaxed) }

    /// Looks at the path now: true while it still names the file opened (one `stat`).
    func check() -> Bool {
        guard let identity, !isReplaced else { return !isReplaced }
        if let now = Self.identity(of: path) {
            if now == identity { return true }
        } else if errno != ENOENT && errno != ENOTDIR {
            return true  // the path cannot be looked at now (EACCES, EIO): no proof that it changed
        }
        if replaced.exchange(true, ordering: .relaxed) == false { onReplaced(path) }
        return false
    }

    /// False when this process may no longer write the file or its directory: a read-only
    /// (bind) mount, an immutable file, or the modes of either for a process that is not root.
    /// Two `access` calls, made before each group commit.
    ///
    /// SQLite keeps writing through the descriptors it opened at start, which none of these
    /// changes stop, so without this check writes would go on being acknowledged into a file its
    /// owner made read-only, and the store would be refused at the next start (exit 78).
    func isWritable() -> Bool {
        guard identity != nil else { return true }
        for target in [path, directory] where faccessat(AT_FDCWD, target, W_OK, AT_EACCESS) != 0 {
            // Only a refusal proves it; a transient failure (EIO, ENOMEM) does not.
            if errno == EROFS || errno == EACCES || errno == EPERM { return false }
        }
        return true
    }

    /// Stops the timer (the store is closing).
    func stopWatching() {
        timer.cancel()
    }

    private static func identity(of path: String) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }
}
