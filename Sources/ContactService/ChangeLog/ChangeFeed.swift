import ContactStore
import Dispatch
import Locking
import Synchronization

/// Which changes a subscription wants: `username_prefix` (matching the username or, on a rename,
/// the old one) and `exclude_authors`, both compared case-insensitively.
struct ChangeFilter: Sendable {
    /// Lowercased; nil matches every username.
    var usernamePrefix: [UInt8]?
    /// Lowercased author names.
    var excludedAuthors: Set<String>

    init(usernamePrefix: String?, excludeAuthors: [String]) {
        self.usernamePrefix = usernamePrefix.map { Array($0.lowercased().utf8) }
        self.excludedAuthors = Set(excludeAuthors.map { $0.lowercased() })
    }

    func matches(_ change: Change) -> Bool {
        if !excludedAuthors.isEmpty, excludedAuthors.contains(change.author.lowercased()) { return false }
        guard let prefix = usernamePrefix else { return true }
        return Self.hasPrefix(change.username, prefix) || change.oldUsername.map { Self.hasPrefix($0, prefix) } == true
    }

    /// Usernames are ASCII, so comparing ASCII-lowercased bytes is their case-insensitive rule.
    private static func hasPrefix(_ username: String, _ prefix: [UInt8]) -> Bool {
        var index = 0
        for byte in username.utf8 {
            if index == prefix.count { return true }
            let lower = byte >= 65 && byte <= 90 ? byte + 32 : byte
            if lower != prefix[index] { return false }
            index += 1
        }
        return index == prefix.count
    }
}

/// Where a subscription's changes go: the connection that made it (`ClientConnection`).
protocol ChangeSubscriber: AnyObject, Sendable {
    /// Changes for subscription `id`, in seq order, already filtered. `ready` is set while the
    /// subscription catches up from the log: call it once there is room for another page of
    /// `pageSize` changes, and the next page is read.
    func receive(subscription id: String, changes: [Change], ready: (@Sendable () -> Void)?)
    /// The subscription can no longer be followed (its backlog was pruned while it caught up).
    func lost(subscription id: String, reason: String)
}

/// The one reader of the change log for every subscription of the server, and its fan-out.
///
/// While nobody subscribes it does nothing at all: no thread, no timer, no connection. With
/// subscribers a thread looks every 50 ms at the WAL-index header (`CommitPoller`: two memory
/// reads) and the log is read only when some process has committed; a commit of this process
/// wakes it at once (`ContactStore.onCommit`). Each new change is read once and handed to every matching
/// subscription's connection, one hop per connection and read, never waiting for any of them:
/// each connection queues and caps what it is given (`ClientConnection`), so a subscriber that
/// does not read holds back no writer and no other subscriber.
///
/// A subscription that starts behind the head (`since`) catches up from the log a page at a
/// time, the next page read only once its connection has room for it, then joins the live
/// fan-out at the seq where its reads ended: no gap, no duplicate.
// @unchecked Sendable: every mutable property but `counted`, `wakeRequested` and `nextKey`
// (atomics) is read and written only on `queue`.
final class ChangeFeed: @unchecked Sendable {
    /// How often the header is checked while anyone subscribes.
    static let pollMilliseconds = 50
    /// Most changes read from the log at once.
    static let readLimit = 1000

    private struct Subscription {
        weak var subscriber: (any ChangeSubscriber)?
        let id: String
        let filter: ChangeFilter
        /// Every change up to this seq has been handed over (or filtered out).
        var cursor: Int64
        /// Follows the live fan-out (else still catching up from the log).
        var live: Bool
        /// Catching up, and waiting for its connection to have room for the next page.
        var waitingForRoom: Bool
    }

    private let store: ContactStore
    private let queue = DispatchQueue(label: "contacts.changes.feed", target: .global())  // not the overcommit pool: see UnixSocketServer.acceptQueue
    /// A catching-up subscription's page: half its queue, so a page always fits beside the last.
    let pageSize: Int
    private var subscriptions: [Int: Subscription] = [:]
    /// The newest seq read and fanned out.
    private var head: Int64 = 0
    /// Polls for other processes' commits while anyone subscribes.
    private var poller: CommitPoller?
    /// Pollers told to stop whose threads may not have ended yet (`close` waits for them).
    private var retired: [CommitPoller] = []
    private var closed = false
    /// The keys of the open subscriptions, as `server.stats` counts them: updated at once by
    /// `subscribe` and `unsubscribe` (not when the queue gets to them), so a closed connection's
    /// subscriptions are out of the count by the time the connection is.
    private let counted = LockedValue<Set<Int>>([])
    private let wakeRequested = Atomic<Bool>(false)
    private let nextKey = Atomic<Int>(1)

    /// - Parameter maxQueue: `--max-subscription-queue`.
    init(store: ContactStore, maxQueue: Int) {
        self.store = store
        self.pageSize = max(1, min(Self.readLimit, maxQueue / 2))
    }

    /// Subscriptions open now, on every connection.
    var activeCount: Int { counted.withLock { $0.count } }

