import ContactClient
import Dispatch
import Glibc
import JSONRPC
import Locking

/// `contacts watch`: follows the change log live through `contacts.subscribe`, printing each
/// change once. After the server goes away (a restart) or drops the subscription, it subscribes
/// again from the last seq it printed, so nothing is missed and nothing is printed twice.
struct ChangeWatcher {
    var socketPath: String
    /// How long to wait for each answer (the wait for changes has no limit).
    var timeout: Double
    var since: Int?
    var prefix: String?
    var excludeAuthors: [String]
    var json: Bool

    /// The first pause before connecting again after losing the server; it doubles up to `lastRetry`.
    static let firstRetry = 0.1
    static let lastRetry = 5.0

    /// Where the watch stands between connections.
    private struct Progress {
        /// The last seq printed, or the seq the watch started after: the next subscription's `since`.
        var resumeFrom: Int?
        /// Set once a subscription has worked: from then on, a lost server is waited for.
        var subscribedOnce = false
        /// Set while the server is gone, so the outage is reported once.
        var lost = false
    }

    /// Runs until a stop signal (which exits 0) or a failure (thrown, with its exit status).
    func run() throws {
        let output = LineOutput()
        var progress = Progress(resumeFrom: since)
        var delay = Self.firstRetry
        while true {
            do throws(ClientError) {
                let client = try ContactClient(socketPath: socketPath, readTimeout: timeout)
                try follow(client, output: output, progress: &progress, delay: &delay)
            } catch .server(let rpc) where rpc.code == 410 {
                throw CLIFailure(gone: rpc, follow: "contacts watch --since HEAD")
            } catch let error where error.isUnreachable && progress.subscribedOnce {
                // Fall through to wait and reconnect.
            } catch {
                throw CLIFailure(error, socket: socketPath)
            }
            if !progress.lost {
                progress.lost = true
                output.error("contacts: lost the server at \(socketPath); reconnecting…")
            }
            usleep(UInt32(delay * 1_000_000))
            delay = min(delay * 2, Self.lastRetry)
        }
    }

    /// Subscribes on `client` and prints what arrives until the server closes the connection;
    /// subscribes again when the server drops the subscription.
    private func follow(_ client: ContactClient, output: LineOutput, progress: inout Progress, delay: inout Double)
        throws(ClientError)
    {
        while true {
            let subscription = try client.subscribe(
                since: progress.resumeFrom, usernamePrefix: prefix, excludeAuthors: excludeAuthors)
            if progress.subscribedOnce, let resumeFrom = progress.resumeFrom {
                output.error("contacts: resubscribed from seq \(resumeFrom)")
            }
            progress.resumeFrom = progress.resumeFrom ?? subscription.headSeq
            progress.subscribedOnce = true
            progress.lost = false
            delay = Self.firstRetry
            guard let reason = try printChanges(client, of: subscription, output: output, progress: &progress) else {
                return
            }
            output.error(
                "contacts: the server dropped the subscription (\(reason)); "
                    + "resubscribing from seq \(progress.resumeFrom ?? 0)")
        }
    }

    /// Prints the changes of `subscription` as they come; returns the reason when the server
    /// drops it, nil when it closes the connection.
    private func printChanges(
        _ client: ContactClient, of subscription: Subscription, output: LineOutput, progress: inout Progress
    ) throws(ClientError) -> String? {
        while true {
            let notification: ServerNotification?
            do throws(ClientError) {
                notification = try client.nextNotification()
            } catch .timedOut {
                // No change for a while is no failure: keep waiting.
                continue
            }
            guard let notification else { return nil }
            switch SubscriptionEvent(notification) {
            case .changed(let id, let changes) where id == subscription.id:
                for change in changes {
                    // Never print a change twice, even if a resumed subscription repeated one.
                    guard let seq = SubscriptionEvent.seq(of: change), seq > progress.resumeFrom ?? -1 else { continue }
                    output.print(json ? change.jsonString : Render.change(change))
                    progress.resumeFrom = seq
                }
            case .dropped(let id, _, let reason) where id == subscription.id:
                // The server's last_seq may be past what was printed; resume from the printed one.
                return reason
            default:
                continue
            }
        }
    }
}

/// Output lines that a stop signal never cuts: SIGINT or SIGTERM ends the process with status 0,
/// between two lines.
final class LineOutput: @unchecked Sendable {
    // @unchecked Sendable: `sources` is written once in init and only keeps the signal sources
    // alive; the output itself is serialized by `lock`, which the signal handler takes to exit.
    /// Lines written so far. Not `LockedValue(())`: ThreadSanitizer reports Swift's access to a
    /// zero-sized value as a race with the lock's own fields (a false report, but a report).
    private let lock = LockedValue(0)
    private let queue = DispatchQueue(label: "contacts.watch.signals")
    private var sources: [any DispatchSourceSignal] = []

    init() {
        // Blocked in this thread (threads started later inherit the mask), then ignored, so the
        // signals wait for the Dispatch sources instead of being discarded (as StopSignals does).
        var blocked = sigset_t()
        sigemptyset(&blocked)
        for signalNumber in [SIGINT, SIGTERM] { sigaddset(&blocked, signalNumber) }
        pthread_sigmask(SIG_BLOCK, &blocked, nil)
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [lock] in lock.withLock { (_: inout Int) -> Void in exit(0) } }
            source.activate()
            sources.append(source)
        }
    }

    /// Prints a line on stdout.
    func print(_ line: String) {
        lock.withLock { lines in
            Terminal.output(line)
            lines += 1
        }
    }

    /// Prints a line on stderr.
    func error(_ line: String) {
        lock.withLock { lines in
            Terminal.error(line)
            lines += 1
        }
    }
}
