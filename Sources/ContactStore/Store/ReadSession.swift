/// One read transaction held across several reads: every read given this session sees the same
/// snapshot and skips the pool. The server opens one for a run of pipelined requests or a batch
/// (`ContactStore.withReadSession`) and passes it to each read explicitly.
///
/// Valid only inside the `withReadSession` call that made it, on the thread that runs it; a read
/// given a session that has ended (or belongs to another store) takes a reader of its own. The
/// session takes its reader when a read first uses it. Every read of the run must be given it:
/// a read without it on the same thread would wait for a second reader while holding one.
// @unchecked Sendable: a session crosses no thread while it is open. It is made, used and ended
// on the thread that runs `withReadSession` (it travels with the requests of one run only as a
// value in their params); after the scope `isOpen` is false and reads ignore it.
public final class ReadSession: @unchecked Sendable {
    let pool: ObjectIdentifier
    /// The reader, once a read has used the session.
    var entry: ReaderPool.Entry?
    /// False once the scope has ended.
    var isOpen = true

    init(pool: ObjectIdentifier) {
        self.pool = pool
    }
}
