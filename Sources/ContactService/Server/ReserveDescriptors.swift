import Glibc

/// Descriptors held open (on `/dev/null`) only to be given back when the process runs out
/// (`EMFILE`): closing one lets the server accept the waiting connection, send it the refusal
/// line and close it, instead of leaving it to hang in the backlog. Two are kept, so that while
/// one serves the refused connection another is free for libdispatch and SQLite.
///
/// Not thread-safe: used only on the accept queue.
final class ReserveDescriptors {
    /// How many descriptors are kept.
    static let count = 2
    private var held: [Int32] = []

    init() {
        refill()
    }

    deinit {
        for fd in held { close(fd) }
    }

    /// True when the reserve is complete, so it can be spent on one refusal.
    var isAvailable: Bool { held.count == Self.count }

    /// Closes every reserved descriptor.
    func release() {
        for fd in held { close(fd) }
        held.removeAll()
    }

    /// Reopens what was released (as far as the process has descriptors free).
    func refill() {
        while held.count < Self.count {
            let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return }
            held.append(fd)
        }
    }
}
