import Glibc

/// The one monotonic clock every module reads: nanoseconds since an arbitrary start, never going
/// back (vDSO on Linux: no system call).
public enum MonotonicClock {
    /// Now, in nanoseconds.
    @inline(__always)
    public static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
