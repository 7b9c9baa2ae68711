import ContactStore
import Foundation
import Logging
import Redis
import Testing
import TestSupport

@testable import Tasks

@Suite(
    "contacts-tasks against a real redis-server",
    .enabled(if: RedisServer.isInstalled, "redis-server is not installed: apt-get install redis-server (tools/test does)")
)
struct TaskRunnerTests {
    @Test("two beats side by side enqueue each tick exactly once")
    func twoBeatsOneEnqueuePerTick() throws {
        let env = try TaskEnvironment()
        let flags = env.flags(["--create-every", "200ms", "--purge-every", "1h", "--max-age", "1h"])
        let worker = try TasksProcess(["worker"] + flags)
        let a = try TasksProcess(["beat"] + flags)
        let b = try TasksProcess(["beat"] + flags)
        let store = try env.openStore()
        try waitUntil("about 15 ticks ran") { try store.count() >= 15 }
        #expect(a.stop() == 0 && b.stop() == 0 && worker.stop() == 0)
        let ids = try store.list(ListQuery(limit: 1000)).contacts.map(\.username)
        #expect(ids.count == Set(ids).count)
        let ticks = try env.ranJobs().compactMap { Int64($0.split(separator: ":").last!) }.sorted()
        #expect(Set(ticks).count == ticks.count, "a tick was enqueued twice")
        #expect(ticks.last! - ticks.first! + 1 == Int64(ticks.count), "ticks were skipped: \(ticks)")
    }

    @Test("after downtime a beat runs one catch-up, not the missed ticks, and logs the gap")
    func oneCatchUpAfterDowntime() throws {
        let env = try TaskEnvironment()
        let flags = env.flags(["--create-every", "200ms", "--purge-every", "1h"])
        let store = try env.openStore()
        let worker = try TasksProcess(["worker"] + flags)
        defer { worker.stop() }
        let first = try TasksProcess(["beat"] + flags)
        try waitUntil("two ticks ran") { try store.count() >= 2 }
        #expect(first.stop() == 0)
        usleep(300_000)
        let before = try store.count()
        usleep(1_100_000)  // about five ticks pass with no beat running
        let second = try TasksProcess(["beat"] + flags)
        try waitUntil("the catch-up ran") { try store.count() > before }
        #expect(second.stop() == 0)
        let ticks = try env.ranJobs().compactMap { Int64($0.split(separator: ":").last!) }.sorted()
        // The ticks before and after the downtime are consecutive runs with one gap, never filled.
        let gaps = zip(ticks, ticks.dropFirst()).filter { $1 - $0 > 1 }
        #expect(gaps.count == 1)
        #expect(second.log().contains("missed ticks"))
    }

    @Test("a Redis URL with a database number selects that database")
    func selectsDatabase() throws {
        let env = try TaskEnvironment()
        let three = try RedisConnection(url: RedisURL(env.redis.url + "?db=3"))
        try three.command(["SET", "where", "three"])
        let zero = try env.redis.connection()
        #expect(try zero.command(["GET", "where"]).isNull)
        #expect(try RedisConnection(url: RedisURL(env.redis.url + "?db=3")).command(["GET", "where"]).text == "three")
    }

    @Test("a worker killed mid-job: the job is redelivered and makes exactly one contact")
    func killedWorkerJobIsRedelivered() throws {
        let env = try TaskEnvironment()
        _ = try env.openStore()  // create the schema
        // Hold the write lock so the first worker is stuck inside the job when it is killed.
        let holder = try SQLiteLockHolder(path: env.databasePath, seconds: nil)
        let first = try TasksProcess(["worker"] + env.flags(["--visibility-timeout", "1s"]))
        #expect(try runTasksCommand(["enqueue", "create-random"] + env.flags()).status == 0)
        let redis = try env.redis.connection()
        try waitUntil("the first worker holds the job") { (try redis.command(["ZCARD", env.keys.leases]).int ?? 0) == 1 }
        first.stop(signal: SIGKILL)
        holder.release(after: 0)
        holder.waitUntilReleased()
        #expect(try redis.command(["LLEN", env.keys.inflight]).int == 1)
        let second = try TasksProcess(["worker"] + env.flags(["--visibility-timeout", "1s"]))
        defer { second.stop() }
        try waitUntil("the job was redelivered and acknowledged") {
            try redis.command(["LLEN", env.keys.inflight]).int == 0 && redis.command(["LLEN", env.keys.queue]).int == 0
        }
        #expect(try env.openStore().count() == 1)
    }

