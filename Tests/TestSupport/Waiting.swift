import Foundation

/// A test-level failure with a sentence saying what did not happen.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` until it holds or the deadline passes (never sleep-and-hope). The timeout
/// is scaled for sanitizer runs (`bound`).
public func waitUntil(_ what: String, timeout: Double = 15, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(bound(timeout))
    while Date() < deadline {
        if try condition() { return }
        usleep(20_000)
    }
    throw TestFailure("timed out waiting until \(what)")
}

/// A fresh private temporary directory with a short path (Unix socket paths are limited to 107 bytes).
public func makeTemporaryDirectory(prefix: String) throws -> URL {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
    return URL(fileURLWithPath: String(cString: made))
}

/// The sanitizer this run's programs are built with (`thread`, `address`), from
/// `CONTACTS_TEST_SANITIZER`, which `tools/test --sanitize` sets; nil in a normal build.
public let testSanitizer: String? = ProcessInfo.processInfo.environment["CONTACTS_TEST_SANITIZER"]

/// How many times slower this run's programs are than a normal build: `CONTACTS_TEST_TIME_SCALE`,
/// which `tools/test --sanitize` sets (ThreadSanitizer slows the server and the runner 5–15×),
/// else 1. A time bound that is a promise of a normal build is multiplied by it (`bound`), so a
/// sanitizer run still checks that the bound exists without pretending to be fast.
public let testTimeScale: Double = ProcessInfo.processInfo.environment["CONTACTS_TEST_TIME_SCALE"].flatMap(Double.init) ?? 1

/// `seconds`, a time bound of a normal build, scaled for this run (`testTimeScale`).
public func bound(_ seconds: Double) -> Double { seconds * testTimeScale }
