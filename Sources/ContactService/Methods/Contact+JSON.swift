import ContactStore
import JSONRPC

extension Contact {
    /// Writes the wire form: username, names, emails, timestamps, version, in that order.
    func write(to writer: inout JSONWriter) {
        writer.writeRaw("{\"username\":")
        writer.writeString(username)
        writer.writeRaw(",\"first_name\":")
        writer.writeString(firstName)
        writer.writeRaw(",\"last_name\":")
        writer.writeString(lastName)
        writer.writeRaw(",\"emails\":[")
        for (index, email) in emails.enumerated() {
            if index > 0 { writer.writeRaw(",") }
            writer.writeString(email.address)
        }
        writer.writeRaw("],\"created_at\":\"")
        createdAt.appendRFC3339(to: &writer.bytes)
        writer.writeRaw("\",\"updated_at\":\"")
        updatedAt.appendRFC3339(to: &writer.bytes)
        writer.writeRaw("\",\"version\":")
        writer.writeInt(Int(version))
        writer.writeRaw("}")
    }

    /// The wire form as a result fragment.
    var fragment: JSONFragment {
        var writer = JSONWriter(capacity: 256)
        write(to: &writer)
        return JSONFragment(bytes: writer.bytes)
    }
}

extension ContactPage {
    /// `{"contacts": [...], "next_cursor": string|null}`, or nil as soon as the encoding passes
    /// `maxBytes` (the reply is then never built in full).
    func fragment(maxBytes: Int) -> JSONFragment? {
        var writer = JSONWriter(capacity: 64 + contacts.count * 256)
        writer.writeRaw("{\"contacts\":[")
        for (index, contact) in contacts.enumerated() {
            if index > 0 { writer.writeRaw(",") }
            contact.write(to: &writer)
            if writer.bytes.count > maxBytes { return nil }
        }
        writer.writeRaw("],\"next_cursor\":")
        if let nextCursor { writer.writeString(nextCursor) } else { writer.writeNull() }
        writer.writeRaw(",\"head_seq\":")
        writer.writeInt(Int(headSeq))
        writer.writeRaw("}")
        return JSONFragment(bytes: writer.bytes)
    }
}

extension Change {
    /// Writes the wire form: seq, op, username, old_username (on a rename only), version, at,
    /// author, contact, in that order.
    func write(to writer: inout JSONWriter) {
        writer.writeRaw("{\"seq\":")
        writer.writeInt(Int(seq))
        writer.writeRaw(",\"op\":")
        writer.writeString(operation.rawValue)
        writer.writeRaw(",\"username\":")
        writer.writeString(username)
        if let oldUsername {
            writer.writeRaw(",\"old_username\":")
            writer.writeString(oldUsername)
        }
        writer.writeRaw(",\"version\":")
        writer.writeInt(Int(version))
        writer.writeRaw(",\"at\":\"")
        at.appendRFC3339(to: &writer.bytes)
        writer.writeRaw("\",\"author\":")
        writer.writeString(author)
        writer.writeRaw(",\"contact\":")
        contact.write(to: &writer)
        writer.writeRaw("}")
    }
}

extension ChangePage {
    /// `{"changes": [...], "next": seq}`, or nil as soon as the encoding passes `maxBytes`.
    func fragment(maxBytes: Int) -> JSONFragment? {
        var writer = JSONWriter(capacity: 64 + changes.count * 320)
        writer.writeRaw("{\"changes\":[")
        for (index, change) in changes.enumerated() {
            if index > 0 { writer.writeRaw(",") }
            change.write(to: &writer)
            if writer.bytes.count > maxBytes { return nil }
        }
        writer.writeRaw("],\"next\":")
        writer.writeInt(Int(next))
        writer.writeRaw("}")
        return JSONFragment(bytes: writer.bytes)
    }
}
