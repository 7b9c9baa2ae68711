import LoadGenerator
import TestSupport
import Testing

/// The subscriber of `contacts-bench load --subscriber` (issue 14, point 7), against a real
/// `contactsd`: what it counts is what the bench reports.
@Suite("the load generator's subscriber against a real server")
struct SubscriberLoadTests {
    @Test(
        "a subscriber beside a create load receives every change the load made, once and in order, and none before it")
    func subscriberCountsEveryChange() throws {
        try withRunningServer { server in
            // Changes before the load, which the subscriber must not count.
            let writer = try server.connect()
            for n in 0..<3 { try SubscriptionTests.create(writer, "before\(n)") }
            var configuration = LoadConfiguration(
                socketPath: server.socketPath, scenario: .create, connections: 4, seconds: 0.3, warmup: 0.1)
            configuration.subscriber = true
            configuration.subscriberDrainSeconds = bound(30)
            let result = try LoadGenerator.run(configuration)
            let watched = try #require(result.subscriber)
            #expect(result.errors == 0)
            #expect(watched.headBefore == 3)
            // Every measured create is one change; the warm-up's creates are changes too.
            #expect(watched.expected >= Int(result.requests))
            #expect(watched.received == watched.expected)
            #expect(watched.missing == 0)
            #expect(watched.gaps == 0)
            #expect(!watched.dropped)
            #expect(watched.latency.total == UInt64(watched.received))
        }
    }
}
