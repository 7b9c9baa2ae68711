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
        lines += table(
            ["TASK", "EVERY", "LAST RUN", "OUTCOME", "NEXT DUE", "PENDING", "ENQUEUED", "SKIPPED"],
            status.periodic.map { task in
                [
                    task.task.rawValue, "\(task.interval)", task.lastRunAt?.rfc3339 ?? "never", task.lastOutcome ?? "-",
                    task.nextDueAt.rfc3339, "\(task.pending)", "\(task.enqueued)", "\(task.skipped)",
                ]
            })
        lines.append("")
        if status.runners.isEmpty {
            lines.append("runners:   none alive (no beat or worker has sent a heartbeat in the last 15 s)")
        } else {
            lines += table(
                ["RUNNER", "HOST", "PID", "THREADS"],
                status.runners.map { [$0.role.rawValue, $0.host, "\($0.pid)", $0.concurrency.map(String.init) ?? "-"] })
        }
        return lines.joined(separator: "\n")
    }

    /// Rows under a header, each column as wide as its widest cell.
    static func table(_ header: [String], _ rows: [[String]]) -> [String] {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return ([header] + rows).map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index])
            }.joined(separator: "  ")
        }
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
            "runners": .array(status.runners.map { runner in
                [
                    "role": .string(runner.role.rawValue), "host": .string(runner.host),
                    "pid": .number(JSONNumber(Int(runner.pid))),
                    "concurrency": runner.concurrency.map { .number(JSONNumber($0)) } ?? .null,
                ]
            }),
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
