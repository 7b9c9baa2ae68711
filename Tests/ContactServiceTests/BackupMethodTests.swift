import ContactStore
import Foundation
import JSONRPC
import TestSupport
import Testing

@Suite("server.backup and contacts backup against a real server")
struct BackupMethodTests {
    @Test("server.backup writes a private copy beside the database, returns its path, size and duration, and refuses to overwrite it")
    func backupOverTheSocket() throws {
        try withRunningServer { server in
            let client = try server.connect()
            #expect(try client.request("contacts.create", ["username": "ada", "first_name": "Ada", "last_name": "L"])["result"] != nil)
            let result = try #require(try client.request("server.backup", ["name": "first.db"])["result"])
            let path = server.directory.appendingPathComponent("backups/first.db").path
            #expect(result["path"]?.stringValue == path)
            #expect(result["name"]?.stringValue == "first.db")
            #expect(result["quick_check"]?.stringValue == "ok")
            #expect(result["duration_ms"]?.numberValue != nil)
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect(result["size_bytes"]?.numberValue?.intValue == attributes[.size] as? Int)
            #expect(attributes[.posixPermissions] as? Int == 0o600)
            let store = try ContactStore(path: path)
            defer { store.close() }
            #expect(try store.get(username: "ada").firstName == "Ada")
            let again = try client.request("server.backup", ["first.db"])
            #expect(again["error"]?["code"]?.numberValue?.intValue == 409)
            #expect(again["error"]?["data"]?["reason"]?.stringValue == "backup_exists")
            let unnamed = try client.request("server.backup", [:])
            #expect(BackupName.isDefaultName(unnamed["result"]?["name"]?.stringValue ?? ""), "\(unnamed)")
        }
    }

    @Test("a backup name that is a path is refused with -32602 naming the field and why", arguments: ["../x.db", "/tmp/x.db", ".."])
    func pathNamesAreRefused(name: String) throws {
        try withRunningServer { server in
            let answer = try server.connect().request("server.backup", ["name": .string(name)])
            #expect(answer["error"]?["code"]?.numberValue?.intValue == -32602)
            let problem = answer["error"]?["data"]?["errors"]?.arrayValue?.first
            #expect(problem?["field"]?.stringValue == "name")
            #expect(problem?["message"]?.stringValue?.isEmpty == false)
            #expect(!FileManager.default.fileExists(atPath: server.directory.appendingPathComponent("backups").path))
        }
    }

    @Test("contacts backup prints where the copy went; a name already taken exits 1 saying so")
    func cliCommand() throws {
        try withRunningServer { server in
            let made = try runCLI(["backup", "nightly.db", "--socket", server.socketPath])
            #expect(made.status == 0, "\(made.err)")
            let path = server.directory.appendingPathComponent("backups/nightly.db").path
            #expect(made.out.hasPrefix("wrote \(path) ("), "\(made.out)")
            #expect(made.out.contains("bytes, quick_check ok) in "))
            let json = try runCLI(["backup", "--json", "--socket", server.socketPath])
            let result = try JSONReader.parse(Array(json.out.utf8).dropLast())
            #expect(BackupName.isDefaultName(result["name"]?.stringValue ?? ""), "\(json.out)")
            let taken = try runCLI(["backup", "nightly.db", "--socket", server.socketPath])
            #expect(taken.status == 1)
            #expect(taken.err.contains("already exists"), "\(taken.err)")
        }
    }

    @Test(
        "a backup onto a full disk fails with -32603 disk_full and leaves no file, while the server goes on",
        .enabled(if: DatabaseFaultTests.isRoot, "mounting a tmpfs needs root"))
    func fullDisk() throws {
        try DatabaseFaultTests.withTemporaryDirectory { directory in
            let backups = directory.appendingPathComponent("backups")
            try FileManager.default.createDirectory(at: backups, withIntermediateDirectories: false)
            try DatabaseFaultTests.withMount(["-t", "tmpfs", "-o", "size=2m", "tmpfs"], at: backups.path) {
                let server = try TestServer(arguments: ["--backup-dir", backups.path])
                defer { server.stop() }
                let client = try server.connect()
                // About 3 MB of contacts: more than the 2 MiB the backup directory holds.
                for round in 0..<40 {
                    let batch: [JSONValue] = (0..<50).map { index in
                        let name = "user\(round)-\(index)"
                        return [
                            "jsonrpc": "2.0", "id": .number(JSONNumber(index)), "method": "contacts.create",
                            "params": [
                                "username": .string(name), "first_name": .string(String(repeating: "F", count: 90)),
                                "last_name": "L",
                                "emails": .array((0..<10).map { .string("\(name).\($0)@example.com") }),
                            ],
                        ]
                    }
                    _ = try client.call(JSONValue.array(batch).jsonString)
                }
                let answer = try client.request("server.backup", ["name": "too-big.db"])
                #expect(answer["error"]?["code"]?.numberValue?.intValue == -32603, "\(answer)")
                #expect(answer["error"]?["data"]?["reason"]?.stringValue == "disk_full")
                #expect(answer["error"]?["message"]?.stringValue?.contains("disk holding the backup directory is full") == true)
                #expect(try FileManager.default.contentsOfDirectory(atPath: backups.path) == [], "no partial file")
                #expect(try client.request("contacts.get", ["username": "user0-0"])["result"] != nil)
                #expect(try client.request("contacts.create", ["username": "after", "first_name": "A", "last_name": "B"])["result"] != nil)
            }
        }
    }
}
