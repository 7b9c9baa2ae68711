import ContactStore
import MonotonicClock

/// The backup task: one copy per job, named after its tick, then the rotation.
extension TaskExecutor {
    /// Writes the job's backup (`ContactStore.backup`, the same function `server.backup` runs) and
    /// removes the oldest periodic copies beyond `backups.keep`.
    ///
    /// Idempotent by job id: a scheduled job's copy is named after the start of its tick by
    /// Redis's clock (`backup:<tick>` → `contacts-<tick × interval>.db`), so a redelivered job
    /// finds its copy already there (a complete one: a copy gets its name only once checked) and
    /// writes no second one. A manual job's copy is named after the time it runs.
    func backup(_ job: Job, heartbeat: () -> Bool) throws(StoreError) -> Outcome {
        let name = BackupName.defaultName(at: scheduledTime(of: job) ?? .now())
        var lastRenewal = MonotonicClock.nanoseconds()
        var stopped = false
        var summary: String
        do throws(StoreError) {
            let result = try store.backup(into: backups.directory, name: name) {
                // The lease is renewed at most once a second, not after every step.
                let now = MonotonicClock.nanoseconds()
                guard now - lastRenewal >= 1_000_000_000 else { return true }
                lastRenewal = now
                stopped = !heartbeat()
                return !stopped
            }
            logger.info(
                "backup written",
                metadata: [
                    "job": "\(job.id)", "path": "\(result.path)", "bytes": "\(result.sizeBytes)",
                    "duration_ms": "\(result.durationNanoseconds / 1_000_000)",
                ])
            summary = "ok: wrote \(name) (\(result.sizeBytes) bytes)"
        } catch .backupExists {
            logger.info("backup already written by an earlier attempt", metadata: ["job": "\(job.id)", "name": "\(name)"])
            summary = "ok: \(name) already written"
        } catch .backupFailed(let failure) where failure == .interrupted && stopped {
            return .interrupted
        }
        let removed = BackupRotation(directory: backups.directory, keep: backups.keep, logger: logger).rotate()
        if removed > 0 { summary += ", removed \(removed) old" }
        return .done(summary)
    }

    /// The start of a scheduled job's tick (`backup:<tick>`), or nil for a manual job or when
    /// this runner has no schedule to read the tick with.
    private func scheduledTime(of job: Job) -> Timestamp? {
        guard let every = backups.every, job.id.hasPrefix("backup:"), let tick = Int64(job.id.dropFirst(7)) else {
            return nil
        }
        return Timestamp(milliseconds: tick * every.milliseconds)
    }
}
