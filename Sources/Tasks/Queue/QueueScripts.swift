/// The Lua scripts that make each queue step atomic in Redis.
///
/// Every time comes from Redis (`TIME`, inside the script), never from the caller's clock: ticks,
/// lease deadlines and retry times then agree across hosts whose clocks do not. Redis 5 and later
/// replicate a script's effects, not the script, so a script may call `TIME` and then write.
/// Keys a script derives from an id (`{P}:job:<id>`, `{P}:pending:<task>`) share the hash tag of
/// the declared keys, so they live in the same Cluster slot.
enum QueueScripts {
    /// Helpers every script starts with.
    private static let prelude = """
        local function now_ms()
            local t = redis.call('TIME')
            return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        -- Moves a job to the dead-letter list with its reason, trimming the list to dead_max
        -- (oldest first, their hashes deleted). Returns how many were trimmed.
        local function bury(inflight, leases, dead, job_prefix, pending_prefix, id, reason, now, dead_max)
            redis.call('LREM', inflight, 1, id)
            redis.call('ZREM', leases, id)
            local job = job_prefix .. id
            local task = redis.call('HGET', job, 'task')
            if task then redis.call('SREM', pending_prefix .. task, id) end
            redis.call('HSET', job, 'last_error', reason, 'failed_at', now)
            redis.call('HDEL', job, 'token')
            redis.call('PERSIST', job)
            redis.call('LPUSH', dead, id)
            local dropped = 0
            while redis.call('LLEN', dead) > dead_max do
                local oldest = redis.call('RPOP', dead)
                redis.call('DEL', job_prefix .. oldest)
                dropped = dropped + 1
            end
            return dropped
        end

        """

    /// Claims the current tick of a periodic task (by Redis's clock) and enqueues its job, unless
    /// a job of that task is still pending (then the tick is recorded as skipped). Refuses any
    /// tick at or before the last one recorded. A task with no history (and a beat that has
    /// handled none) only learns the tick: the first job waits for the next boundary.
    /// KEYS: periodic, pending, queue. ARGV: task, interval_ms, after_tick (-1: none), job_prefix.
    /// Returns {outcome, tick, previous tick or -1, ms to the next boundary}; outcome is
    /// 'enqueued', 'skipped', 'taken' (another beat had it) or 'fresh'.
    static let claimTick = prelude + """
        local now = now_ms()
        local interval = tonumber(ARGV[2])
        local tick = math.floor(now / interval)
        local next_ms = (tick + 1) * interval - now
        local stored = redis.call('HMGET', KEYS[1], 'last_tick', 'interval_ms')
        local last = tonumber(stored[1])
        local old_interval = tonumber(stored[2])
        if last and old_interval and old_interval ~= interval then
            last = math.floor(last * old_interval / interval)
        end
        local after = tonumber(ARGV[3])
        if not last and after >= 0 then last = after end
        if not last then return {'fresh', tick, -1, next_ms} end
        if tick <= last then return {'taken', tick, last, next_ms} end
        redis.call('HSET', KEYS[1], 'last_tick', tick, 'interval_ms', interval)
        for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
            if redis.call('EXISTS', ARGV[4] .. id) == 0 then redis.call('SREM', KEYS[2], id) end
        end
        if redis.call('SCARD', KEYS[2]) > 0 then
            redis.call('HINCRBY', KEYS[1], 'skipped', 1)
            redis.call('HSET', KEYS[1], 'last_skipped_at', now)
            return {'skipped', tick, last, next_ms}
        end
        local id = ARGV[1] .. ':' .. tick
        redis.call('HSET', ARGV[4] .. id, 'task', ARGV[1], 'attempts', 0, 'deliveries', 0, 'enqueued_at', now, 'tick', tick)
        redis.call('LPUSH', KEYS[3], id)
        redis.call('SADD', KEYS[2], id)
        redis.call('HINCRBY', KEYS[1], 'enqueued', 1)
        redis.call('HSET', KEYS[1], 'last_enqueued_at', now)
        return {'enqueued', tick, last, next_ms}
        """

    /// Enqueues one job now; always accepted, and pending like a scheduled one.
    /// KEYS: queue, job, pending. ARGV: job_id, task.
    static let enqueue = prelude + """
        redis.call('HSET', KEYS[2], 'task', ARGV[2], 'attempts', 0, 'deliveries', 0, 'enqueued_at', now_ms())
        redis.call('LPUSH', KEYS[1], ARGV[1])
        redis.call('SADD', KEYS[3], ARGV[1])
        return 1
        """

