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
