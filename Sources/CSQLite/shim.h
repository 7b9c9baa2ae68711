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
#endif
