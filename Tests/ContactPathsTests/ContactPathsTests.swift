import Foundation
import Testing

@testable import ContactPaths

@Suite("default paths")
struct ContactPathsTests {
    @Test("a flag wins over the environment, which wins over the default")
    func precedence() {
        let env = ["CONTACTS_SOCKET": "/env/s.sock", "CONTACTS_DB": "/env/c.db", "XDG_RUNTIME_DIR": "/run/user/7"]
        #expect(ContactPaths.socket(flag: "/flag.sock", environment: env) == "/flag.sock")
        #expect(ContactPaths.socket(environment: env) == "/env/s.sock")
        #expect(ContactPaths.database(flag: "/flag.db", environment: env) == "/flag.db")
        #expect(ContactPaths.database(environment: env) == "/env/c.db")
    }

    @Test("the socket lives under XDG_RUNTIME_DIR, else in a per-uid directory in /tmp")
    func socketDefault() {
        #expect(ContactPaths.socket(environment: ["XDG_RUNTIME_DIR": "/run/user/7"]) == "/run/user/7/contacts/contactsd.sock")
        #expect(ContactPaths.socket(environment: [:]) == "/tmp/contacts-\(getuid())/contactsd.sock")
    }

    @Test("a client without a per-user socket file uses the system socket; a flag or CONTACTS_SOCKET is never replaced")
    func clientFallsBackToSystemSocket() {
        let env = ["XDG_RUNTIME_DIR": "/run/user/7"]
        let user = "/run/user/7/contacts/contactsd.sock"
        #expect(ContactPaths.clientSocket(environment: env, exists: { $0 == user }) == user)
        #expect(ContactPaths.clientSocket(environment: env, exists: { _ in false }) == "/run/contacts/contactsd.sock")
        #expect(ContactPaths.clientSocket(flag: "/f.sock", environment: env, exists: { _ in false }) == "/f.sock")
        let named = ["CONTACTS_SOCKET": "/e.sock"]
        #expect(ContactPaths.clientSocket(environment: named, exists: { _ in false }) == "/e.sock")
        // The server side never falls back: it binds the per-user path.
        #expect(ContactPaths.socket(environment: env) == user)
    }

    @Test("the client's existence check sees any file at the per-user path, so a directory there is reported, not skipped")
    func clientSeesRealFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("paths-\(UUID().uuidString)")
        let socketDir = dir.appendingPathComponent("contacts")
        try FileManager.default.createDirectory(at: socketDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["XDG_RUNTIME_DIR": dir.path]
        #expect(ContactPaths.clientSocket(environment: env) == ContactPaths.systemSocket)
        try FileManager.default.createDirectory(
            at: socketDir.appendingPathComponent("contactsd.sock"), withIntermediateDirectories: false)
        #expect(ContactPaths.clientSocket(environment: env) == socketDir.appendingPathComponent("contactsd.sock").path)
    }

    @Test("the database lives under XDG_DATA_HOME, else ~/.local/share")
    func databaseDefault() {
        #expect(ContactPaths.database(environment: ["XDG_DATA_HOME": "/d"]) == "/d/contacts/contacts.db")
        #expect(ContactPaths.database(environment: ["HOME": "/home/u"]) == "/home/u/.local/share/contacts/contacts.db")
    }

    @Test("backups go to --backup-dir, else to backups/ beside the database")
    func backupDirectory() {
        #expect(ContactPaths.backupDirectory(flag: "/b", database: "/d/c.db") == "/b")
        #expect(ContactPaths.backupDirectory(database: "/d/c.db") == "/d/backups")
        #expect(ContactPaths.backupDirectory(database: "/c.db") == "/backups")
        #expect(ContactPaths.backupDirectory(database: "c.db") == "backups")
    }
}
