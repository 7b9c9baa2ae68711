/// Where the backup task writes, how often it is scheduled, and how many of its copies stay.
public struct BackupSettings: Sendable {
    /// The backup directory (`--backup-dir`).
    public var directory: String
    /// Copies with the default name kept after each backup (`--backup-keep`).
    public var keep: Int
    /// The schedule (`--backup-every`), which names a scheduled job's copy after its tick; nil
    /// when this runner schedules none.
    public var every: TaskDuration?

    /// Settings with the documented defaults: keep 7, no schedule.
    public init(directory: String, keep: Int = 7, every: TaskDuration? = nil) {
        self.directory = directory
        self.keep = max(1, keep)
        self.every = every
    }
}
