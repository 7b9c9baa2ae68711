// Connects to contactsd, creates a contact, reads it back, lists, and deletes it, printing each
// step. The socket is `CONTACTS_SOCKET`, else the default the server uses (ContactClient's
// `defaultSocketPath`); a first argument names another. Exit status 0 on success, 1 when the
// server refuses a request, 3 when it cannot be reached (as the `contacts` command).
import ContactClient

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments.dropFirst()
let socketPath = arguments.first ?? ContactClient.defaultSocketPath
let username = "quickstart-\(getpid())"

do throws(ClientError) {
    let client = try ContactClient(socketPath: socketPath)
    print("connected to \(client.socketPath)")

    let created = try client.create(
        username: username, firstName: "Ada", lastName: "Lovelace", emails: ["\(username)@example.com"])
    print("created \(created.username) (version \(created.version), created at \(created.createdAt))")

    // Usernames are found in any case.
    let fetched = try client.get(username.uppercased())
    print("got \(fetched.username): \(fetched.firstName) \(fetched.lastName) <\(fetched.emails.joined(separator: ", "))>")

    // Every page, following the cursor.
    var cursor: String?
    var listed: [ContactRecord] = []
    repeat {
        let page = try client.list(limit: 100, cursor: cursor)
        listed += page.contacts
        cursor = page.nextCursor
    } while cursor != nil
    print("listed \(listed.count) contact(s), \(username) among them: \(listed.contains { $0.username == username })")

    let deleted = try client.delete(username, expectedVersion: fetched.version)
    print("deleted \(deleted)")

    // A second delete fails: the server's JSON-RPC error comes back as `.server`.
    do throws(ClientError) {
        try client.delete(username)
    } catch .server(let error) {
        print("deleting again: error \(error.code): \(error.message)")
    }
} catch {
    // write(2) rather than fputs(stderr): Swift 6 refuses C's global `stderr` (shared mutable state).
    var line = "contacts-quickstart: \(error)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(error.isUnreachable ? 3 : 1)
}
