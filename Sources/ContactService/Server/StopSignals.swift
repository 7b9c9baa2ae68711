import Dispatch
import Logging
import Locking

import Glibc

/// SIGINT and SIGTERM, caught from the moment this is created, so that a stop signal at any
/// moment of startup is honoured: it is remembered until the server runs, which then stops at
/// once (cleanly). A second signal while stopping ends the process at once with status 128 plus
/// the signal number, after a last log line.
///
/// The signals are blocked in the creating thread before anything else starts (threads created
/// later inherit the mask) and then ignored, so none is lost or delivered to a thread as its
/// default action; `DispatchSourceSignal` receives them.
// @unchecked Sendable: `sources` (non-Sendable Dispatch protocol types) is written once in init
// and only keeps the sources alive; the mutable state is behind a lock (LockedValue).
public final class StopSignals: @unchecked Sendable {
    private enum State {
        /// Starting up: remembers the first signal until the server runs.
        case starting(received: Int32?)
        /// Running: the first signal calls `stop`.
        case running(stop: @Sendable (String) -> Void)
        /// A stop signal has been handled: another one exits at once.
        case stopping
    }

    private let state = LockedValue(State.starting(received: nil))
    private let queue = DispatchQueue(label: "contacts.signals", target: .global())
    private let logger: Logger
    private let exit: @Sendable (Int32) -> Void
    private var sources: [any DispatchSourceSignal] = []

    /// Starts catching SIGINT and SIGTERM. Create it first thing in `main`, before other threads start.
    /// - Parameter exit: ends the process with a status (after a second signal).
    public init(logger: Logger, exit: @escaping @Sendable (Int32) -> Void = { Glibc.exit($0) }) {
        self.logger = logger
        self.exit = exit
        var blocked = sigset_t()
        sigemptyset(&blocked)
        for signalNumber in [SIGTERM, SIGINT] { sigaddset(&blocked, signalNumber) }
        pthread_sigmask(SIG_BLOCK, &blocked, nil)
        // A process started with these signals blocked (its parent had them blocked) may have one
        // pending already; setting SIG_IGN discards it, so take note of it first.
        var pending = sigset_t()
        sigpending(&pending)
        if let early = [SIGTERM, SIGINT].first(where: { sigismember(&pending, $0) == 1 }) {
            state.withLock { $0 = .starting(received: early) }
            logger.info("\(Self.name(of: early)) received during startup: stopping as soon as started")
        }
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [self] in received(signalNumber) }
            source.activate()
            sources.append(source)
        }
    }

    /// Calls `stop` with the signal's name on the first SIGINT or SIGTERM, at once if one came
    /// during startup. Call once, when the server runs.
    public func whenSignalled(_ stop: @escaping @Sendable (String) -> Void) {
        queue.async { [self] in
            let early: Int32? = state.withLock { state in
                guard case .starting(let received) = state else { return nil }
                state = received == nil ? .running(stop: stop) : .stopping
                return received
            }
            if let early { stop(Self.name(of: early)) }
        }
    }

    private enum Action {
        case remember
        case stop(@Sendable (String) -> Void)
        case exitNow
    }

    private func received(_ signalNumber: Int32) {
        let name = Self.name(of: signalNumber)
        let action: Action = state.withLock { state in
            switch state {
            case .starting(nil):
                state = .starting(received: signalNumber)
                return .remember
            case .running(let stop):
                state = .stopping
                return .stop(stop)
            case .starting, .stopping:
                return .exitNow
            }
        }
        switch action {
        case .remember:
            logger.info("\(name) received during startup: stopping as soon as started")
        case .stop(let stop):
            stop(name)
        case .exitNow:
            logger.warning("second \(name) received while stopping: exiting at once with status \(128 + signalNumber)")
            exit(128 + signalNumber)
        }
    }

    private static func name(of signalNumber: Int32) -> String {
        signalNumber == SIGTERM ? "SIGTERM" : "SIGINT"
    }
}
