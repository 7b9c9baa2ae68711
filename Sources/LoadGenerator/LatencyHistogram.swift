/// Fixed log-linear latency buckets (HdrHistogram-style, 3 significant bits of sub-buckets):
/// constant memory, O(1) record, percentiles within ~6% of the true value.
public struct LatencyHistogram: Sendable {
    private static let subBits = 4
    private static let subCount = 1 << subBits
    private var counts = [UInt64](repeating: 0, count: 64 * (1 << 4))
    /// Samples recorded.
    public private(set) var total: UInt64 = 0
    /// Largest sample, in nanoseconds.
    public private(set) var max: UInt64 = 0

    /// An empty histogram.
    public init() {}

    /// Records one latency in nanoseconds.
    public mutating func record(nanoseconds value: UInt64) {
        counts[Self.index(value)] += 1
        total += 1
        if value > max { max = value }
    }

    /// Adds another histogram's samples.
    public mutating func merge(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] += other.counts[index] }
        total += other.total
        max = Swift.max(max, other.max)
    }

    /// The latency at quantile `q` (0...1), in nanoseconds (upper edge of its bucket).
    public func percentile(_ q: Double) -> UInt64 {
        guard total > 0 else { return 0 }
        let rank = UInt64((Double(total) * q).rounded(.up))
        var seen: UInt64 = 0
        for (index, count) in counts.enumerated() where count > 0 {
            seen += count
            if seen >= rank { return Swift.min(Self.upperEdge(index), max) }
        }
        return max
    }

    private static func index(_ value: UInt64) -> Int {
        if value < UInt64(subCount) { return Int(value) }
        let magnitude = 63 - value.leadingZeroBitCount  // >= subBits
        let shift = magnitude - subBits
        let sub = Int((value >> UInt64(shift)) & UInt64(subCount - 1))
        return (shift + 1) * subCount + sub
    }

    private static func upperEdge(_ index: Int) -> UInt64 {
        if index < subCount { return UInt64(index) }
        let shift = index / subCount - 1
        let sub = UInt64(index % subCount) | UInt64(subCount)
        return ((sub + 1) << UInt64(shift)) - 1
    }
}
