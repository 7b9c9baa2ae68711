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
#endif
