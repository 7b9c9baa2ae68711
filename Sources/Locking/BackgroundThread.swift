import CLinux
import Glibc

/// Starts a dedicated OS thread for a loop that blocks (hiredis calls, SQLite commits and waits),
/// so that no Dispatch pool thread is ever held: libdispatch adds pool threads when its workers
/// block, and under a steady load never retires them (docs/reliability.md, "Soak").
public enum BackgroundThread {
    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Runs `body` on a new detached thread, named `name` if given (at most 15 bytes are kept),
    /// as `ps -L` and `/proc/PID/task/*/comm` show it; unnamed, it keeps the process's name.
    public static func start(named name: String? = nil, _ body: @escaping @Sendable () -> Void) {
        let named: @Sendable () -> Void = {
            if let name { _ = contacts_set_thread_name(name) }
            body()
        }
        let box = Unmanaged.passRetained(Box(named)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        pthread_detach(thread)
    }
}
