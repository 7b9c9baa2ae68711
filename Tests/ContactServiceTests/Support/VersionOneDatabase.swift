@testable import ContactStore

/// A database as the first release left it (schema version 1), with one contact, in WAL mode,
/// so opening it runs every later migration step.
func writeVersionOneDatabase(at path: String) throws {
    let db = try SQLiteConnection(path: path)
    try db.execute("PRAGMA journal_mode = WAL")
    try Schema.migrations[0].apply(to: db)
    try db.execute("""
        INSERT INTO contacts VALUES (1, 'old', 'Old', 'Timer', 1000, 2000, 3);
        INSERT INTO emails (contact_id, address, address_key) VALUES (1, 'old@example.com', 'old@example.com');
        PRAGMA user_version = 1;
        """)
}
