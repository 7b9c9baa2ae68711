import Glibc

/// Tells when a `-wal` file has been written, by any process (inotify's `IN_MODIFY`: SQLite
/// appends every commit's frames to the WAL with `pwrite`), so the change feed's poller sleeps
/// while nothing is written instead of waking up every 50 ms to look.
///
/// `wait` is called by one thread at a time; `wake` may be called from any thread. Both
/// descriptors live as long as the object, so `wake` never writes to a descriptor number that
/// has been closed and reused.
final class WALWriteWatch: Sendable {
    private let events: Int32
    private let wakePipe: (read: Int32, write: Int32)

    /// Nil when the file cannot be watched (no inotify, no such file): the caller then looks at
    /// its interval instead.
    init?(walPath: String) {
        let events = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard events >= 0 else { return nil }
        guard inotify_add_watch(events, walPath, UInt32(IN_MODIFY)) >= 0 else {
            close(events)
            return nil
        }
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            close(events)
            return nil
        }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        self.events = events
        self.wakePipe = (ends[0], ends[1])
    }

    deinit {
        close(events)
        close(wakePipe.read)
        close(wakePipe.write)
    }

    /// Waits until the file is written, `wake` is called, or `milliseconds` pass; then takes
    /// every event queued so far (many writes since the last look count as one). True when the
    /// file was written since the previous call.
    func wait(milliseconds: Int32) -> Bool {
        var fds = [
            pollfd(fd: events, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0),
        ]
        _ = poll(&fds, 2, milliseconds)
        return drain()
    }

    /// Ends a `wait` now (or the next one at once).
    func wake() {
        var byte: UInt8 = 1
        _ = write(wakePipe.write, &byte, 1)
    }

    /// Reads and discards every queued event and wake-up byte, without blocking; true when
    /// there was an event.
    private func drain() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var written = false
        while buffer.withUnsafeMutableBytes({ read(events, $0.baseAddress, $0.count) }) > 0 { written = true }
        while buffer.withUnsafeMutableBytes({ read(wakePipe.read, $0.baseAddress, $0.count) }) > 0 {}
        return written
    }
}
