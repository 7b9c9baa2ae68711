import Glibc

/// A value behind a `pthread_mutex_t`: the one lock type of the project, used wherever state is
/// shared between threads.
///
/// Why not `Synchronization.Mutex`: on this toolchain ThreadSanitizer cannot see `Mutex`'s
/// futex-based locking and reports races on the data it protects (a correct 15-line program
/// whose threads share an array only through `Mutex.withLock` gets reports; the same program over
/// a `pthread_mutex_t` gets none). A sanitizer that cannot see the locks cannot find the real
/// races, so every lock here is one it sees, as swift-nio's `NIOLockedValueBox` does.
///
/// The mutex is allocated once and never moves (a `pthread_mutex_t` must not be copied).
///
/// Do not make `Value` a function type (or an optional one): `withLock`'s `inout` converts a
/// stored closure to its concrete representation and writes it back converted, wrapping it in
/// two more thunks on every call, so each call costs more than the last. Box the closure in a
/// class instead (as `GroupCommitWriter`'s commit hook does). Arrays of closures are not affected.
// @unchecked Sendable: `value` is read and written only between `pthread_mutex_lock` and
// `pthread_mutex_unlock` on `mutex`, so no two threads ever touch it at once.
public final class LockedValue<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// A lock around `value`.
    public init(_ value: Value) {
        self.value = value
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock.
    @inlinable
    public func withLock<Result, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        lock()
        defer { unlock() }
        return try body(&valueStorage)
    }

    // The value and the lock calls, reachable from the inlinable `withLock`.
    @usableFromInline
    var valueStorage: Value {
        _read { yield value }
        _modify { yield &value }
    }

    @usableFromInline
    func lock() {
        pthread_mutex_lock(mutex)
    }

    @usableFromInline
    func unlock() {
        pthread_mutex_unlock(mutex)
    }
}