    /// A key for a new subscription, unique in this server.
    func makeKey() -> Int { nextKey.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// Starts delivering to `subscriber` the changes after `cursor` that pass `filter`.
    func subscribe(
        key: Int, id: String, subscriber: any ChangeSubscriber, filter: ChangeFilter, after cursor: Int64
    ) {
        counted.withLock { _ = $0.insert(key) }
        queue.async { [self] in
            guard !closed else {
                counted.withLock { _ = $0.remove(key) }
                return
            }
            if subscriptions.isEmpty { startWatching() }
            let live = cursor >= head
            subscriptions[key] = Subscription(
                subscriber: subscriber, id: id, filter: filter, cursor: cursor, live: live, waitingForRoom: false)
            if !live { catchUp(key) }
        }
    }

    /// Ends a subscription (unsubscribed, dropped, or its connection closed).
    func unsubscribe(keys: [Int]) {
        guard !keys.isEmpty else { return }
        counted.withLock { for key in keys { $0.remove(key) } }
        queue.async { [self] in
            for key in keys { subscriptions.removeValue(forKey: key) }
            if subscriptions.isEmpty { stopWatching() }
        }
    }

    /// Stops for good (the server is stopping): the probe's connection closes before the store.
    func close() {
        queue.sync {
            closed = true
            counted.withLock { $0.removeAll() }
            subscriptions.removeAll()
            stopWatching()
            // Their probes' connections must be closed before the store is.
            for poller in retired { poller.waitUntilFinished() }
            retired.removeAll()
        }
        store.onCommit(nil)
    }

    // MARK: Watching

    private func startWatching() {
        head = (try? store.changeLogBounds().head) ?? head
        store.onCommit { [weak self] in self?.wake() }
        retired.removeAll { $0.hasFinished }
        poller = CommitPoller(store: store, intervalMilliseconds: Self.pollMilliseconds) { [weak self] in
            self?.wake()
        }
    }

    private func stopWatching() {
        store.onCommit(nil)
        if let poller {
            poller.stop()
            retired.append(poller)
        }
        poller = nil
    }

    /// A commit (of this process, or one the poller saw): read now, once however many ask meanwhile.
    private func wake() {
        guard !wakeRequested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.async { [self] in
            wakeRequested.store(false, ordering: .releasing)
            readNew()
        }
    }

    // MARK: Reading and fan-out

    /// Reads the changes after `head` and hands each live subscription those it wants.
    private func readNew() {
        guard !subscriptions.isEmpty else { return }
        while true {
            let page: ChangePage
            do {
                page = try store.changes(ChangeQuery(since: head, limit: Self.readLimit))
            } catch .changesGone(_, _, let newHead) {
                // Pruned past the feed itself (or another database): nobody can be followed on.
                for key in Array(subscriptions.keys) { lose(key, reason: "pruned") }
                head = newHead
                return
            } catch {
                return  // closed, or a database error: the next tick tries again
            }
            let previous = head
            head = max(head, page.next)
            for (key, subscription) in subscriptions where subscription.live {
                let wanted = page.changes.filter { $0.seq > subscription.cursor && subscription.filter.matches($0) }
                subscriptions[key]?.cursor = max(subscription.cursor, head)
                if !wanted.isEmpty {
                    subscription.subscriber?.receive(subscription: subscription.id, changes: wanted, ready: nil)
                }
            }
            if page.changes.count < Self.readLimit || head == previous { return }
        }
    }

    /// Hands a catching-up subscription its next page of the log, up to `head`; once it has
    /// read up to `head` it joins the live fan-out.
    private func catchUp(_ key: Int) {
        // Pages that the filter empties are skipped without waiting for the connection.
        while let subscription = subscriptions[key], !subscription.live, !subscription.waitingForRoom {
            let page: ChangePage
            do {
                page = try store.changes(ChangeQuery(since: subscription.cursor, limit: pageSize))
            } catch .changesGone {
                return lose(key, reason: "pruned")
            } catch {
                // Closed or failing: try again shortly rather than lose the subscription.
                queue.asyncAfter(deadline: .now() + .milliseconds(Self.pollMilliseconds)) { [self] in catchUp(key) }
                return
            }
            let upToHead = page.changes.prefix { $0.seq <= head }
            let reachedHead =
                upToHead.count < page.changes.count || page.changes.count < pageSize
                || upToHead.last?.seq == head
            let wanted = upToHead.filter { subscription.filter.matches($0) }
            if reachedHead {
                subscriptions[key]?.live = true
                subscriptions[key]?.cursor = head
                if !wanted.isEmpty {
                    subscription.subscriber?.receive(subscription: subscription.id, changes: wanted, ready: nil)
                }
                return
            }
            subscriptions[key]?.cursor = upToHead.last?.seq ?? subscription.cursor
            if wanted.isEmpty { continue }
            subscriptions[key]?.waitingForRoom = true
            subscription.subscriber?.receive(
                subscription: subscription.id, changes: wanted,
                ready: { [weak self] in
                    self?.queue.async { [weak self] in
                        guard let self else { return }
                        subscriptions[key]?.waitingForRoom = false
                        catchUp(key)
                    }
                })
        }
    }

    /// Ends a subscription the feed can no longer follow, telling its connection.
    private func lose(_ key: Int, reason: String) {
        guard let subscription = subscriptions.removeValue(forKey: key) else { return }
        counted.withLock { _ = $0.remove(key) }
        subscription.subscriber?.lost(subscription: subscription.id, reason: reason)
        if subscriptions.isEmpty { stopWatching() }
    }
}
