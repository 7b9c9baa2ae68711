/// What every connection is allowed, and the server-wide objects it reports to.
struct ConnectionSettings: Sendable {
    /// Longest request line (`--max-request-bytes`); also the cap on queued complete lines.
    var maxRequestBytes: Int
    /// Unsent output above which no further request runs on the connection (`--max-connection-output`).
    var maxOutputBytes: Int
    /// Nanoseconds that unsent output may stay unmoved before the connection is closed (`--write-timeout`).
    var writeTimeoutNanoseconds: UInt64
    /// Nanoseconds a partial line may wait for its next byte before the connection is closed (`--read-timeout`).
    var readTimeoutNanoseconds: UInt64
    /// The server-wide budget of unsent output (`--max-output-bytes`).
    var budget: OutputBudget
    /// Where limits are counted and logged.
    var limits: LimitEvents
    /// The server's one reader of the change log, for `contacts.subscribe`.
    var feed: ChangeFeed
    /// Most changes queued for one subscription (`--max-subscription-queue`).
    var maxSubscriptionQueue: Int
    /// A run of requests yields to other connections after this many requests…
    var yieldAfterRequests = 64
    /// …or after this long, whichever comes first.
    var yieldAfterNanoseconds: UInt64 = 10_000_000
}
