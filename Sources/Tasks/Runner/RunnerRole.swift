/// What a live runner process does, as its heartbeat key says.
public enum RunnerRole: String, Sendable, CaseIterable {
    /// The scheduler (`contacts-tasks beat`, or `run`).
    case beat
    /// Workers (`contacts-tasks worker`, or `run`).
    case worker
}
