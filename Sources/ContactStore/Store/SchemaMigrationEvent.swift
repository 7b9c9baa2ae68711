/// What `ContactStore` reports while it upgrades a database's schema on open
/// (`StoreOptions.onMigration`), so a server can tell its service manager that a long start is
/// progress, not a hang: an upgrade may rewrite whole tables (tens of seconds at a million contacts).
public enum SchemaMigrationEvent: Sendable, Equatable {
    /// An upgrade from `from` to `to` begins: the store now waits for the write lock, then applies the steps.
    case started(from: Int64, to: Int64)
    /// The step that brings the schema to `version` was applied (not yet committed).
    case applied(version: Int64)
    /// The upgrade ended: committed, found already done by another process, or failed.
    case finished
}
