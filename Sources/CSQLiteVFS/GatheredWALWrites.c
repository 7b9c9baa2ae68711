// A VFS over SQLite's default one that writes a commit's WAL frames in a few calls, not two per page.
//
// SQLite writes each WAL frame with two calls: its 24-byte header, then the page at the very next
// offset (wal.c, walWriteOneFrame). Each call pays the kernel's fixed cost of a buffered write,
// and under creates at 16 connections the writer thread spent a fifth of its time in them, for
// about 36 frames per commit (docs/performance.md, "Checkpoints off the writer, and gathered WAL
// writes"). Here the writes to a WAL file that follow one another (each starting where the last
// ended) are gathered in memory and go out in one call when the commit's last frame is complete
// (its header carries the database size, which only a commit frame's does), when they reach
// `maxGathered`, or before anything else is done to the file: a write elsewhere, a read, a sync,
// a size, a truncate, a file control, closing it.
//
// Why this is safe:
// - SQLite makes a commit's frames visible to readers only after it has written all of them: it
//   then adds them to the WAL index and publishes the index header in shared memory, with a
//   memory barrier of the database file's (`xShmBarrier`) between the header's two copies. The
//   commit frame ends the gathering, and in case anything is still gathered then, the database
//   file's barrier (and each of its shared-memory locks) writes it first. So no reader, in this
//   process or another, can see a frame that is not in the file, and when COMMIT returns (the
//   write is acknowledged) every byte of it is in the file, where a kill -9 cannot lose it.
// - Frames rewritten inside a transaction (checksums redone after a page was written twice) are
//   each read back before they are written, and a write after a read is never held.
// - A process killed while bytes are gathered loses only frames of a transaction that has not
//   committed: SQLite's recovery ignores them, as it ignores a torn write.
// - When a gathered write fails, it fails the SQLite write that ends the gathering, which fails
//   the transaction, as the first failed write would have.
// - The default VFS writes at most 128 KiB - 1 per call (it masks the length), so a gathering ends
//   below that.
//
// Only WAL files gather; database files are wrapped only so that their barrier and locks write
// what their WAL has gathered. Journals and temporary files use the default methods unchanged.
#include <sqlite3.h>
#include <string.h>

#include "CSQLiteVFS.h"

// Most bytes gathered before they are written: below the default VFS's 128 KiB - 1 per write.
#define maxGathered (120 * 1024)
// The size of a WAL frame header (wal.c, WAL_FRAME_HDRSIZE).
#define frameHeaderSize 24

// What a wrapped file holds after the default VFS's own file structure.
typedef struct ContactsFile ContactsFile;
struct ContactsFile {
    // The default methods, and this file's copy with some wrapped (pMethods points to it); real
    // is NULL while the file is not wrapped.
    const sqlite3_io_methods *real;
    sqlite3_io_methods wrapped;
    // A WAL file: its database file (NULL once closed), the bytes gathered and where they go,
    // whether a commit frame's header is among them, and whether the last call was a read.
    sqlite3_file *database;
    unsigned char *gathered;
    int gatheredCapacity;
    int gatheredLength;
    sqlite3_int64 gatheredOffset;
    int commitFrameStarted;
    int lastWasRead;
    // Write calls made to the file (read by tests, on the connection's thread).
    long long writeCalls;
    // A database file: its open WAL file, whose gathered bytes go out before any barrier or lock.
    sqlite3_file *wal;
};

static sqlite3_vfs contactsVFS;

// The default VFS's file structure comes first; ours follows it, 8-byte aligned.
static int realFileSize(void) {
    return (((sqlite3_vfs *)contactsVFS.pAppData)->szOsFile + 7) / 8 * 8;
}

static ContactsFile *state(sqlite3_file *file) {
    return (ContactsFile *)((char *)file + realFileSize());
}

