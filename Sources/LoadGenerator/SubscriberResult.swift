/// What the subscriber beside a load saw (`LoadConfiguration.subscriber`): every change from the
/// head before the load (warm-up included) to the head after it.
public struct SubscriberResult: Sendable {
    /// The newest seq just before the load started: the subscription's `since`.
    public var headBefore = 0
    /// The newest seq once the load had ended.
    public var headAfter = 0
    /// Changes received, each seq counted once (a seq at or below one already seen is not).
    public var received = 0
    /// Times a change's seq was not the one after the previous change's (a hole, a repeat or a
    /// change out of order).
    public var gaps = 0
    /// The server dropped the subscription (`contacts.subscription_dropped`), with this reason.
    public var droppedReason: String?
    /// From the change's `at` (the writer's wall clock just before its group commit, in whole
    /// milliseconds) to the wall clock when the notification's line was read, for every change
    /// received, warm-up and the drain after the load included.
    public var latency = LatencyHistogram()
    /// Changes whose notification arrived within the load's measured window.
    public var receivedInWindow = 0
    /// The measured window's length, in seconds.
    public var windowSeconds: Double = 0

    /// Changes committed while the subscriber followed the load.
    public var expected: Int { headAfter - headBefore }
    /// Changes committed but not received.
    public var missing: Int { max(0, expected - received) }
    /// The server dropped the subscription.
    public var dropped: Bool { droppedReason != nil }
    /// Changes delivered per second within the measured window (comparable with the load's req/s).
    public var changesPerSecond: Double { windowSeconds > 0 ? Double(receivedInWindow) / windowSeconds : 0 }
}