    /// Leases a job a worker just took (BLMOVE) under a new token. A job whose record vanished
    /// is dropped; one of an unknown task kind, or delivered more than max_deliveries times,
    /// goes to the dead-letter list with its reason.
    /// KEYS: leases, job, inflight, dead.
    /// ARGV: job_id, visibility_ms, worker, max_deliveries, token, known tasks (space-separated),
    /// dead_max, job_prefix, pending_prefix.
    /// Returns {'leased', task, attempts}, {'gone'} or {'dead', reason, trimmed}.
    static let lease = prelude + """
        local now = now_ms()
        if redis.call('EXISTS', KEYS[2]) == 0 then
            redis.call('LREM', KEYS[3], 1, ARGV[1])
            redis.call('ZREM', KEYS[1], ARGV[1])
            return {'gone'}
        end
        local task = redis.call('HGET', KEYS[2], 'task') or ''
        local deliveries = redis.call('HINCRBY', KEYS[2], 'deliveries', 1)
        local known = false
        for name in string.gmatch(ARGV[6], '%S+') do if name == task then known = true end end
        local reason = nil
        if not known then
            reason = 'unknown task kind "' .. task .. '" (enqueued by another version?)'
        elseif deliveries > tonumber(ARGV[4]) then
            reason = 'delivered ' .. deliveries .. ' times without finishing'
        end
        if reason then
            local trimmed = bury(KEYS[3], KEYS[1], KEYS[4], ARGV[8], ARGV[9], ARGV[1], reason, now, tonumber(ARGV[7]))
            return {'dead', reason, trimmed}
        end
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
        redis.call('HSET', KEYS[2], 'worker', ARGV[3], 'started_at', now, 'token', ARGV[5])
        return {'leased', task, redis.call('HGET', KEYS[2], 'attempts') or '0'}
        """

    /// Extends a lease, only for the current token. KEYS: leases, job. ARGV: job_id, token, visibility_ms.
    static let renew = prelude + """
        if redis.call('HGET', KEYS[2], 'token') ~= ARGV[2] or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
            return 0
        end
        redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[3]), ARGV[1])
        return 1
        """

    /// Acknowledges a job that committed, only for the current token; its hash stays 24 h.
    /// KEYS: inflight, leases, job, periodic, pending. ARGV: job_id, token, outcome, duration_ms, keep_s.
    /// Returns 'ok' or 'lost'.
    static let ack = prelude + """
        if redis.call('HGET', KEYS[3], 'token') ~= ARGV[2] then return 'lost' end
        local now = now_ms()
        redis.call('LREM', KEYS[1], 1, ARGV[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('SREM', KEYS[5], ARGV[1])
        redis.call('HDEL', KEYS[3], 'token')
        redis.call('HSET', KEYS[3], 'finished_at', now, 'outcome', ARGV[3])
        redis.call('EXPIRE', KEYS[3], ARGV[5])
        redis.call('HSET', KEYS[4], 'last_run_at', now, 'last_outcome', ARGV[3], 'last_duration_ms', ARGV[4])
        return 'ok'
        """

    /// Records a failed attempt, only for the current token: retry after delay_ms, or
    /// dead-letter after the last attempt.
    /// KEYS: inflight, leases, job, delayed, dead, periodic.
    /// ARGV: job_id, token, error, max_attempts, delay_ms, dead_max, job_prefix, pending_prefix.
    /// Returns {'retry'}, {'dead', trimmed} or {'lost'}.
    static let fail = prelude + """
        if redis.call('HGET', KEYS[3], 'token') ~= ARGV[2] then return {'lost'} end
        local now = now_ms()
        local attempts = redis.call('HINCRBY', KEYS[3], 'attempts', 1)
        redis.call('HSET', KEYS[6], 'last_run_at', now, 'last_outcome', 'failed: ' .. ARGV[3])
        if attempts >= tonumber(ARGV[4]) then
            return {'dead', bury(KEYS[1], KEYS[2], KEYS[5], ARGV[7], ARGV[8], ARGV[1], ARGV[3], now, tonumber(ARGV[6]))}
        end
        redis.call('LREM', KEYS[1], 1, ARGV[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('HDEL', KEYS[3], 'token')
        redis.call('HSET', KEYS[3], 'last_error', ARGV[3], 'failed_at', now)
        redis.call('ZADD', KEYS[4], now + tonumber(ARGV[5]), ARGV[1])
        return {'retry'}
        """

    /// Hands a job back unfinished (its worker is stopping), only for the current token: it goes
    /// to the front of the queue and the delivery does not count.
    /// KEYS: inflight, leases, job, queue. ARGV: job_id, token. Returns 'ok' or 'lost'.
    static let release = prelude + """
        if redis.call('HGET', KEYS[3], 'token') ~= ARGV[2] then return 'lost' end
        redis.call('LREM', KEYS[1], 1, ARGV[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('HDEL', KEYS[3], 'token')
        redis.call('HINCRBY', KEYS[3], 'deliveries', -1)
        redis.call('RPUSH', KEYS[4], ARGV[1])
        return 'ok'
        """

    /// Moves expired leases (their token revoked) and due retries back to the queue, and leases
    /// orphans (taken by a worker that died before it could record its lease).
    /// KEYS: inflight, leases, delayed, queue. ARGV: visibility_ms, job_prefix.
    /// Returns {redelivered, retried, ms to the next lease deadline or -1, ms to the next retry or -1}.
    static let reap = prelude + """
        local now = now_ms()
        local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)
        for _, id in ipairs(expired) do
            redis.call('ZREM', KEYS[2], id)
            redis.call('HDEL', ARGV[2] .. id, 'token')
            if redis.call('LREM', KEYS[1], 1, id) > 0 then redis.call('RPUSH', KEYS[4], id) end
        end
        local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 100)
        for _, id in ipairs(due) do
            redis.call('ZREM', KEYS[3], id)
            redis.call('LPUSH', KEYS[4], id)
        end
        for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, 999)) do
            if not redis.call('ZSCORE', KEYS[2], id) then
                redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), id)
            end
        end
        local function until_first(key)
            local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]
            if not first then return -1 end
            return math.max(tonumber(first) - now, 0)
        end
        return {#expired, #due, until_first(KEYS[2]), until_first(KEYS[3])}
        """

