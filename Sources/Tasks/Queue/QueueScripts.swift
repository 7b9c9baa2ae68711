/// The Lua scripts that make each queue step atomic in Redis.
enum QueueScripts {
    /// Claims one tick and enqueues its job, or does nothing if another beat claimed it.
    /// KEYS: tick, queue, job, periodic. ARGV: beat, ttl_ms, job_id, task, now_ms, tick, interval_ms.
    static let claimTick = """
        if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
        redis.call('HSET', KEYS[3], 'task', ARGV[4], 'attempts', 0, 'enqueued_at', ARGV[5], 'tick', ARGV[6])
        redis.call('LPUSH', KEYS[2], ARGV[3])
        local last = tonumber(redis.call('HGET', KEYS[4], 'last_tick') or '-1')
        if last < tonumber(ARGV[6]) then
            redis.call('HSET', KEYS[4], 'last_tick', ARGV[6], 'interval_ms', ARGV[7], 'last_enqueued_at', ARGV[5])
        end
        return 1
        """

    /// Enqueues one job now. KEYS: queue, job. ARGV: job_id, task, now_ms.
    static let enqueue = """
        redis.call('HSET', KEYS[2], 'task', ARGV[2], 'attempts', 0, 'enqueued_at', ARGV[3])
        redis.call('LPUSH', KEYS[1], ARGV[1])
        return 1
        """

    /// Records the lease of a job a worker just took. Returns the job hash (empty if unknown);
    /// a job delivered more than max_deliveries times is dead-lettered instead ({'dead', '1'}).
    /// KEYS: leases, job, inflight, dead. ARGV: job_id, deadline_ms, worker, now_ms, max_deliveries.
    static let lease = """
        redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
        if redis.call('EXISTS', KEYS[2]) == 0 then return {} end
        local deliveries = redis.call('HINCRBY', KEYS[2], 'deliveries', 1)
        if deliveries > tonumber(ARGV[5]) then
            redis.call('ZREM', KEYS[1], ARGV[1])
            redis.call('LREM', KEYS[3], 1, ARGV[1])
            redis.call('HSET', KEYS[2], 'last_error', 'delivered ' .. deliveries .. ' times without finishing')
            redis.call('LPUSH', KEYS[4], ARGV[1])
            return {'dead', '1'}
        end
        redis.call('HSET', KEYS[2], 'worker', ARGV[3], 'started_at', ARGV[4])
        return redis.call('HGETALL', KEYS[2])
        """

    /// Extends a lease, only while the job is still in flight. KEYS: leases. ARGV: job_id, deadline_ms.
    static let renew = """
        if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
            redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
            return 1
        end
        return 0
        """

    /// Acknowledges a job that committed. KEYS: inflight, leases, job, periodic.
    /// ARGV: job_id, now_ms, outcome, duration_ms.
    static let ack = """
        redis.call('LREM', KEYS[1], 1, ARGV[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('DEL', KEYS[3])
        redis.call('HSET', KEYS[4], 'last_run_at', ARGV[2], 'last_outcome', ARGV[3], 'last_duration_ms', ARGV[4])
        return 1
        """

    /// Records a failed attempt: retry later, or dead-letter after the last attempt.
    /// KEYS: inflight, leases, job, delayed, dead, periodic.
    /// ARGV: job_id, now_ms, error, max_attempts, retry_at_ms. Returns 'retry' or 'dead'.
    static let fail = """
        redis.call('LREM', KEYS[1], 1, ARGV[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        local attempts = redis.call('HINCRBY', KEYS[3], 'attempts', 1)
        redis.call('HSET', KEYS[3], 'last_error', ARGV[3], 'failed_at', ARGV[2])
        redis.call('HSET', KEYS[6], 'last_run_at', ARGV[2], 'last_outcome', 'failed: ' .. ARGV[3])
        if attempts >= tonumber(ARGV[4]) then
            redis.call('LPUSH', KEYS[5], ARGV[1])
            return 'dead'
        end
        redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
        return 'retry'
        """

    /// Moves expired leases and due retries back to the queue, and leases orphans (taken by a
    /// worker that died before it could record its lease). Returns
    /// {redelivered, retried, next_lease_ms or -1, next_retry_ms or -1}.
    /// KEYS: inflight, leases, delayed, queue. ARGV: now_ms, visibility_ms.
    static let reap = """
        local now = tonumber(ARGV[1])
        local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)
        for _, id in ipairs(expired) do
            redis.call('ZREM', KEYS[2], id)
            if redis.call('LREM', KEYS[1], 1, id) > 0 then redis.call('RPUSH', KEYS[4], id) end
        end
        local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 100)
        for _, id in ipairs(due) do
            redis.call('ZREM', KEYS[3], id)
            redis.call('LPUSH', KEYS[4], id)
        end
        for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, 999)) do
            if not redis.call('ZSCORE', KEYS[2], id) then
                redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
            end
        end
        local nextLease = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2] or '-1'
        local nextRetry = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')[2] or '-1'
        return {#expired, #due, nextLease, nextRetry}
        """
}