// Writes what `file` (a WAL file) has gathered.
static int writeGathered(sqlite3_file *file) {
    ContactsFile *wal = state(file);
    wal->commitFrameStarted = 0;
    if (wal->gatheredLength == 0) return SQLITE_OK;
    int length = wal->gatheredLength;
    wal->gatheredLength = 0;
    wal->writeCalls += 1;
    return wal->real->xWrite(file, wal->gathered, length, wal->gatheredOffset);
}

// Writes `bytes` to `file` (a WAL file) now.
static int writeNow(sqlite3_file *file, const void *bytes, int amount, sqlite3_int64 offset) {
    ContactsFile *wal = state(file);
    wal->writeCalls += 1;
    return wal->real->xWrite(file, bytes, amount, offset);
}

static int walWrite(sqlite3_file *file, const void *bytes, int amount, sqlite3_int64 offset) {
    ContactsFile *wal = state(file);
    // Bytes 4 to 7 of a frame header: the database size in pages after a commit, else 0.
    const unsigned char *header = bytes;
    int commitHeader = amount == frameHeaderSize && (header[4] | header[5] | header[6] | header[7]) != 0;
    int follows = wal->gatheredLength > 0 && offset == wal->gatheredOffset + wal->gatheredLength;
    if (!follows || wal->gatheredLength + amount > maxGathered) {
        int rc = writeGathered(file);
        if (rc != SQLITE_OK) return rc;
        // After a read (a frame rewritten in place), or too large to gather: written now.
        if (wal->lastWasRead || amount > maxGathered) {
            wal->commitFrameStarted = commitHeader;
            return writeNow(file, bytes, amount, offset);
        }
        wal->gatheredOffset = offset;
    }
    int total = wal->gatheredLength + amount;
    if (wal->gatheredCapacity < total) {
        int capacity = wal->gatheredCapacity > 0 ? wal->gatheredCapacity : 16384;
        while (capacity < total) capacity *= 2;
        unsigned char *grown = sqlite3_realloc(wal->gathered, capacity);
        if (grown == 0) {  // no memory to gather: written now, as SQLite would have
            int rc = writeGathered(file);
            return rc != SQLITE_OK ? rc : writeNow(file, bytes, amount, offset);
        }
        wal->gathered = grown;
        wal->gatheredCapacity = capacity;
    }
    memcpy(wal->gathered + wal->gatheredLength, bytes, amount);
    wal->gatheredLength = total;
    if (commitHeader) {
        wal->commitFrameStarted = 1;
        return SQLITE_OK;
    }
    // The page after a commit frame's header: the commit's last write.
    return wal->commitFrameStarted && amount > frameHeaderSize ? writeGathered(file) : SQLITE_OK;
}

static int walRead(sqlite3_file *file, void *bytes, int amount, sqlite3_int64 offset) {
    ContactsFile *wal = state(file);
    int rc = writeGathered(file);
    wal->lastWasRead = 1;
    return rc != SQLITE_OK ? rc : wal->real->xRead(file, bytes, amount, offset);
}

// A write clears `lastWasRead`; every other call writes what is gathered first.
static int walWriteAfterAny(sqlite3_file *file, const void *bytes, int amount, sqlite3_int64 offset) {
    int rc = walWrite(file, bytes, amount, offset);
    state(file)->lastWasRead = 0;
    return rc;
}

static int walTruncate(sqlite3_file *file, sqlite3_int64 size) {
    int rc = writeGathered(file);
    return rc != SQLITE_OK ? rc : state(file)->real->xTruncate(file, size);
}

static int walSync(sqlite3_file *file, int flags) {
    int rc = writeGathered(file);
    return rc != SQLITE_OK ? rc : state(file)->real->xSync(file, flags);
}

static int walFileSize(sqlite3_file *file, sqlite3_int64 *size) {
    int rc = writeGathered(file);
    return rc != SQLITE_OK ? rc : state(file)->real->xFileSize(file, size);
}

static int walFileControl(sqlite3_file *file, int op, void *argument) {
    int rc = writeGathered(file);
    return rc != SQLITE_OK ? rc : state(file)->real->xFileControl(file, op, argument);
}