    @Test("a job that committed but was never acknowledged is redelivered without a duplicate")
    func redeliveryAfterCommitIsIdempotent() throws {
        let env = try TaskEnvironment()
        let store = try env.openStore()
        let redis = try env.redis.connection()
        let queue = JobQueue(keys: env.keys)
        try queue.enqueue(.createRandom, id: "create-random:manual:crash", on: redis)
        // Play a worker that commits the task and dies before acknowledging.
        let id = try #require(try queue.wait(block: 1, on: redis))
        guard case .leased(let job) = try queue.lease(
            id, visibility: .seconds(1), worker: "doomed", maxDeliveries: 5, deadMax: 10, on: redis)
        else { throw TestFailure("not leased") }
        _ = try TaskExecutor(store: store, maxAge: .seconds(60), logger: Logger(label: "test")).run(job)
        #expect(try store.count() == 1)
        let worker = try TasksProcess(["worker"] + env.flags(["--visibility-timeout", "1s"]))
        defer { worker.stop() }
        try waitUntil("the job was redelivered and acknowledged") {
            try redis.command(["HEXISTS", env.keys.job(job.id), "finished_at"]).int == 1
        }
        #expect(try store.count() == 1)
        #expect(try redis.command(["HGET", env.keys.job(job.id), "outcome"]).text == "ok: already ran")
    }

    @Test("a failing job retries with backoff, then goes to the dead-letter list that status shows")
    func retryThenDeadLetter() throws {
        let env = try TaskEnvironment()
        let store = try env.openStore()
        store.close()
        // Break the schema so every create fails.
        try SQLiteLockHolder.execute("DROP TABLE emails", on: env.databasePath)
        let worker = try TasksProcess(["worker"] + env.flags(["--max-attempts", "3"]))
        let enqueued = try runTasksCommand(["enqueue", "create-random"] + env.flags())
        let id = enqueued.out.trimmingCharacters(in: .whitespacesAndNewlines)
        let redis = try env.redis.connection()
        try waitUntil("the job is dead") { try redis.command(["LLEN", env.keys.dead]).int == 1 }
        #expect(try redis.command(["HGET", env.keys.job(id), "attempts"]).int == 3)
        let status = try runTasksCommand(["status", "--json"] + env.flags())
        #expect(status.status == 0)
        #expect(status.out.contains("\"dead\":1"))
        #expect(status.out.contains(id))
        #expect(worker.stop() == 0)
        #expect(worker.log().contains("will retry"))
    }

    @Test("purge removes thousands of expired contacts in chunks, none outliving max-age by 2 s")
    func purgePrecision() throws {
        let env = try TaskEnvironment()
        let store = try env.openStore()
        let group = DispatchGroup()
        for n in 0..<5000 {
            group.enter()
            let new = try NewContact(username: "old\(n)", firstName: "O", lastName: "L", emails: ["old\(n)@example.com"])
            store.create(new) { _ in group.leave() }
        }
        group.wait()
        let runner = try TasksProcess(["run"] + env.flags(["--max-age", "2s", "--purge-every", "500ms", "--create-every", "1h"]))
        defer { runner.stop() }
        var worst: Int64 = 0
        try waitUntil("every old contact is gone", timeout: 20) {
            let page = try store.list(ListQuery(limit: 1000, usernamePrefix: "old"))
            let now = Timestamp.now().milliseconds
            if let oldest = page.contacts.map(\.createdAt.milliseconds).min() {
                worst = max(worst, now - oldest - 2000)
            }
            return page.contacts.isEmpty
        }
        #expect(worst <= 2000, "a contact outlived max-age by \(worst) ms")
    }

    @Test(
        "a worker survives a Redis restart and goes on by itself; the outage is logged by the connections that saw Redis down, not by one that looked after it was back"
    )
    func redisRestart() throws {
        let env = try TaskEnvironment()
        let runner = try TasksProcess(["run"] + env.flags(["--create-every", "300ms", "--redis-backoff-max", "500ms"]))
        let store = try env.openStore()
        try waitUntil("a contact was created") { try store.count() >= 1 }
        // Right after a heartbeat (its key just set, 15 s to live), so that the heartbeat's next
        // call, 5 s later, comes long after Redis is back: its connection is stale, not down.
        let redis = try env.redis.connection()
        try waitUntil("a heartbeat was just sent") {
            let keys = try redis.command(["KEYS", "*alive*"]).elements.compactMap(\.text)
            return try keys.contains { try redis.command(["PTTL", $0]).int ?? 0 > 14_500 }
        }
        env.redis.kill()
        usleep(500_000)
        try env.redis.start()
        let before = try store.count()
        try waitUntil("contacts are created again") { try store.count() >= before + 2 }
        // Past the heartbeat's next call on its old connection.
        usleep(5_500_000)
        #expect(runner.process.isRunning)
        #expect(runner.stop() == 0)
        let lines = runner.log().split(separator: "\n")
        let down = lines.filter { $0.contains("Redis unavailable") }
        let back = lines.filter { $0.contains("reachable again") }
        #expect(!down.contains { $0.contains("trying to heartbeat") }, "\(down)")
        #expect(down.count >= 1 && down.count == back.count, "\(down) \(back)")
    }

