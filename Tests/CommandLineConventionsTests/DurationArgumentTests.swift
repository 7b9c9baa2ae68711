import Testing

@testable import CommandLineConventions

@Suite("the one duration syntax")
struct DurationArgumentTests {
    @Test(
        "durations take ms, s, m, h, compounds and plain seconds",
        arguments: [
            ("500ms", 0.5), ("15s", 15), ("1m", 60), ("1m30s", 90), ("1h", 3600), ("2", 2), ("0.25", 0.25),
        ] as [(String, Double)])
    func durations(text: String, seconds: Double) {
        #expect(DurationArgument(argument: text)?.seconds == seconds)
    }

    @Test(
        "zero, negative, infinite, huge and malformed durations are refused",
        arguments: [
            "", "s", "0", "0s", "-1", "-1s", "inf", "nan", "1e300", "1d", "abc", "1.2.3s", "1 s", "2y",
        ])
    func badDurations(text: String) {
        #expect(DurationArgument(argument: text) == nil)
    }

    @Test("an unknown subcommand close to a real one is suggested")
    func suggestsNearestSubcommand() {
        #expect(SubcommandSuggestion.distance("lst", "list") == 1)
        #expect(SubcommandSuggestion.distance("stats", "stats") == 0)
    }
}
