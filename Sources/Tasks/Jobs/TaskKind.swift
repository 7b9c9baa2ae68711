/// The tasks the runner knows.
public enum TaskKind: String, Sendable, CaseIterable {
    /// Creates one contact with realistic random data.
    case createRandom = "create-random"
    /// Removes every contact older than the maximum age.
    case purgeExpired = "purge-expired"
}
