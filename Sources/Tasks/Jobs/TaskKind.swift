/// The tasks the runner knows.
public enum TaskKind: String, Sendable, CaseIterable {
    /// Creates one contact with realistic random data.
    case createRandom = "create-random"
    /// Removes every contact older than the maximum age.
    case purgeExpired = "purge-expired"
    /// Writes a backup of the database and removes the oldest beyond `--backup-keep` (off by default).
    case backup
}
