import Redis

/// Moving the keys of earlier versions to the current layout.
extension JobQueue {
    /// Moves the keys of the layout before hash tags (`P:queue`, …) to `{P}:queue`, …, so an
    /// upgrade loses no job; returns how many job records moved (0 once done).
    public func migrateLegacyKeys(on redis: RedisConnection) throws(RedisError) -> Int {
        let old = keys.legacy
        var arguments = [
            "EVAL", QueueScripts.migrate, "10", old.queue, old.inflight, old.leases, old.delayed, old.dead,
            keys.queue, keys.inflight, keys.leases, keys.delayed, keys.dead, old.jobPrefix, keys.jobPrefix,
            keys.pendingPrefix,
        ]
        for task in TaskKind.allCases {
            arguments += [keys.legacyPeriodic(task), keys.periodic(task)]
        }
        return Int(try redis.command(arguments).int ?? 0)
    }
}
