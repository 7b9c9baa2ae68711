import ContactStore
import JSONRPC
import Tasks

/// Renders `TaskStatus` for people and for scripts.
enum StatusOutput {
    static func text(_ status: TaskStatus) -> String {
        var lines = [
            "queue:     \(status.queued) waiting, \(status.inFlight) in flight, \(status.delayed) waiting to retry",
            "dead jobs: \(status.dead)" + (status.deadJobs.isEmpty ? "" : " (\(status.deadJobs.joined(separator: ", ")))"),
            "",
        ]
        let width = TaskKind.allCases.map(\.rawValue.count).max() ?? 0
        for task in status.periodic {
            let name = task.task.rawValue.padding(toLength: width)
            let last = task.lastRunAt.map { "\($0.rfc3339) (\(task.lastOutcome ?? "?"))" } ?? "never"
            lines.append(
                "\(name)  every \(task.interval)  last run: \(last)  next due: \(task.nextDueAt.rfc3339)  "
                    + "pending: \(task.pending)  enqueued: \(task.enqueued)  skipped: \(task.skipped)")
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ status: TaskStatus) -> String {
        let periodic: [JSONValue] = status.periodic.map { task in
            [
                "task": .string(task.task.rawValue),
                "interval_ms": .number(JSONNumber(Int(task.interval.milliseconds))),
                "last_run_at": task.lastRunAt.map { .string($0.rfc3339) } ?? .null,
                "last_outcome": task.lastOutcome.map { .string($0) } ?? .null,
                "last_duration_ms": task.lastDurationMilliseconds.map { .number(JSONNumber(Int($0))) } ?? .null,
                "next_due_at": .string(task.nextDueAt.rfc3339),
                "pending": .number(JSONNumber(task.pending)),
                "enqueued": .number(JSONNumber(task.enqueued)),
                "skipped": .number(JSONNumber(task.skipped)),
            ]
        }
        let value: JSONValue = [
            "queued": .number(JSONNumber(status.queued)),
            "in_flight": .number(JSONNumber(status.inFlight)),
            "retrying": .number(JSONNumber(status.delayed)),
            "dead": .number(JSONNumber(status.dead)),
            "dead_jobs": .array(status.deadJobs.map { .string($0) }),
            "periodic": .array(periodic),
        ]
        return value.jsonString
    }

    /// Dead jobs as a table, newest first.
    static func text(_ jobs: [JobQueue.DeadJob]) -> String {
        guard !jobs.isEmpty else { return "no dead jobs" }
        return jobs.map { job in
            let when = job.failedAt.map { Timestamp(milliseconds: $0).rfc3339 } ?? "?"
            return "\(job.id)  \(job.task)  attempts: \(job.attempts)  deliveries: \(job.deliveries)  died: \(when)  "
                + "reason: \(job.lastError ?? "?")"
        }.joined(separator: "\n")
    }

    /// Dead jobs as one JSON array.
    static func json(_ jobs: [JobQueue.DeadJob]) -> String {
        let values: [JSONValue] = jobs.map { job in
            [
                "id": .string(job.id),
                "task": .string(job.task),
                "attempts": .number(JSONNumber(job.attempts)),
                "deliveries": .number(JSONNumber(job.deliveries)),
                "last_error": job.lastError.map { .string($0) } ?? .null,
                "failed_at": job.failedAt.map { .string(Timestamp(milliseconds: $0).rfc3339) } ?? .null,
            ]
        }
        return JSONValue.array(values).jsonString
    }
}

extension String {
    fileprivate func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
