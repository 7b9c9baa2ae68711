/// Which contacts `purge-expired` removes once they are older than `--max-age`.
public enum PurgeScope: String, Sendable, CaseIterable {
    /// Every contact, the user's own included (the seed's periodic task did this).
    case all
    /// Only the contacts `create-random` made.
    case generated
}
