import Foundation

@testable import ContactStore

/// Runs `body` with a store on a fresh SQLite file in a temporary directory, then removes it.
func withTemporaryStore<T>(_ body: (ContactStore, String) throws -> T) throws -> T {
    try withTemporaryDatabasePath("contacts.db") { path in
        let store = try ContactStore(path: path)
        defer { store.close() }
        return try body(store, path)
    }
}

/// Runs `body` with the path of a database file named `name` (not created) in a fresh directory,
/// removed afterwards.
func withTemporaryDatabasePath<T>(_ name: String, _ body: (String) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try body(directory.appendingPathComponent(name).path)
}

/// Writes a database at an old schema `version` (its first migrations only) holding `data`
/// (SQL run in one transaction), as an older release would have left it.
func writeDatabase(at path: String, version: Int, data: String) throws {
    let db = try SQLiteConnection(path: path)
    try db.execute("PRAGMA journal_mode = WAL")
    for migration in Schema.migrations.prefix(version) { try migration.apply(to: db) }
    try db.execute("BEGIN;\n\(data)\n;PRAGMA user_version = \(version); COMMIT;")
}

/// Opens (and closes) `count` stores on `path` at the same moment; returns the ones that failed.
func openConcurrently(_ path: String, count: Int, options: StoreOptions = StoreOptions()) -> [String] {
    let failures = ResultsBox()
    DispatchQueue.concurrentPerform(iterations: count) { index in
        do throws(StoreError) {
            let store = try ContactStore(path: path, options: options)
            store.close()
        } catch {
            failures.append("\(index)", .failure(error))
        }
    }
    return failures.failures
}

func newContact(_ username: String, emails: [String] = []) throws -> NewContact {
    try NewContact(username: username, firstName: "First", lastName: "Last", emails: emails)
}
