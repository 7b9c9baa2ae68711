import Glibc
import Logging

/// Fits the connection limit into the process's open-file limit (`RLIMIT_NOFILE`).
///
/// The process must never run out of descriptors: libdispatch opens `/proc/TID/stat` to watch its
/// worker threads and kills the process (SIGILL) when that open fails with `EMFILE`, and it creates
/// timer descriptors lazily. So at start the soft limit is raised toward the hard limit as far as
/// needed, and if it still cannot cover `--max-connections` plus everything else, the connection
/// limit is lowered to what fits. Everything else is: the descriptors open now, those the socket
/// server holds (listener, lock file, reserve), refused connections being closed, two per database
/// reader, and `headroom`.
struct DescriptorBudget {
    /// Descriptors each pooled reader holds: the database file and its `-wal` (the `-shm` is shared).
    static let perReader = 2
    /// Kept free for what opens descriptors by itself: libdispatch (timers, its thread monitor's
    /// `/proc` reads), SQLite's temporary files, logging.
    static let headroom = 16

    /// The soft open-file limit after raising it.
    let limit: Int
    /// Descriptors needed besides connections.
    let fixed: Int
    /// Connections that fit: `--max-connections`, or fewer when the limit is too low.
    let maxConnections: Int

    /// Raises the soft limit as far as `maxConnections` needs (never past the hard limit) and
    /// works out how many connections fit.
    init(maxConnections wanted: Int, maxReaders: Int, serverDescriptors: Int) {
        fixed = Self.descriptorsInUse() + serverDescriptors + Self.perReader * maxReaders + Self.headroom
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        if getrlimit(resource, &limit) == 0 {
            let needed = rlim_t(fixed + wanted)
            if limit.rlim_cur < needed {
                var raised = limit
                raised.rlim_cur = min(needed, limit.rlim_max)
                if setrlimit(resource, &raised) == 0 { limit = raised }
            }
            self.limit = limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
        } else {
            self.limit = Int.max
        }
        maxConnections = min(wanted, self.limit - fixed)
    }

    /// Descriptors open in this process now.
    static func descriptorsInUse() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 3 }
        defer { closedir(directory) }
        var entries = 0
        while readdir(directory) != nil { entries += 1 }
        // Not counted: "." and "..", and the descriptor of the listing itself.
        return entries - 3
    }
}
