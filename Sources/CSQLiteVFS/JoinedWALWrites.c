// A VFS over SQLite's default one that halves the write calls of a commit.
//
// SQLite writes each WAL frame with two calls: its 24-byte header, then the page at the very next
// offset (wal.c, walWriteOneFrame). Each call pays the kernel's fixed cost of a buffered write,
// and at 16 connections of creates the writer thread spent a sixth of its time in them
// (docs/performance.md, "Joined WAL writes"). Here a write of at most 64 bytes to a WAL file is
// held back, and the next write to that file, when it starts where the held bytes end, goes out
// with them in one call; anything else done to the file (another write, a read, a sync, a size,
// a truncate, a file control, closing it) first writes what is held.
//
// Why this is safe: SQLite makes frames visible to readers only after every frame of the commit
// has been written (it then updates the WAL index in shared memory), and each frame ends with its
// page, which is never held, so nothing is ever held at a commit. The WAL's own 32-byte header is
// followed by the first frame's header and page, or by a sync. A process killed while bytes are
// held loses only frames of a transaction that has not committed. When the joined write fails,
// SQLite sees the page's write fail and rolls the transaction back, as it would have.
//
// Only WAL files are wrapped; the database file, journals and temporary files use the default
// methods unchanged.
#include <sqlite3.h>
#include <string.h>

#include "CSQLiteVFS.h"

// What a wrapped WAL file holds after the default VFS's own file structure.
typedef struct {
    // The default methods, and this file's copy with the writes wrapped (pMethods points to it).
    const sqlite3_io_methods *real;
    sqlite3_io_methods wrapped;
    // Bytes held back, and where in the file they go.
    sqlite3_int64 heldOffset;
    int heldLength;
    unsigned char held[64];
    // Where a held write and the next one are joined (grown as needed, freed on close).
    unsigned char *joined;
    int joinedCapacity;
    // Writes joined so far (read by tests, through the connection, on the connection's thread).
    long long joinedWrites;
} WALFile;

static sqlite3_vfs contactsVFS;

// The default VFS's file structure comes first; ours follows it, 8-byte aligned.
static int realFileSize(void) {
    return (((sqlite3_vfs *)contactsVFS.pAppData)->szOsFile + 7) / 8 * 8;
}

static WALFile *walFile(sqlite3_file *file) {
    return (WALFile *)((char *)file + realFileSize());
}

static int writeHeld(sqlite3_file *file) {
    WALFile *wal = walFile(file);
    if (wal->heldLength == 0) return SQLITE_OK;
    int length = wal->heldLength;
    wal->heldLength = 0;
    return wal->real->xWrite(file, wal->held, length, wal->heldOffset);
}

static int walWrite(sqlite3_file *file, const void *bytes, int amount, sqlite3_int64 offset) {
    WALFile *wal = walFile(file);
    if (wal->heldLength > 0 && offset == wal->heldOffset + wal->heldLength) {
        int total = wal->heldLength + amount;
        if (total <= (int)sizeof(wal->held)) {  // two small writes in a row: hold both
            memcpy(wal->held + wal->heldLength, bytes, amount);
            wal->heldLength = total;
            return SQLITE_OK;
        }
        if (wal->joinedCapacity < total) {
            unsigned char *grown = sqlite3_realloc(wal->joined, total);
            if (grown == 0) {  // no memory to join: two writes, as SQLite would have made
                int rc = writeHeld(file);
                return rc != SQLITE_OK ? rc : wal->real->xWrite(file, bytes, amount, offset);
            }
            wal->joined = grown;
            wal->joinedCapacity = total;
        }
        memcpy(wal->joined, wal->held, wal->heldLength);
        memcpy(wal->joined + wal->heldLength, bytes, amount);
        sqlite3_int64 start = wal->heldOffset;
        wal->heldLength = 0;
        wal->joinedWrites += 1;
        return wal->real->xWrite(file, wal->joined, total, start);
    }
    int rc = writeHeld(file);
    if (rc != SQLITE_OK) return rc;
    if (amount <= (int)sizeof(wal->held)) {
        memcpy(wal->held, bytes, amount);
        wal->heldLength = amount;
        wal->heldOffset = offset;
        return SQLITE_OK;
    }
    return wal->real->xWrite(file, bytes, amount, offset);
}

