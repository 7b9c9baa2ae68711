#ifndef CONTACTS_CSQLITEVFS_H
#define CONTACTS_CSQLITEVFS_H

// The SQLite VFS the store uses: the default (unix) one, except that a WAL frame's 24-byte header
// and the page after it go to the WAL file in one write instead of two (JoinedWALWrites.c says why
// and how). Registered as the default VFS; call once, before the first connection opens.
// Returns SQLITE_OK, or SQLite's error code (the default VFS then stays in use).
int contacts_sqlite_register_vfs(void);

#include <sqlite3.h>

// How many writes to the WAL file of db's main database were joined with the write before them
// since that file was opened, or -1 when this VFS does not wrap that file (no WAL open yet,
// another VFS). For tests.
long long contacts_sqlite_joined_wal_writes(sqlite3 *db);

#endif
