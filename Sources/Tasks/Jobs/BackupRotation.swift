import ContactStore
import Glibc
import Logging

/// Removes the oldest periodic backups beyond a count.
///
/// Only regular files whose names have the default form `contacts-YYYYMMDDTHHMMSSZ.db` are
/// counted and removed, newest kept (the names sort by time); anything else in the directory,
/// a backup named by hand included, is never touched, and symbolic links are never followed.
struct BackupRotation {
    let directory: String
    let keep: Int
    let logger: Logger

    /// Removes the oldest periodic copies beyond `keep`; returns how many went. A file that
    /// cannot be removed is logged and left for the next rotation.
    func rotate() -> Int {
        let names = periodicCopies().sorted(by: >)
        var removed = 0
        for name in names.dropFirst(keep) {
            if unlink(directory + "/" + name) == 0 {
                removed += 1
            } else {
                logger.warning(
                    "cannot remove an old backup",
                    metadata: ["path": "\(directory)/\(name)", "error": "\(String(cString: strerror(errno)))"])
            }
        }
        if removed > 0 { logger.info("removed old backups", metadata: ["count": "\(removed)", "kept": "\(keep)"]) }
        return removed
    }

    /// The names of the regular files in `directory` that have the default backup name's form.
    func periodicCopies() -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard BackupName.isDefaultName(name) else { continue }
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            names.append(name)
        }
        return names
    }
}
