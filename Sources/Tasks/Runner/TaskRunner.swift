import ContactStore
import Dispatch
import Logging
import Redis

import Glibc

/// Runs the beat and/or workers of `contacts-tasks` until SIGINT or SIGTERM.
///
/// On a signal the beat stops, each worker finishes and acknowledges the job in hand, and
/// `run` returns (the executable then exits 0).
public final class TaskRunner: Sendable {
    /// Which parts run in this process.
    public struct Roles: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// The scheduler.
        public static let beat = Roles(rawValue: 1)
        /// The job workers.
        public static let worker = Roles(rawValue: 2)
    }

    private let configuration: TaskRunnerConfiguration
    private let logger: Logger
    /// Fires on SIGINT/SIGTERM, or when `stop()` is called.
    public let stopSignal = StopSignal()

    /// A runner; nothing starts until `run`.
    public init(configuration: TaskRunnerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Asks every part to stop.
    public func stop() { stopSignal.stop() }

    /// Runs `roles` until stopped; returns once every part has finished.
    /// - Throws: `StoreError` when the database cannot be opened.
    public func run(_ roles: Roles) throws(StoreError) {
        let signals = installSignalHandlers()
        defer { withExtendedLifetime(signals) {} }
        let done = DispatchGroup()
        var store: ContactStore?
        if roles.contains(.worker) {
            let opened = try ContactStore(path: configuration.databasePath)
            store = opened
            let executor = TaskExecutor(store: opened, maxAge: configuration.maxAge, seed: configuration.seed, logger: logger)
            for index in 0..<configuration.concurrency {
                let worker = Worker(
                    configuration: configuration, executor: executor, stop: stopSignal, logger: logger,
                    name: "\(Self.hostIdentity())-w\(index)")
                done.enter()
                let box = UncheckedBox(worker)
                BackgroundThread.start {
                    box.value.run()
                    done.leave()
                }
            }
        }
        if roles.contains(.beat) {
            let beat = Beat(configuration: configuration, stop: stopSignal, logger: logger, name: Self.hostIdentity())
            done.enter()
            let box = UncheckedBox(beat)
            BackgroundThread.start {
                box.value.run()
                done.leave()
            }
        }
        logger.info("contacts-tasks running", metadata: [
            "redis": "\(configuration.redis)", "database": "\(configuration.databasePath)",
            "prefix": "\(configuration.queuePrefix)",
        ])
        done.wait()
        store?.close()
        logger.info("stopped cleanly")
    }

    /// `hostname:pid`, naming this process in job records.
    static func hostIdentity() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "\(host):\(getpid())"
    }

    private func installSignalHandlers() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [stopSignal, logger] in
                logger.info("signal received: finishing the jobs in hand", metadata: ["signal": "\(number)"])
                stopSignal.stop()
            }
            source.activate()
            return source
        }
    }
}

/// Hands a thread-confined object to the one thread that will own it.
// @unchecked Sendable: the value is created here and then used only by the new thread.
private final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
