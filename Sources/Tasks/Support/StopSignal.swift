import Dispatch
import Locking

/// A one-way "please stop" flag that sleeping threads wake up for.
public final class StopSignal: Sendable {
    private let stopped = LockedValue(false)
    /// When `stop()` first ran (monotonic nanoseconds), 0 before.
    private let stoppedAt = LockedValue<UInt64>(0)
    private let wakeups = LockedValue<[DispatchSemaphore]>([])
    private let onStop = LockedValue<[@Sendable () -> Void]>([])

    /// A signal that has not fired yet.
    public init() {}

    /// True once `stop()` was called.
    public var isStopped: Bool { stopped.withLock { $0 } }

    /// Fires the signal: wakes every sleeper and runs the registered hooks (once).
    public func stop() {
        let first = stopped.withLock { value in
            defer { value = true }
            return !value
        }
        guard first else { return }
        stoppedAt.withLock { $0 = DispatchTime.now().uptimeNanoseconds }
        for semaphore in wakeups.withLock({ $0 }) { semaphore.signal() }
        for hook in onStop.withLock({ $0 }) { hook() }
    }

    /// Seconds since the signal fired (0 before it has).
    public var secondsSinceStop: Double {
        let at = stoppedAt.withLock { $0 }
        return at == 0 ? 0 : Double(DispatchTime.now().uptimeNanoseconds - at) / 1e9
    }

    /// Registers a hook to run when the signal fires (at once if it already has).
    public func whenStopped(_ hook: @escaping @Sendable () -> Void) {
        onStop.withLock { $0.append(hook) }
        if isStopped { hook() }
    }

    /// Sleeps up to `seconds`; returns true when woken by `stop()` (or already stopped).
    @discardableResult
    public func sleep(seconds: Double) -> Bool {
        if isStopped { return true }
        let semaphore = DispatchSemaphore(value: 0)
        wakeups.withLock { $0.append(semaphore) }
        defer { wakeups.withLock { $0.removeAll { $0 === semaphore } } }
        if isStopped { return true }
        _ = semaphore.wait(timeout: .now() + max(0, seconds))
        return isStopped
    }
}
