import ContactStore
import JSONRPC

/// The subscriptions of one connection and the changes queued for each, owned by the
/// connection (touched only on its queue).
///
/// A subscription's queue is every change given to it that the socket has not taken yet: those
/// still pending here and those in notifications waiting in the connection's output. It holds
/// at most `maxQueue` changes (`--max-subscription-queue`); one more drops the subscription.
/// Notifications are made from the pending changes only between whole reply lines, and only
/// while the connection's output is under its cap (`--max-connection-output`), so they count
/// within it; a drop notice is queued whatever the output holds (its room is reserved).
struct SubscriptionQueues {
    /// Most changes in one `contacts.changed` notification.
    static let maxBatch = 100

    struct Entry {
        /// The feed's key for it.
        let key: Int
        var pending: [Change] = []
        /// Changes in notifications that are in the output and not yet taken by the socket.
        var unsent = 0
        /// The last seq put into a notification (or where it started): `last_seq` of a drop.
        var lastSeq: Int64
        /// Set once it is dropped: the reason its notice gives. Nothing more is queued for it.
        var dropReason: String?
        /// While catching up: called once the queue has room for another page.
        var ready: (@Sendable () -> Void)?
    }

    private(set) var entries: [String: Entry] = [:]
    /// Ids in the order they were made, so notifications go out in a stable order.
    private var order: [String] = []
    private var nextNumber = 1
    /// Output offsets at which each notification ends, with how many changes of which
    /// subscription it carries; popped as the socket takes the bytes.
    private var marks: [(end: Int, id: String, count: Int)] = []
    private var markHead = 0
    let maxQueue: Int
    /// A catching-up page (`ChangeFeed.pageSize`): `ready` is called once it fits.
    let pageSize: Int

    init(maxQueue: Int, pageSize: Int) {
        self.maxQueue = maxQueue
        self.pageSize = pageSize
    }

    var isEmpty: Bool { entries.isEmpty }

    /// Every key, for the feed when the connection closes.
    var keys: [Int] { entries.values.map(\.key) }

    /// A new subscription; returns its id (unique on this connection).
    mutating func add(key: Int, startingAt seq: Int64) -> String {
        let id = "s\(nextNumber)"
        nextNumber += 1
        entries[id] = Entry(key: key, lastSeq: seq)
        order.append(id)
        return id
    }

    /// Removes a subscription at once (unsubscribed); its key, or nil for an unknown id.
    mutating func remove(_ id: String) -> Int? {
        guard let entry = entries.removeValue(forKey: id) else { return nil }
        order.removeAll { $0 == id }
        return entry.key
    }

    /// Queues changes for `id`. Returns the key of the subscription when this drops it (its
    /// queue would pass `maxQueue`), for the feed to forget.
    mutating func receive(_ id: String, _ changes: [Change], ready: (@Sendable () -> Void)?) -> Int? {
        guard var entry = entries[id], entry.dropReason == nil else { return nil }
        if entry.pending.count + entry.unsent + changes.count > maxQueue {
            entry.pending = []
            entry.ready = nil
            entry.dropReason = "queue_full"
            entries[id] = entry
            return entry.key
        }
        entry.pending += changes
        if let ready { entry.ready = ready }
        entries[id] = entry
        return nil
    }

    /// Marks `id` dropped for `reason` (its notice goes out at the next line boundary).
    mutating func drop(_ id: String, reason: String) {
        guard entries[id]?.dropReason == nil else { return }
        entries[id]?.pending = []
        entries[id]?.ready = nil
        entries[id]?.dropReason = reason
    }

    /// Ids of the live subscriptions whose changes are waiting (pending or unsent).
    var waiting: [String] {
        order.filter { id in entries[id].map { $0.dropReason == nil && ($0.pending.count + $0.unsent) > 0 } ?? false }
    }

    /// Makes notifications from what is pending, at a line boundary: drop notices always, changes
    /// while `hasRoom()`; `append` queues each line for sending and returns the output offset
    /// where it ends. Returns the `ready` callbacks now due (call them after).
    mutating func emit(hasRoom: () -> Bool, append: ([UInt8]) -> Int) -> [@Sendable () -> Void] {
        for id in order {
            guard var entry = entries[id] else { continue }
            if let reason = entry.dropReason {
                _ = append(Self.dropNotice(id, lastSeq: entry.lastSeq, reason: reason))
                entries[id] = nil
                continue
            }
            var sent = 0
            while sent < entry.pending.count, hasRoom() {
                let batch = entry.pending[sent..<min(sent + Self.maxBatch, entry.pending.count)]
                let end = append(Self.notification(id, batch))
                marks.append((end, id, batch.count))
                entry.unsent += batch.count
                entry.lastSeq = batch.last!.seq
                sent += batch.count
            }
            if sent > 0 { entry.pending.removeFirst(sent) }
            entries[id] = entry
        }
        order.removeAll { entries[$0] == nil }
        return takeReady()
    }

    /// The socket has taken the output up to offset `sent`: the changes of the notifications
    /// that ended by then leave their queues. Returns the `ready` callbacks now due (call them
    /// after): room made here is the only room a catching-up subscription gets once its output
    /// has gone, since nothing else emits for it until its next page arrives.
    mutating func taken(upTo sent: Int) -> [@Sendable () -> Void] {
        while markHead < marks.count, marks[markHead].end <= sent {
            let mark = marks[markHead]
            entries[mark.id]?.unsent -= mark.count
            markHead += 1
        }
        if markHead == marks.count {
            marks.removeAll(keepingCapacity: true)
            markHead = 0
        } else if markHead > 64 {
            marks.removeFirst(markHead)
            markHead = 0
        }
        return takeReady()
    }

    /// Takes the `ready` callback of each catching-up subscription whose queue has room for
    /// another page, so each is called once.
    private mutating func takeReady() -> [@Sendable () -> Void] {
        var due: [@Sendable () -> Void] = []
        for id in order {
            guard let entry = entries[id], entry.dropReason == nil, let ready = entry.ready,
                entry.pending.count + entry.unsent + pageSize <= maxQueue
            else { continue }
            entries[id]?.ready = nil
            due.append(ready)
        }
        return due
    }

    /// `{"jsonrpc":"2.0","method":"contacts.changed","params":{"subscription":ID,"changes":[…]}}` and a newline.
    static func notification(_ id: String, _ changes: ArraySlice<Change>) -> [UInt8] {
        var writer = JSONWriter(capacity: 96 + changes.count * 320)
        writer.writeRaw("{\"jsonrpc\":\"2.0\",\"method\":\"contacts.changed\",\"params\":{\"subscription\":")
        writer.writeString(id)
        writer.writeRaw(",\"changes\":[")
        for (index, change) in changes.enumerated() {
            if index > 0 { writer.writeRaw(",") }
            change.write(to: &writer)
        }
        writer.writeRaw("]}}\n")
        return writer.bytes
    }

    /// `{"jsonrpc":"2.0","method":"contacts.subscription_dropped","params":{…}}` and a newline.
    static func dropNotice(_ id: String, lastSeq: Int64, reason: String) -> [UInt8] {
        var writer = JSONWriter(capacity: 128)
        writer.writeRaw(
            "{\"jsonrpc\":\"2.0\",\"method\":\"contacts.subscription_dropped\",\"params\":{\"subscription\":")
        writer.writeString(id)
        writer.writeRaw(",\"last_seq\":")
        writer.writeInt(Int(lastSeq))
        writer.writeRaw(",\"reason\":")
        writer.writeString(reason)
        writer.writeRaw("}}\n")
        return writer.bytes
    }
}
