import ContactStore
import Foundation
import Logging
import Redis
import Testing
import TestSupport

@testable import Tasks

/// Issue 11: every guarantee of docs/tasks.md, each against a real redis-server and a real SQLite file.
@Suite(
    "contacts-tasks keeps its guarantees across hosts, clocks and crashes",
    .enabled(if: RedisServer.isInstalled, "redis-server is not installed: apt-get install redis-server (tools/test does)")
)
struct TaskGuaranteeTests {
    // MARK: 1. No pile-up

    @Test("a beat alone piles up no jobs: one pending per task, later ticks skipped and counted; manual enqueues always go in")
    func noPileUp() throws {
        let env = try TaskEnvironment()
        let flags = env.flags(["--create-every", "1s", "--purge-every", "1h", "--max-age", "1h"])
        let beat = try TasksProcess(["beat"] + flags)
        let redis = try env.redis.connection()
        try waitUntil("four ticks were skipped", timeout: 10) {
            (try redis.command(["HGET", env.keys.periodic(.createRandom), "skipped"]).int ?? 0) >= 4
        }
        #expect(beat.stop() == 0)
        #expect(try redis.command(["LLEN", env.keys.queue]).int == 1)
        let status = try runTasksCommand(["status", "--json"] + flags)
        #expect(status.out.contains("\"skipped\":"))
        #expect(!status.out.contains("\"skipped\":0,") || status.out.contains("\"pending\":1"))
        let text = try runTasksCommand(["status"] + flags).out
        #expect(text.contains("PENDING") && text.contains("SKIPPED"))
        for _ in 0..<2 { #expect(try runTasksCommand(["enqueue", "create-random"] + flags).status == 0) }
        #expect(try redis.command(["LLEN", env.keys.queue]).int == 3)
        let worker = try TasksProcess(["worker"] + flags)
        defer { worker.stop() }
        let store = try env.openStore()
        try waitUntil("the queue drained") {
            try redis.command(["LLEN", env.keys.queue]).int == 0 && redis.command(["LLEN", env.keys.inflight]).int == 0
        }
        // One scheduled job for all those ticks, plus the two manual ones.
        #expect(try store.count() == 3)
        #expect(try env.ranJobs().count == 1)
    }

    // MARK: 2. One clock

    @Test("beats and workers whose clocks are 70 s apart run every 1 s tick once, none twice, none redelivered",
        .timeLimit(.minutes(1)),
        .disabled(if: testSanitizer != nil, "libfaketime hangs a sanitized program at start (in clock_gettime)"))
    func skewedClocks() throws {
        let env = try TaskEnvironment()
        let flags = env.flags([
            "--create-every", "1s", "--purge-every", "1h", "--max-age", "1h", "--visibility-timeout", "5s",
        ])
        _ = try env.openStore()
        let behind = try TasksProcess(["run"] + flags, clockOffset: "-70s")
        let ahead = try TasksProcess(["run"] + flags, clockOffset: "+70s")
        try waitUntil("twelve ticks ran", timeout: 30) { try env.ranJobs().count >= 12 }
        let (behindStatus, aheadStatus) = (behind.stop(), ahead.stop())
        let logs = behind.log() + ahead.log()
        #expect(behindStatus == 0 && aheadStatus == 0, "exit statuses \(behindStatus) and \(aheadStatus): \(logs)")
        let ids = try env.ranJobs()
        let ticks = ids.compactMap { Int64($0.split(separator: ":").last!) }.sorted()
        #expect(Set(ticks).count == ticks.count, "a tick ran twice")
        #expect(ticks.last! - ticks.first! + 1 == Int64(ticks.count), "ticks were lost or skipped: \(ticks)")
        let redis = try env.redis.connection()
        for id in ids {
            #expect(try redis.command(["HGET", env.keys.job(id), "deliveries"]).int == 1, "\(id) was redelivered")
        }
        #expect(!logs.contains("redelivered") && !logs.contains("already ran") && !logs.contains("lost the lease"))
        #expect(try env.openStore().count() == Int64(ids.count))
    }

    // MARK: 3. Lease ownership

    @Test("a worker that outlived its lease can renew, acknowledge, fail or hand back nothing of the new owner's")
    func staleTokenChangesNothing() throws {
        let env = try TaskEnvironment()
        let redis = try env.redis.connection()
        let queue = JobQueue(keys: env.keys)
        try queue.enqueue(.createRandom, id: "create-random:manual:lease", on: redis)
        let short = TaskDuration(milliseconds: 200)
        let id = try #require(try queue.wait(block: 1, on: redis))
        guard case .leased(let stale) = try queue.lease(id, visibility: short, worker: "a", maxDeliveries: 5, deadMax: 10, on: redis)
        else { throw TestFailure("first lease") }
        usleep(300_000)
        #expect(try queue.reap(visibility: short, on: redis).redelivered == 1)
        _ = try #require(try queue.wait(block: 1, on: redis))
        guard case .leased(let current) = try queue.lease(
            id, visibility: .seconds(30), worker: "b", maxDeliveries: 5, deadMax: 10, on: redis)
        else { throw TestFailure("second lease") }
        #expect(current.token != stale.token)
        let deadline = try redis.command(["ZSCORE", env.keys.leases, id]).text
        #expect(try queue.renew(stale, visibility: .seconds(60), on: redis) == false)
        #expect(try queue.ack(stale, outcome: "ok", durationMilliseconds: 1, on: redis) == false)
        #expect(try queue.fail(stale, error: "x", maxAttempts: 1, delay: 0, deadMax: 10, on: redis) == .lost)
        #expect(try queue.release(stale, on: redis) == false)
        #expect(try redis.command(["ZSCORE", env.keys.leases, id]).text == deadline)
        #expect(try redis.command(["LRANGE", env.keys.inflight, "0", "-1"]).elements.compactMap(\.text) == [id])
        #expect(try redis.command(["LLEN", env.keys.dead]).int == 0)
        #expect(try queue.ack(current, outcome: "ok", durationMilliseconds: 1, on: redis))
    }

    @Test("a worker stuck past its lease learns it at acknowledge, logs it and leaves the new owner's lease alone")
    func stuckWorkerLosesLease() throws {
        let env = try TaskEnvironment()
        let store = try env.openStore()
        let holder = try SQLiteLockHolder(path: env.databasePath, seconds: nil)
        let worker = try TasksProcess(["worker"] + env.flags(["--visibility-timeout", "1s"]))
        #expect(try runTasksCommand(["enqueue", "create-random"] + env.flags()).status == 0)
        let redis = try env.redis.connection()
        let queue = JobQueue(keys: env.keys)
        try waitUntil("the worker holds the job") { (try redis.command(["ZCARD", env.keys.leases]).int ?? 0) == 1 }
        // Play the worker that takes the job over once the lease ran out.
        try waitUntil("the lease ran out") { try queue.reap(visibility: .seconds(30), on: redis).redelivered == 1 }
        let id = try #require(try queue.wait(block: 1, on: redis))
        guard case .leased(let mine) = try queue.lease(
            id, visibility: .seconds(30), worker: "new owner", maxDeliveries: 5, deadMax: 10, on: redis)
        else { throw TestFailure("take-over lease") }
        holder.release(after: 0)
        holder.waitUntilReleased()
        #expect(worker.stop() == 0)
        #expect(worker.log().contains("lost the lease"))
        #expect(try redis.command(["ZSCORE", env.keys.leases, id]).isNull == false)
        #expect(try redis.command(["HGET", env.keys.job(id), "token"]).text == mine.token)
        // The stuck worker committed; the new owner finds the record and creates nothing more.
        let outcome = try TaskExecutor(store: store, maxAge: .seconds(60), logger: Logger(label: "test")).run(mine)
        #expect(outcome == .done("ok: already ran"))
        #expect(try queue.ack(mine, outcome: "ok", durationMilliseconds: 1, on: redis))
        #expect(try store.count() == 1)
    }

    // MARK: 4. Idempotent beyond the contact's life

    @Test("a job redelivered after its contact was deleted does not create it again")
    func idempotentAfterDelete() throws {
        let env = try TaskEnvironment()
        let store = try env.openStore()
        let redis = try env.redis.connection()
        let queue = JobQueue(keys: env.keys)
        let worker = try TasksProcess(["worker"] + env.flags())
        defer { worker.stop() }
        let id = "create-random:manual:once"
        try queue.enqueue(.createRandom, id: id, on: redis)
        try waitUntil("the contact was created") { try store.count() == 1 }
        #expect(try store.isJobRecorded(id))
        let username = try #require(try store.list(ListQuery(limit: 1)).contacts.first?.username)
        try store.delete(username: username)
        try queue.enqueue(.createRandom, id: id, on: redis)  // the same job, delivered again
        try waitUntil("the redelivery was acknowledged") {
            try redis.command(["HGET", env.keys.job(id), "outcome"]).text == "ok: already ran"
        }
        #expect(try store.count() == 0)
    }

    @Test("the job record commits with the contact: a failed create leaves no record")
    func recordCommitsWithEffect() throws {
        // A file, not ":memory:": reads go through the reader pool, which opens the path again.
        let directory = try makeTemporaryDirectory(prefix: "contacts-records")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ContactStore(path: directory.appendingPathComponent("c.db").path)
        let taken = try NewContact(username: "ada", firstName: "A", lastName: "L", emails: ["ada@example.com"])
        _ = try store.create(taken)
        let clash = try NewContact(username: "bob", firstName: "B", lastName: "L", emails: ["ada@example.com"])
        #expect(throws: StoreError.self) { try store.create(clash, jobID: "j1") }
        #expect(try store.isJobRecorded("j1") == false)
        let fine = try NewContact(username: "bob", firstName: "B", lastName: "L", emails: ["bob@example.com"])
        #expect(try store.create(fine, jobID: "j1") != .alreadyRan)
        #expect(try store.create(fine, jobID: "j1") == .alreadyRan)
    }

    // MARK: 5. Redis errors by kind

    @Test("wrong or missing credentials at start: exit 78 with a message about authentication", arguments: ["", ":wrong@"])
    func authenticationAtStart(credentials: String) throws {
        let port = RedisServer.freePort()
        let tcp = try RedisServer(["--port", String(port), "--bind", "127.0.0.1", "--requirepass", "s3cret"], waitForIt: false)
        let result = try runTasksCommand([
            "run", "--redis", "redis://\(credentials)127.0.0.1:\(port)/0", "--db", tcp.directory.path + "/c.db",
        ])
        #expect(result.status == 78)
        #expect(result.err.contains("authentication"))
        let status = try runTasksCommand(["status", "--redis", "redis://\(credentials)127.0.0.1:\(port)/0"])
        #expect(status.status == 78)
    }

    /// Breaks a running Redis for 1.5 s and mends it: the outage kinds a runner must ride out.
    struct Interruption: Sendable, CustomStringConvertible {
        var description: String
        var breaking: [[String]]
        var mending: [[String]]
        /// What each logged line must say.
        var logged: [String]
    }

    @Test("credentials revoked or a READONLY replica during a run: logged once, retried, and the runner goes on", arguments: [
        Interruption(
            description: "credentials revoked",
            breaking: [["CONFIG", "SET", "requirepass", "changed"], ["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]],
            mending: [["CONFIG", "SET", "requirepass", ""]], logged: ["authentication failed"]),
        // After a failover the old primary is a replica: READONLY, or UNBLOCKED for a waiting BLMOVE.
        Interruption(
            description: "READONLY replica", breaking: [["REPLICAOF", "127.0.0.1", "1"]], mending: [["REPLICAOF", "NO", "ONE"]],
            logged: ["READONLY", "UNBLOCKED"]),
    ])
    func outageDuringRun(_ interruption: Interruption) throws {
        let env = try TaskEnvironment()
        let runner = try TasksProcess(["run"] + env.flags(["--create-every", "300ms", "--redis-backoff-max", "300ms"]))
        let store = try env.openStore()
        try waitUntil("a contact was created") { try store.count() >= 1 }
        let admin = try env.redis.connection()
        for command in interruption.breaking { try admin.command(command) }
        usleep(1_500_000)
        for command in interruption.mending { try admin.command(command) }
        let before = try store.count()
        try waitUntil("contacts are created again") { try store.count() >= before + 2 }
        #expect(runner.stop() == 0)
        let log = runner.log()
        let lines = log.split(separator: "\n").filter { line in interruption.logged.contains { line.contains($0) } }
        // One line per connection owner (the beat and the worker), not one per retry.
        #expect((1...2).contains(lines.count), "\(lines)")
        #expect(log.contains("reachable again"))
    }

    @Test("a Redis Cluster node that does not hold the queue's slot: exit 78 naming the node to use")
    func clusterRedirect() throws {
        // A Cluster node also listens on its port + 10000 (the cluster bus).
        func clusterPort() -> Int {
            while true { let port = RedisServer.freePort(); if port < 55_000 { return port } }
        }
        let ports = (clusterPort(), clusterPort())
        func node(_ port: Int) throws -> RedisServer {
            try RedisServer([
                "--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            ])
        }
        let owner = try node(ports.0)
        let other = try node(ports.1)
        try owner.connection().command(["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])
        try other.connection().command(["CLUSTER", "MEET", "127.0.0.1", String(ports.0)])
        try waitUntil("the second node learned the slots") {
            !(try other.connection().command(["CLUSTER", "SLOTS"]).elements.isEmpty)
        }
        let result = try runTasksCommand([
            "worker", "--redis", "redis://127.0.0.1:\(ports.1)/0", "--db", other.directory.path + "/c.db",
        ])
        #expect(result.status == 78)
        #expect(result.err.contains("redis://127.0.0.1:\(ports.0)"))
        #expect(result.err.contains("Cluster"))
    }

    @Test("a Redis without BLMOVE (older than 6.2): exit 78 naming the minimum version")
    func redisTooOld() throws {
        let redis = try RedisServer(["--rename-command", "BLMOVE", ""])
        let result = try runTasksCommand(["run", "--redis", redis.url, "--db", redis.directory.path + "/c.db"])
        #expect(result.status == 78)
        #expect(result.err.contains("6.2"))
    }

    @Test("percent-encoded user and password, a user without one, and IPv6 [::1] reach a real Redis")
    func credentialsAndIPv6() throws {
        let port = RedisServer.freePort()
        let redis = try RedisServer(["--port", String(port), "--bind", "::1"])
        let admin = try redis.connection()
        try admin.command(["ACL", "SETUSER", "bob", "on", ">p@ss:w/rd", "~*", "+@all"])
        try admin.command(["ACL", "SETUSER", "carol", "on", "nopass", "~*", "+@all"])
        for url in ["redis://bob:p%40ss%3Aw%2Frd@[::1]:\(port)/2", "redis://carol@[::1]:\(port)"] {
            // Reached and authenticated: status answers (exit 1 only because no runner is alive).
            let result = try runTasksCommand(["status", "--redis", url])
            #expect(result.status == 1 && result.out.contains("queue:"), "\(url): \(result.err)")
        }
        let wrong = try runTasksCommand(["status", "--redis", "redis://bob:nope@[::1]:\(port)"])
        #expect(wrong.status == 78)
    }

    // MARK: 6. Dead letters

    @Test("a job of an unknown task kind goes to the dead list with its reason; dead list, retry and drop manage it")
    func unknownTaskIsDeadLettered() throws {
        let env = try TaskEnvironment()
        let redis = try env.redis.connection()
        try redis.command(["HSET", env.keys.job("send-email:1"), "task", "send-email", "attempts", "0"])
        try redis.command(["LPUSH", env.keys.queue, "send-email:1"])
        let worker = try TasksProcess(["worker"] + env.flags())
        try waitUntil("the job is dead") { try redis.command(["LLEN", env.keys.dead]).int == 1 }
        #expect(worker.stop() == 0)
        let list = try runTasksCommand(["dead", "list", "--json"] + env.flags())
        #expect(list.status == 0)
        #expect(list.out.contains("\"id\":\"send-email:1\"") && list.out.contains("unknown task kind"))
        #expect(try runTasksCommand(["dead", "list"] + env.flags()).out.contains("send-email:1"))
        let retry = try runTasksCommand(["dead", "retry", "send-email:1"] + env.flags())
        #expect(retry.status == 0 && retry.out.contains("requeued 1 job"))
        #expect(try redis.command(["LRANGE", env.keys.queue, "0", "-1"]).elements.compactMap(\.text) == ["send-email:1"])
        #expect(try runTasksCommand(["dead", "retry", "nope"] + env.flags()).status == 1)
        try redis.command(["DEL", env.keys.queue])
        try redis.command(["LPUSH", env.keys.dead, "send-email:1"])
        let drop = try runTasksCommand(["dead", "drop", "--all"] + env.flags())
        #expect(drop.status == 0 && drop.out.contains("dropped 1 job"))
        #expect(try redis.command(["EXISTS", env.keys.job("send-email:1")]).int == 0)
        #expect(try runTasksCommand(["dead", "drop"] + env.flags()).status == 2)
    }

    @Test("the dead list keeps at most --dead-max jobs, dropping the oldest and logging it")
    func deadListIsCapped() throws {
        let env = try TaskEnvironment()
        try env.openStore().close()
        try SQLiteLockHolder.execute("DROP TABLE emails", on: env.databasePath)
        let flags = env.flags(["--max-attempts", "1", "--dead-max", "2"])
        var ids: [String] = []
        for _ in 0..<3 { ids.append(try runTasksCommand(["enqueue", "create-random"] + flags).out.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let worker = try TasksProcess(["worker"] + flags)
        let redis = try env.redis.connection()
        try waitUntil("every job failed") {
            try redis.command(["LLEN", env.keys.queue]).int == 0 && redis.command(["LLEN", env.keys.inflight]).int == 0
        }
        #expect(worker.stop() == 0)
        let dead = try redis.command(["LRANGE", env.keys.dead, "0", "-1"]).elements.compactMap(\.text)
        #expect(dead == [ids[2], ids[1]])
        #expect(try redis.command(["EXISTS", env.keys.job(ids[0])]).int == 0)
        #expect(worker.log().contains("dead-letter list is full"))
    }

    @Test("a finished job's record expires after 24 h")
    func finishedRecordsExpire() throws {
        let env = try TaskEnvironment()
        let worker = try TasksProcess(["worker"] + env.flags())
        defer { worker.stop() }
        let id = try runTasksCommand(["enqueue", "purge-expired"] + env.flags()).out.trimmingCharacters(in: .whitespacesAndNewlines)
        let redis = try env.redis.connection()
        try waitUntil("the job finished") { try redis.command(["HEXISTS", env.keys.job(id), "finished_at"]).int == 1 }
        let ttl = try #require(try redis.command(["TTL", env.keys.job(id)]).int)
        #expect(ttl > 86_000 && ttl <= 86_400)
    }

    // MARK: 7. Stopping

    @Test("an idle runner exits within 1 s of SIGTERM")
    func idleStopIsQuick() throws {
        let env = try TaskEnvironment()
        let runner = try TasksProcess(["run"] + env.flags(["--create-every", "1h", "--purge-every", "1h"]))
        let redis = try env.redis.connection()
        try waitUntil("the worker waits on the queue") {
            try redis.command(["CLIENT", "LIST"]).text?.contains("cmd=blmove") ?? false
        }
        let started = Date()
        #expect(runner.stop() == 0)
        #expect(Date().timeIntervalSince(started) < bound(1))
    }

    @Test("SIGTERM during a long purge: the worker hands the job back after one chunk and exits")
    func busyPurgeHandsBack() throws {
        let env = try TaskEnvironment()
        try env.openStore().close()
        // 200,000 expired contacts, written directly (the store's API would take far longer).
        try insertExpiredContacts(200_000, into: env.databasePath)
        let store = try env.openStore()
        let worker = try TasksProcess(["worker"] + env.flags())
        let id = try runTasksCommand(["enqueue", "purge-expired"] + env.flags()).out.trimmingCharacters(in: .whitespacesAndNewlines)
        try waitUntil("the purge is under way") { try store.count() < 200_000 }
        let started = Date()
        #expect(worker.stop() == 0)
        #expect(Date().timeIntervalSince(started) < bound(1))
        #expect(try store.count() > 0)
        #expect(worker.log().contains("handed the unfinished job back"))
        let redis = try env.redis.connection()
        #expect(try redis.command(["LRANGE", env.keys.queue, "0", "-1"]).elements.compactMap(\.text) == [id])
    }

    @Test(
        "SIGTERM with a job in hand and Redis gone, or frozen (it accepts but never answers): exit within 6 s, the job left for redelivery",
        arguments: [false, true])
    func stopWithRedisAway(frozen: Bool) throws {
        let env = try TaskEnvironment()
        let (worker, holder) = try env.workerInsideAJob()
        holder.release(after: 1)  // the job ends during the stop
        if frozen { env.redis.freeze() } else { env.redis.kill() }
        let started = Date()
        #expect(worker.stop() == 0)
        #expect(Date().timeIntervalSince(started) < bound(6))
        holder.waitUntilReleased()
        #expect(worker.log().contains("will be redelivered"))
    }

    // MARK: 8. Keys for a cluster

    @Test("every key carries the prefix as a hash tag, and keys of the earlier layout are migrated at start")
    func hashTagsAndMigration() throws {
        let env = try TaskEnvironment()
        let redis = try env.redis.connection()
        let old = env.prefix
        try redis.command(["HSET", "\(old):job:create-random:manual:old", "task", "create-random", "attempts", "0"])
        try redis.command(["LPUSH", "\(old):queue", "create-random:manual:old"])
        try redis.command(["HSET", "\(old):job:purge-expired:7", "task", "purge-expired", "last_error", "boom"])
        try redis.command(["LPUSH", "\(old):dead", "purge-expired:7"])
        try redis.command(["HSET", "\(old):periodic:create-random", "last_tick", "5", "interval_ms", "15000"])
        let runner = try TasksProcess(["run"] + env.flags(["--create-every", "1h", "--purge-every", "1h"]))
        let store = try env.openStore()
        try waitUntil("the migrated job ran") { try store.count() == 1 }
        #expect(runner.stop() == 0)
        #expect(runner.log().contains("migrated jobs"))
        #expect(try redis.command(["LRANGE", env.keys.dead, "0", "-1"]).elements.compactMap(\.text) == ["purge-expired:7"])
        #expect(try redis.command(["HGET", env.keys.job("purge-expired:7"), "last_error"]).text == "boom")
        let keys = try redis.command(["KEYS", "*"]).elements.compactMap(\.text)
        #expect(!keys.isEmpty && keys.allSatisfy { $0.hasPrefix("{\(old)}:") }, "\(keys)")
    }
}
