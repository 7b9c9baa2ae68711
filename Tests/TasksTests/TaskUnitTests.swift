import ContactStore
import Foundation
import Logging
import Redis
import Testing
import TestSupport

@testable import Tasks

@Suite("task runner building blocks")
struct TaskUnitTests {
    @Test("Redis URLs: TCP with password and db, and Unix sockets with db")
    func redisURLs() throws {
        let tcp = try RedisURL("redis://:secret@cache.local:6380/3")
        #expect(tcp.endpoint == .tcp(host: "cache.local", port: 6380))
        #expect(tcp.password == "secret" && tcp.database == 3)
        let plain = try RedisURL("redis://127.0.0.1")
        #expect(plain.endpoint == .tcp(host: "127.0.0.1", port: 6379) && plain.database == 0)
        let unix = try RedisURL("unix:///run/redis/redis.sock?db=2")
        #expect(unix.endpoint == .unix(path: "/run/redis/redis.sock") && unix.database == 2)
        #expect(!tcp.description.contains("secret"))
    }

    @Test("Redis URLs: percent-encoded credentials, a user alone, IPv6 literals")
    func redisURLCredentials() throws {
        let both = try RedisURL("redis://app%40eu:p%3As%2Fw%25d@cache:6380/1")
        #expect(both.username == "app@eu" && both.password == "p:s/w%d" && both.database == 1)
        let user = try RedisURL("redis://worker@cache")
        #expect(user.username == "worker" && user.password == nil && user.endpoint == .tcp(host: "cache", port: 6379))
        let password = try RedisURL("redis://:secret@cache")
        #expect(password.username == nil && password.password == "secret")
        #expect(try RedisURL("redis://[::1]:6390/4").endpoint == .tcp(host: "::1", port: 6390))
        #expect(try RedisURL("redis://[::1]").endpoint == .tcp(host: "::1", port: 6379))
        #expect(try RedisURL("redis://[::1]:6390").description == "redis://[::1]:6390/0")
    }

    @Test("rediss:// is refused with a message about TLS, not read as plain Redis")
    func tlsRefused() {
        #expect {
            try RedisURL("rediss://cache:6380/0")
        } throws: { error in
            (error as? RedisError)?.message.contains("TLS") ?? false
        }
    }

    @Test("malformed Redis URLs are refused with a reason", arguments: [
        "redis://%zz@host", "redis://[::1", "redis://[::1]x",
        "localhost:6379", "redis://", "redis://host:99999", "redis://host/x", "unix://relative.sock", "unix:///r.sock?db=x",
    ])
    func badRedisURLs(text: String) {
        #expect(throws: RedisError.self) { try RedisURL(text) }
    }

    @Test("random contacts are valid, on reserved domains, with 1 to 3 emails, and reproducible from a seed")
    func randomContacts() throws {
        var seen: Set<Int> = []
        for seed in 0..<200 as Range<UInt64> {
            var a = SeededGenerator(seed: seed)
            var b = SeededGenerator(seed: seed)
            let contact = try RandomContactFactory.make(suffix: "x\(seed)", using: &a)
            #expect(try RandomContactFactory.make(suffix: "x\(seed)", using: &b) == contact)
            #expect((1...3).contains(contact.emails.count))
            seen.insert(contact.emails.count)
            for email in contact.emails {
                #expect(RandomContactFactory.domains.contains { email.address.hasSuffix("@" + $0) })
            }
        }
        #expect(seen == [1, 2, 3])
    }

    @Test("a job id always maps to the same contact")
    func jobIDsAreDeterministic() throws {
        let store = try ContactStore(path: ":memory:")
        let executor = TaskExecutor(store: store, maxAge: .seconds(60), logger: Logger(label: "test"))
        #expect(try executor.contact(for: "create-random:42") == executor.contact(for: "create-random:42"))
        #expect(try executor.contact(for: "create-random:42").username != executor.contact(for: "create-random:43").username)
    }

    @Test(
        "purge-expired removes the user's own contacts by default, and only generated ones with --purge-scope generated",
        arguments: [PurgeScope.all, .generated])
    func purgeScope(scope: PurgeScope) throws {
        let directory = try makeTemporaryDirectory(prefix: "scope")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ContactStore(path: directory.appendingPathComponent("c.db").path)
        defer { store.close() }
        let executor = TaskExecutor(
            store: store, maxAge: TaskDuration(milliseconds: 1), purgeScope: scope, logger: Logger(label: "test"))
        _ = try store.create(NewContact(username: "ada", firstName: "Ada", lastName: "L", emails: []))
        _ = try executor.run(Job(id: "create-random:1", task: .createRandom, attempts: 0, token: "t"))
        #expect(try store.count() == 2)
        Thread.sleep(forTimeInterval: 0.01)
        _ = try executor.run(Job(id: "purge-expired:2", task: .purgeExpired, attempts: 0, token: "t"))
        let left = try store.list(ListQuery()).contacts.map(\.username)
        #expect(left == (scope == .all ? [] : ["ada"]))
    }

    @Test("backoff grows exponentially up to the cap, with jitter in the upper half")
    func backoff() {
        let backoff = Backoff(base: TaskDuration(milliseconds: 100), cap: .seconds(5))
        #expect(backoff.ceiling(attempt: 0) == 100)
        #expect(backoff.ceiling(attempt: 3) == 800)
        #expect(backoff.ceiling(attempt: 60) == 5000)
        var generator = SeededGenerator(seed: 1)
        for attempt in 0..<10 {
            let delay = backoff.delay(attempt: attempt, using: &generator)
            #expect(delay >= backoff.ceiling(attempt: attempt) / 2 && delay <= backoff.ceiling(attempt: attempt))
        }
    }
}
