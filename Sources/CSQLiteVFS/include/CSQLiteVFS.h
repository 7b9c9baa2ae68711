#ifndef CONTACTS_CSQLITEVFS_H
#define CONTACTS_CSQLITEVFS_H

// The SQLite VFS the store uses: the default (unix) one, except that the writes of a commit's
// WAL frames (two per page: its 24-byte header, then the page) are gathered and go to the WAL file
// in a few calls (GatheredWALWrites.c says why, and why it is safe). Registered as the default
// VFS; call once, before the first connection opens. Returns SQLITE_OK, or SQLite's error code
// (the default VFS then stays in use).
int contacts_sqlite_register_vfs(void);

#include <sqlite3.h>

// How many write calls reached the WAL file of db's main database since that file was opened, or
// -1 when this VFS does not gather for that file (no WAL open yet, another VFS). For tests.
long long contacts_sqlite_wal_write_calls(sqlite3 *db);

#endif