    @Test("a runner started before Redis waits for it")
    func redisNotYetUp() throws {
        let env = try TaskEnvironment()
        env.redis.kill()
        let runner = try TasksProcess(["run"] + env.flags(["--create-every", "300ms", "--redis-backoff-max", "300ms"]))
        usleep(700_000)
        #expect(runner.process.isRunning)
        try env.redis.start()
        let store = try env.openStore()
        try waitUntil("a contact was created") { try store.count() >= 1 }
        #expect(runner.stop() == 0)
    }

    @Test("SIGTERM stops beat and worker cleanly with exit 0")
    func gracefulStop() throws {
        let env = try TaskEnvironment()
        let runner = try TasksProcess(["run"] + env.flags(["--create-every", "200ms"]))
        let store = try env.openStore()
        try waitUntil("a contact was created") { try store.count() >= 1 }
        let started = Date()
        #expect(runner.stop() == 0)
        #expect(Date().timeIntervalSince(started) < bound(5))
        #expect(runner.log().contains("stopped cleanly"))
    }

    @Test("SIGTERM during a job: the worker finishes and acknowledges it, then exits 0")
    func stopMidJob() throws {
        let env = try TaskEnvironment()
        let (worker, holder) = try env.workerInsideAJob()
        let redis = try env.redis.connection()
        holder.release(after: 1)  // the job ends during the stop
        #expect(worker.stop() == 0)
        holder.waitUntilReleased()
        #expect(try redis.command(["LLEN", env.keys.inflight]).int == 0)
        #expect(try env.openStore().count() == 1)
    }

    @Test("a malformed --redis URL exits non-zero at once with a clear message")
    func malformedURL() throws {
        let result = try runTasksCommand(["run", "--redis", "localhost:6379", "--db", "/tmp/unused.db"])
        #expect(result.status != 0)
        #expect(result.err.contains("invalid Redis URL"))
    }

    @Test("status lists the live beats and workers with host and pid, lines up its columns, and exits 1 when none is alive")
    func statusShowsLiveRunners() throws {
        let env = try TaskEnvironment()
        let flags = env.flags(["--create-every", "1h", "--purge-every", "1h"])
        let before = try runTasksCommand(["status"] + flags)
        #expect(before.status == 1)
        #expect(before.err.contains("no beat or worker is alive") && before.out.contains("none alive"), "\(before)")
        let runner = try TasksProcess(["run", "--concurrency", "2"] + flags)
        let pid = runner.process.processIdentifier
        try waitUntil("status sees the runner") { try runTasksCommand(["status"] + flags).status == 0 }
        let text = try runTasksCommand(["status"] + flags).out
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let mine = lines.filter { $0.contains("  \(pid)  ") }
        #expect(mine.count == 2, "\(text)")
        #expect(mine.contains { $0.hasPrefix("beat ") } && mine.contains { $0.hasPrefix("worker ") && $0.hasSuffix("  2") })
        for header in ["TASK ", "RUNNER "] {
            let start = try #require(lines.firstIndex { $0.hasPrefix(header) })
            let rows = lines[start...].prefix { !$0.isEmpty }
            let header = Array(rows.first!)
            let columns = header.indices.filter { $0 >= 2 && header[$0] != " " && header[$0 - 1] == " " && header[$0 - 2] == " " }
            for row in rows {
                let characters = Array(row)
                #expect(columns.allSatisfy { $0 < characters.count && characters[$0 - 1] == " " && characters[$0] != " " }, "\(row)")
            }
        }
        #expect(runner.stop() == 0)
        #expect(try runTasksCommand(["status"] + flags).status == 1)
    }

    @Test("status and enqueue fail fast with exit 3 when Redis cannot be reached")
    func unreachableRedis() throws {
        for command in [["status"], ["enqueue", "purge-expired"]] {
            let result = try runTasksCommand(command + ["--redis", "unix:///tmp/no-such-redis.sock"])
            #expect(result.status == 3)
            #expect(result.err.contains("cannot connect"))
        }
    }

    @Test("with the real defaults, a contact appears on a 15 s tick and is gone about a minute later", .timeLimit(.minutes(2)))
    func realDefaults() throws {
        let env = try TaskEnvironment()
        let runner = try TasksProcess(["run"] + env.flags())
        defer { runner.stop() }
        let store = try env.openStore()
        try waitUntil("the first contact", timeout: 20) { try store.count() >= 1 }
        let first = try #require(try store.list(ListQuery(limit: 10)).contacts.min { $0.createdAt < $1.createdAt })
        // Created on a tick of the wall clock (a multiple of 15 s, give or take scheduling).
        #expect(first.createdAt.milliseconds % 15_000 < 1_000)
        try waitUntil("the first contact is purged", timeout: 70) {
            (try? store.get(username: first.username)) == nil
        }
        let lifetime = Timestamp.now().milliseconds - first.createdAt.milliseconds
        #expect(lifetime >= 60_000 && lifetime <= 62_500)
    }
}
