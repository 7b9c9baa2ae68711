import Foundation

@testable import ContactStore

/// Runs `body` with a store on a fresh SQLite file in a temporary directory, then removes it.
func withTemporaryStore<T>(_ body: (ContactStore, String) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("contacts.db").path
    let store = try ContactStore(path: path)
    defer { store.close() }
    return try body(store, path)
}

func newContact(_ username: String, emails: [String] = []) throws -> NewContact {
    try NewContact(username: username, firstName: "First", lastName: "Last", emails: emails)
}
