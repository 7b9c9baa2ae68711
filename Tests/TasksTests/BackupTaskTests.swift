import ContactStore
import Foundation
import Logging
import Redis
import Testing
import TestSupport

@testable import Tasks

@Suite("the backup task")
struct BackupTaskTests {
    @Test("a redelivered backup job finds its copy, named after its tick, and writes no second one")
    func idempotentByJobID() throws {
        let directory = try makeTemporaryDirectory(prefix: "backup-task")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ContactStore(path: directory.appendingPathComponent("contacts.db").path)
        defer { store.close() }
        _ = try store.create(try NewContact(username: "ada", firstName: "Ada", lastName: "L", emails: []))
        let backups = directory.appendingPathComponent("backups").path
        let executor = TaskExecutor(
            store: store, maxAge: .seconds(60), backups: BackupSettings(directory: backups, keep: 3, every: .seconds(1)),
            logger: Logger(label: "test"))
        // Tick 1795675532 of a 1 s schedule starts at 2026-11-26T06:45:32Z.
        let job = Job(id: "backup:1795675532", task: .backup, attempts: 0, token: "t")
        #expect(try executor.run(job) == .done("ok: wrote contacts-20261126T064532Z.db (\(size(backups + "/contacts-20261126T064532Z.db")) bytes)"))
        #expect(try executor.run(job) == .done("ok: contacts-20261126T064532Z.db already written"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: backups) == ["contacts-20261126T064532Z.db"])
    }

    @Test(
        "periodic backups keep the newest --backup-keep copies and touch nothing else in the directory",
        .enabled(if: RedisServer.isInstalled, "redis-server is not installed: apt-get install redis-server (tools/test does)"))
    func rotationKeepsNAndTouchesNothingElse() throws {
        let env = try TaskEnvironment()
        let backups = env.directory.appendingPathComponent("backups").path
        try FileManager.default.createDirectory(atPath: backups, withIntermediateDirectories: true)
        let others = ["keep-me.db", "contacts-20000101T000000Z.db.bak", "contacts-2000.db", "notes.txt"]
        for name in others { try Data(name.utf8).write(to: URL(fileURLWithPath: backups + "/" + name)) }
        // Default-looking names that are not regular files: a directory and a symbolic link.
        try FileManager.default.createDirectory(
            atPath: backups + "/contacts-20000102T000000Z.db", withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(
            atPath: backups + "/contacts-20000103T000000Z.db", withDestinationPath: backups + "/keep-me.db")
        // A copy with the default name made earlier (by hand or by server.backup) is rotated with the others.
        try Data("old".utf8).write(to: URL(fileURLWithPath: backups + "/contacts-20000101T000000Z.db"))
        let flags = env.flags(["--create-every", "1h", "--purge-every", "1h", "--backup-every", "1s", "--backup-keep", "2"])
        let runner = try TasksProcess(["run"] + flags)
        let redis = try env.redis.connection()
        try waitUntil("four backups ran", timeout: 20) {
            let outcome = try redis.command(["HGET", env.keys.periodic(.backup), "last_outcome"]).text ?? ""
            let enqueued = try redis.command(["HGET", env.keys.periodic(.backup), "enqueued"]).int ?? 0
            return outcome.contains("wrote") && enqueued >= 4
        }
        #expect(runner.stop() == 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: backups)
        let periodic = names.filter { BackupName.isDefaultName($0) && !$0.hasPrefix("contacts-2000") }
        #expect(periodic.count == 2, "\(names.sorted())")
        #expect(!names.contains("contacts-20000101T000000Z.db"), "the oldest default-named copy was rotated out")
        for name in others {
            #expect(try String(contentsOfFile: backups + "/" + name, encoding: .utf8) == name)
        }
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: backups + "/contacts-20000102T000000Z.db", isDirectory: &isDirectory))
        #expect(isDirectory.boolValue)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: backups + "/contacts-20000103T000000Z.db") != "")
        for name in periodic {
            let store = try ContactStore(path: backups + "/" + name)
            store.close()
        }
    }

    @Test("without --backup-every no backup is scheduled, and backups go to backups/ beside the database")
    func offByDefault() throws {
        let configuration = TaskRunnerConfiguration(redis: try RedisURL("redis://127.0.0.1:6379/0"), databasePath: "/data/c.db")
        #expect(configuration.interval(of: .backup) == nil)
        #expect(configuration.backupDirectory == "/data/backups")
    }
}

private func size(_ path: String) -> Int {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
}