static int walClose(sqlite3_file *file) {
    WALFile *wal = walFile(file);
    const sqlite3_io_methods *real = wal->real;
    int held = writeHeld(file);
    sqlite3_free(wal->joined);
    wal->joined = 0;
    wal->joinedCapacity = 0;
    int rc = real->xClose(file);
    return rc != SQLITE_OK ? rc : held;
}

static int walRead(sqlite3_file *file, void *bytes, int amount, sqlite3_int64 offset) {
    int rc = writeHeld(file);
    return rc != SQLITE_OK ? rc : walFile(file)->real->xRead(file, bytes, amount, offset);
}

static int walTruncate(sqlite3_file *file, sqlite3_int64 size) {
    int rc = writeHeld(file);
    return rc != SQLITE_OK ? rc : walFile(file)->real->xTruncate(file, size);
}

static int walSync(sqlite3_file *file, int flags) {
    int rc = writeHeld(file);
    return rc != SQLITE_OK ? rc : walFile(file)->real->xSync(file, flags);
}

static int walFileSize(sqlite3_file *file, sqlite3_int64 *size) {
    int rc = writeHeld(file);
    return rc != SQLITE_OK ? rc : walFile(file)->real->xFileSize(file, size);
}

static int walFileControl(sqlite3_file *file, int op, void *argument) {
    int rc = writeHeld(file);
    return rc != SQLITE_OK ? rc : walFile(file)->real->xFileControl(file, op, argument);
}

static int contactsOpen(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *outFlags) {
    sqlite3_vfs *real = (sqlite3_vfs *)vfs->pAppData;
    int rc = real->xOpen(real, name, file, flags, outFlags);
    if (rc != SQLITE_OK || (flags & SQLITE_OPEN_WAL) == 0 || file->pMethods == 0) return rc;
    WALFile *wal = walFile(file);
    memset(wal, 0, sizeof(*wal));
    wal->real = file->pMethods;
    wal->wrapped = *file->pMethods;
    wal->wrapped.xWrite = walWrite;
    wal->wrapped.xClose = walClose;
    wal->wrapped.xRead = walRead;
    wal->wrapped.xTruncate = walTruncate;
    wal->wrapped.xSync = walSync;
    wal->wrapped.xFileSize = walFileSize;
    wal->wrapped.xFileControl = walFileControl;
    file->pMethods = &wal->wrapped;
    return rc;
}

int contacts_sqlite_register_vfs(void) {
    sqlite3_vfs *real = sqlite3_vfs_find(0);
    if (real == 0) return SQLITE_ERROR;
    // Every other method is the default VFS's own, called with this structure, whose pAppData
    // only the default xOpen reads (and it is called with the default VFS).
    contactsVFS = *real;
    contactsVFS.zName = "contacts-unix";
    contactsVFS.pAppData = real;
    contactsVFS.szOsFile = (real->szOsFile + 7) / 8 * 8 + (int)sizeof(WALFile);
    contactsVFS.xOpen = contactsOpen;
    contactsVFS.pNext = 0;
    return sqlite3_vfs_register(&contactsVFS, 1);
}

long long contacts_sqlite_joined_wal_writes(sqlite3 *db) {
    sqlite3_file *file = 0;
    // In WAL mode SQLite answers this with the WAL file (sqlite3PagerJrnlFile).
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &file) != SQLITE_OK) return -1;
    if (file == 0 || file->pMethods == 0 || file->pMethods->xWrite != walWrite) return -1;
    return walFile(file)->joinedWrites;
}
