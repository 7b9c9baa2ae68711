/// Exponential backoff with "equal" jitter: attempt n waits a random time in the upper half of
/// [0, min(cap, base·2ⁿ)], so a retry never comes right after a failure.
public struct Backoff: Sendable, Equatable {
    /// The first delay's upper bound.
    public var base: TaskDuration
    /// The largest delay.
    public var cap: TaskDuration

    /// A backoff from `base` up to `cap`.
    public init(base: TaskDuration, cap: TaskDuration) {
        self.base = base
        self.cap = cap
    }

    /// The upper bound for attempt `attempt` (0-based), before jitter.
    public func ceiling(attempt: Int) -> Int64 {
        let shift = min(attempt, 40)
        let grown = base.milliseconds.multipliedReportingOverflow(by: Int64(1) << shift)
        return grown.overflow ? cap.milliseconds : min(cap.milliseconds, grown.partialValue)
    }

    /// The delay in milliseconds for `attempt`, with jitter from `generator`. Never below half
    /// the ceiling, so retries do not hammer a dependency that just failed.
    public func delay(attempt: Int, using generator: inout some RandomNumberGenerator) -> Int64 {
        let ceiling = ceiling(attempt: attempt)
        guard ceiling > 1 else { return ceiling }
        return ceiling / 2 + Int64.random(in: 0...(ceiling - ceiling / 2), using: &generator)
    }
}
