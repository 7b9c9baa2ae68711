import Synchronization

/// Latency percentiles over a sliding window, in constant memory and without locks.
///
/// Fixed log buckets (4 per power of two, so a percentile is within ~19% of the truth) in two
/// generations of `period` seconds each: samples go to the current one, reads merge the current
/// and the previous one. A generation is cleared when it is reused. Counters are relaxed atomics:
/// stats may be off by the few requests that race a rotation, never by more.
final class LatencyWindow: Sendable {
    private final class Generation: Sendable {
        let epoch = Atomic<Int>(-1)
        let max = Atomic<Int>(0)
        let counts: InlineArray<176, Atomic<Int>> = InlineArray { _ in Atomic(0) }
    }

    private let generations = [Generation(), Generation()]
    private let period: UInt64

    /// A window of two generations of `periodSeconds` each.
    init(periodSeconds: UInt64 = 60) {
        period = periodSeconds * 1_000_000_000
    }

    /// Records one latency; `now` is the monotonic clock in nanoseconds.
    func record(nanoseconds: UInt64, now: UInt64) {
        let epoch = Int(now / period)
        let generation = generations[epoch & 1]
        let seen = generation.epoch.load(ordering: .relaxed)
        if seen != epoch, generation.epoch.compareExchange(expected: seen, desired: epoch, ordering: .relaxed).exchanged {
            for index in 0..<176 { generation.counts[index].store(0, ordering: .relaxed) }
            generation.max.store(0, ordering: .relaxed)
        }
        generation.counts[Self.bucket(nanoseconds)].wrappingAdd(1, ordering: .relaxed)
        let value = Int(clamping: nanoseconds)
        var current = generation.max.load(ordering: .relaxed)
        while value > current {
            let (exchanged, original) = generation.max.compareExchange(expected: current, desired: value, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
    }

    /// p50, p99 and max over the window, in nanoseconds (zero when empty).
    func summary(now: UInt64) -> (p50: UInt64, p99: UInt64, max: UInt64) {
        let epoch = Int(now / period)
        var counts = [Int](repeating: 0, count: 176)
        var maximum = 0
        for generation in generations {
            let seen = generation.epoch.load(ordering: .relaxed)
            guard seen == epoch || seen == epoch - 1 else { continue }
            for index in 0..<176 { counts[index] += generation.counts[index].load(ordering: .relaxed) }
            maximum = Swift.max(maximum, generation.max.load(ordering: .relaxed))
        }
        let total = counts.reduce(0, +)
        guard total > 0 else { return (0, 0, 0) }
        func percentile(_ q: Double) -> UInt64 {
            let rank = Int((Double(total) * q).rounded(.up))
            var seen = 0
            for (index, count) in counts.enumerated() {
                seen += count
                if seen >= rank { return Swift.min(Self.upperEdge(index), UInt64(maximum)) }
            }
            return UInt64(maximum)
        }
        return (percentile(0.5), percentile(0.99), UInt64(maximum))
    }

    static func bucket(_ value: UInt64) -> Int {
        if value < 4 { return Int(value) }
        let magnitude = 63 - value.leadingZeroBitCount
        let sub = Int((value >> UInt64(magnitude - 2)) & 3)
        return Swift.min(magnitude * 4 + sub, 175)
    }

    static func upperEdge(_ index: Int) -> UInt64 {
        if index < 4 { return UInt64(index) }
        let magnitude = index / 4
        let sub = UInt64(index % 4) | 4
        return ((sub + 1) << UInt64(magnitude - 2)) - 1
    }
}
