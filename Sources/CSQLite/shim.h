#ifndef CONTACTS_CSQLITE_SHIM_H
#define CONTACTS_CSQLITE_SHIM_H
#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro casting -1 to a function pointer, which Swift
// cannot import. Binding with it makes SQLite copy the bytes immediately.
static inline sqlite3_destructor_type contacts_sqlite_transient(void) {
    return SQLITE_TRANSIENT;
}

// sqlite3_config is variadic, which Swift cannot call. Memory statistics make every SQLite
// allocation take a global mutex; the server does not read them, so they are switched off.
static inline int contacts_sqlite_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

#include <stdint.h>

// Copies the two copies of SQLite's WAL-index header (the first 96 bytes of the -shm file) the
// way SQLite's own walIndexTryHdr does: volatile loads after an acquire fence, so a commit in
// progress in another process shows up as two copies that differ. See walformat.html.
static inline void contacts_read_wal_index_header(const void *shm, uint64_t out[12]) {
    const volatile uint64_t *words = (const volatile uint64_t *)shm;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    for (int i = 0; i < 12; i++) out[i] = words[i];
}
// The first 32 KB region of the WAL index (the -shm shared memory), as SQLite's own VFS has
// mapped it for this connection, or NULL (not in WAL mode, or not opened yet). The mapping stays
// valid while the connection is open. Going through SQLite matters: a second descriptor of the
// -shm file, once closed, would drop every POSIX lock this process holds on it (SQLite's
// included), and other processes would then rebuild the WAL index under the open connections.
static inline const void *contacts_wal_index(sqlite3 *db) {
    sqlite3_file *file = 0;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || file == 0) return 0;
    const sqlite3_io_methods *methods = file->pMethods;
    if (methods == 0 || methods->iVersion < 2 || methods->xShmMap == 0) return 0;
    volatile void *region = 0;
    if (methods->xShmMap(file, 0, 32768, 0, &region) != SQLITE_OK) return 0;
    return (const void *)region;
}
#endif
