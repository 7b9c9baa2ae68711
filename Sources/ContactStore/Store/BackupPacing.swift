import Glibc
import MonotonicClock

/// How a backup paces itself: it works in slices (a step of the copy, a stretch of the check) and
/// rests after each, so that it takes at most `share` of one core while readers and writers go on.
///
/// Why a share of the time rather than a fixed pause: a step of 1 MiB takes from a fraction of a
/// millisecond to several, with the page cache and the machine's load; a fixed 1 ms pause left a
/// backup of a million contacts most of a core on two, and get p99 at 16 connections rose 3–4×
/// (docs/performance.md, "Backups under load").
public struct BackupPacing: Sendable {
    /// Pages copied per step: the snapshot is read and the copy written in chunks of this many.
    public var pagesPerStep: Int32
    /// The least pause after each slice, in microseconds.
    public var pauseMicroseconds: UInt32
    /// The largest part of the wall clock the backup works (0 < share ≤ 1): after a slice that
    /// worked `t`, it rests `t × (1 − share) / share`, and at least `pauseMicroseconds`.
    public var share: Double

    /// 256 pages (1 MiB at SQLite's default 4 KiB pages) a step, a quarter of a core, at least
    /// 1 ms of pause after each slice.
    public init(pagesPerStep: Int32 = 256, pauseMicroseconds: UInt32 = 1000, share: Double = 0.25) {
        self.pagesPerStep = max(1, pagesPerStep)
        self.pauseMicroseconds = pauseMicroseconds
        self.share = min(1, max(0.01, share))
    }

    /// Checking the copy (`PRAGMA quick_check`) rests once it has worked this long.
    static let checkSliceNanoseconds: UInt64 = 2_000_000

    /// Linux's `SCHED_IDLE`, which Swift's Glibc does not export (it needs `_GNU_SOURCE`).
    static let schedIdle: Int32 = 5

    /// The rest after a slice that worked `nanoseconds`.
    func restNanoseconds(afterWorking nanoseconds: UInt64) -> UInt64 {
        max(UInt64(pauseMicroseconds) * 1000, UInt64(Double(nanoseconds) * (1 - share) / share))
    }
}

/// Times the slices of one backup and rests after each (`BackupPacing`). Used from the backup's
/// own thread only.
struct BackupPacer {
    private let pacing: BackupPacing
    private var sliceStarted = MonotonicClock.nanoseconds()

    init(_ pacing: BackupPacing) {
        self.pacing = pacing
    }

    /// How long the current slice has worked.
    var worked: UInt64 { MonotonicClock.nanoseconds() - sliceStarted }

    /// Ends the current slice: rests as the pacing says, then starts the next.
    mutating func rest() {
        let rest = pacing.restNanoseconds(afterWorking: worked)
        var time = timespec(tv_sec: Int(rest / 1_000_000_000), tv_nsec: Int(rest % 1_000_000_000))
        var left = timespec()
        while nanosleep(&time, &left) != 0 && errno == EINTR { time = left }
        sliceStarted = MonotonicClock.nanoseconds()
    }
}

