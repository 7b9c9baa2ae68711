/// The exit statuses every Contacts program uses (docs/cli.md, "Conventions").
public enum ExitStatus {
    /// It worked.
    public static let success: Int32 = 0
    /// The operation failed: the server or the queue answered with an error.
    public static let failure: Int32 = 1
    /// Usage error: an unknown subcommand or option, a missing or malformed value.
    public static let usage: Int32 = 2
    /// A service (contactsd, Redis) cannot be reached.
    public static let unavailable: Int32 = 3
    /// A daemon found its configuration wrong at start (`EX_CONFIG`): a service manager should not
    /// restart it in a loop.
    public static let configuration: Int32 = 78
}

/// A failure a program reports itself: the lines to print on stderr and the exit status.
public protocol ReportedFailure: Error {
    /// One of `ExitStatus`.
    var exitStatus: Int32 { get }
    /// What to print on stderr (may span lines, e.g. with a hint); empty for nothing.
    var message: String { get }
}
