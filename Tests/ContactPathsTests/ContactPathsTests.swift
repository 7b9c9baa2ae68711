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