    /// Everything `status` shows, in one read.
    /// KEYS: queue, inflight, delayed, dead, then each task's periodic hash and pending set.
    /// ARGV: number of tasks. Returns {now, queued, in_flight, delayed, dead, first 20 dead ids,
    /// then per task: periodic hash as a flat list, pending count}.
    static let status = prelude + """
        local out = {now_ms(), redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]),
            redis.call('ZCARD', KEYS[3]), redis.call('LLEN', KEYS[4]), redis.call('LRANGE', KEYS[4], 0, 19)}
        for i = 1, tonumber(ARGV[1]) do
            table.insert(out, redis.call('HGETALL', KEYS[3 + 2 * i]))
            table.insert(out, redis.call('SCARD', KEYS[4 + 2 * i]))
        end
        return out
        """

    /// The dead-letter list, newest first, each with its record.
    /// KEYS: dead. ARGV: job_prefix. Returns {id, flat hash, id, flat hash, …}.
    static let deadList = """
        local out = {}
        for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
            table.insert(out, id)
            table.insert(out, redis.call('HGETALL', ARGV[1] .. id))
        end
        return out
        """

    /// Retries or drops dead jobs (one id, or all when the id is ''). 'retry' puts each back on
    /// the queue with fresh attempts (pending again); 'drop' deletes it and its record.
    /// KEYS: dead, queue. ARGV: 'retry' or 'drop', id or '', job_prefix, pending_prefix.
    /// Returns how many were handled.
    static let deadApply = """
        local ids = {ARGV[2]}
        if ARGV[2] == '' then ids = redis.call('LRANGE', KEYS[1], 0, -1) end
        local count = 0
        for _, id in ipairs(ids) do
            local job = ARGV[3] .. id
            if redis.call('LREM', KEYS[1], 0, id) > 0 then
                if ARGV[1] == 'drop' then
                    redis.call('DEL', job)
                    count = count + 1
                elseif redis.call('EXISTS', job) == 1 then
                    redis.call('HSET', job, 'attempts', 0, 'deliveries', 0)
                    redis.call('RPUSH', KEYS[2], id)
                    redis.call('SADD', ARGV[4] .. redis.call('HGET', job, 'task'), id)
                    count = count + 1
                end
            end
        end
        return count
        """

    /// Moves the keys of the layout before hash tags (`P:queue`, …) to the current one
    /// (`{P}:queue`, …), keeping every job and its order; jobs found waiting, delayed or in
    /// flight become pending. Touches keys it derives from ids: the old layout only ever ran on a
    /// single node. Run at start; a no-op once done.
    /// KEYS: old queue, inflight, leases, delayed, dead, then new queue, inflight, leases, delayed, dead.
    /// ARGV: old job prefix, new job prefix, new pending prefix, then old and new periodic key of
    /// each task. Returns how many jobs moved.
    static let migrate = """
        local moved = 0
        local function move_job(id, pending)
            local old = ARGV[1] .. id
            local new = ARGV[2] .. id
            if redis.call('EXISTS', old) == 1 then
                redis.call('RENAME', old, new)
                moved = moved + 1
            end
            local task = redis.call('HGET', new, 'task')
            if pending and task then redis.call('SADD', ARGV[3] .. task, id) end
        end
        -- Lists: old items are older than any new one, so they go to the end jobs are taken
        -- from (the right) for the queue, and after the newer ones for the others.
        for i, pending in ipairs({true, true, false, false, false}) do
            if i ~= 3 and i ~= 4 then
                for _, id in ipairs(redis.call('LRANGE', KEYS[i], 0, -1)) do
                    redis.call('RPUSH', KEYS[5 + i], id)
                    move_job(id, pending)
                end
                redis.call('DEL', KEYS[i])
            end
        end
        -- Sorted sets: leases and retry times keep their scores.
        for i = 3, 4 do
            local entries = redis.call('ZRANGE', KEYS[i], 0, -1, 'WITHSCORES')
            for j = 1, #entries, 2 do
                redis.call('ZADD', KEYS[5 + i], entries[j + 1], entries[j])
                if i == 4 then move_job(entries[j], true) end
            end
            redis.call('DEL', KEYS[i])
        end
        for j = 4, #ARGV, 2 do
            if redis.call('EXISTS', ARGV[j]) == 1 then
                if redis.call('EXISTS', ARGV[j + 1]) == 0 then
                    redis.call('RENAME', ARGV[j], ARGV[j + 1])
                else
                    redis.call('DEL', ARGV[j])
                end
            end
        end
        return moved
        """
}