static int walClose(sqlite3_file *file) {
    ContactsFile *wal = state(file);
    const sqlite3_io_methods *real = wal->real;
    int gathered = writeGathered(file);
    if (wal->database != 0) state(wal->database)->wal = 0;
    wal->database = 0;
    sqlite3_free(wal->gathered);
    wal->gathered = 0;
    wal->gatheredCapacity = 0;
    int rc = real->xClose(file);
    return rc != SQLITE_OK ? rc : gathered;
}

static void databaseShmBarrier(sqlite3_file *file) {
    ContactsFile *database = state(file);
    // Nothing is gathered here in the writes SQLite makes (see the top); a failure could not be
    // reported through a barrier, and the write that ended the gathering already reported it.
    if (database->wal != 0) (void)writeGathered(database->wal);
    database->real->xShmBarrier(file);
}

static int databaseShmLock(sqlite3_file *file, int offset, int count, int flags) {
    ContactsFile *database = state(file);
    if (database->wal != 0) {
        int rc = writeGathered(database->wal);
        if (rc != SQLITE_OK) return rc;
    }
    return database->real->xShmLock(file, offset, count, flags);
}

static int databaseClose(sqlite3_file *file) {
    ContactsFile *database = state(file);
    const sqlite3_io_methods *real = database->real;
    if (database->wal != 0) state(database->wal)->database = 0;
    database->wal = 0;
    return real->xClose(file);
}

// Points `file`'s methods at its own copy of `real`, to have some of them replaced.
static void wrap(sqlite3_file *file, ContactsFile *wrapped) {
    wrapped->real = file->pMethods;
    wrapped->wrapped = *file->pMethods;
    file->pMethods = &wrapped->wrapped;
}

static int contactsOpen(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *outFlags) {
    sqlite3_vfs *real = (sqlite3_vfs *)vfs->pAppData;
    ContactsFile *opened = state(file);
    memset(opened, 0, sizeof(*opened));
    int rc = real->xOpen(real, name, file, flags, outFlags);
    if (rc != SQLITE_OK || (flags & SQLITE_OPEN_WAL) == 0 || file->pMethods == 0) return rc;
    sqlite3_file *database = sqlite3_database_file_object(name);
    // The database file was opened by this VFS (the WAL is named after it), with shared memory.
    if (database == 0 || database->pMethods == 0 || database->pMethods->iVersion < 2) return rc;
    wrap(file, opened);
    opened->wrapped.xWrite = walWriteAfterAny;
    opened->wrapped.xRead = walRead;
    opened->wrapped.xTruncate = walTruncate;
    opened->wrapped.xSync = walSync;
    opened->wrapped.xFileSize = walFileSize;
    opened->wrapped.xFileControl = walFileControl;
    opened->wrapped.xClose = walClose;
    ContactsFile *databaseState = state(database);
    if (databaseState->real == 0) {
        wrap(database, databaseState);
        databaseState->wrapped.xShmBarrier = databaseShmBarrier;
        databaseState->wrapped.xShmLock = databaseShmLock;
        databaseState->wrapped.xClose = databaseClose;
    }
    databaseState->wal = file;
    opened->database = database;
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
    contactsVFS.szOsFile = realFileSize() + (int)sizeof(ContactsFile);
    contactsVFS.xOpen = contactsOpen;
    contactsVFS.pNext = 0;
    return sqlite3_vfs_register(&contactsVFS, 1);
}

long long contacts_sqlite_wal_write_calls(sqlite3 *db) {
    sqlite3_file *file = 0;
    // In WAL mode SQLite answers this with the WAL file (sqlite3PagerJrnlFile).
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &file) != SQLITE_OK) return -1;
    if (file == 0 || file->pMethods == 0 || file->pMethods->xWrite != walWriteAfterAny) return -1;
    return state(file)->writeCalls;
}
