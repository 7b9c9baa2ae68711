import ContactStore
import Foundation

/// A throwaway store for building the method registry in-process.
enum ContactStoreForTests {
    static func make() throws -> ContactStore {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("registry-\(UUID().uuidString).db").path
        return try ContactStore(path: path)
    }
}
