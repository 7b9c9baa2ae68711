import Testing

@testable import ContactStore

@Suite("Validation")
struct ValidationTests {
    private func usernameErrors(_ value: String) -> [FieldError] {
        var errors: [FieldError] = []
        _ = Validation.username(value, into: &errors)
        return errors
    }

    @Test("accepts usernames of letters, digits, dot, underscore and dash", arguments: ["a", "Ada", "0day", "a.b_c-d", String(repeating: "x", count: 64)])
    func validUsernames(_ name: String) {
        #expect(usernameErrors(name).isEmpty)
    }

    @Test("rejects usernames that are empty, too long, badly started or with other characters",
          arguments: ["", "_ada", ".ada", "-ada", "ad a", "adä", "ada@x", String(repeating: "x", count: 65), " ada"])
    func invalidUsernames(_ name: String) {
        #expect(usernameErrors(name).count == 1)
    }

    @Test("names are trimmed, any script, 1 to 100 characters, no control characters")
    func names() {
        var errors: [FieldError] = []
        #expect(Validation.name("  Ada \n", field: "first_name", into: &errors) == "Ada")
        #expect(Validation.name("Łukasz 李 👩‍💻", field: "first_name", into: &errors) != nil)
        #expect(Validation.name(String(repeating: "é", count: 100), field: "f", into: &errors) != nil)
        #expect(errors.isEmpty)
        #expect(Validation.name("   ", field: "f", into: &errors) == nil)
        #expect(Validation.name(String(repeating: "é", count: 101), field: "f", into: &errors) == nil)
        #expect(Validation.name("a\u{7}b", field: "f", into: &errors) == nil)
        #expect(errors.count == 3)
    }

    @Test("emails need one @, a local part and a dotted domain", arguments: [
        ("ada@example.com", true), (" ada@example.com ", true), ("a.b+c@sub.example.org", true),
        ("ada", false), ("@example.com", false), ("ada@example", false), ("a@b@example.com", false),
        ("ada@.com", false), ("ada@example.", false), ("a da@example.com", false), ("", false),
    ])
    func emails(_ address: String, valid: Bool) {
        var errors: [FieldError] = []
        #expect((Validation.email(address, field: "emails[0]", into: &errors) != nil) == valid)
    }

    @Test("an email of 254 characters is accepted and 255 is not")
    func emailLength() {
        var errors: [FieldError] = []
        let domain = "@example.com"
        let ok = String(repeating: "a", count: 254 - domain.count) + domain
        #expect(Validation.email(ok, field: "e", into: &errors) != nil)
        #expect(Validation.email("a" + ok, field: "e", into: &errors) == nil)
    }

    @Test("an email list reports each bad entry by index, and case-insensitive duplicates")
    func emailList() {
        var errors: [FieldError] = []
        let result = Validation.emails(["a@example.com", "bad", "A@EXAMPLE.COM"], into: &errors)
        #expect(result == nil)
        #expect(errors.map(\.field) == ["emails[1]", "emails[2]"])
    }

    @Test("more than 20 emails is refused")
    func tooManyEmails() {
        var errors: [FieldError] = []
        #expect(Validation.emails((0..<21).map { "u\($0)@example.com" }, into: &errors) == nil)
        #expect(errors.map(\.field) == ["emails"])
    }

    @Test("timestamps render as RFC 3339 UTC with milliseconds")
    func timestamps() {
        #expect(Timestamp(milliseconds: 0).rfc3339 == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(milliseconds: 1_795_736_410_123).rfc3339 == "2026-11-26T23:40:10.123Z")
        #expect(Timestamp(milliseconds: 951_782_400_007).rfc3339 == "2000-02-29T00:00:00.007Z")
    }

    @Test(
        "the RFC 3339 form reads back to the same millisecond",
        arguments: [0, 1_795_736_410_123, 951_782_400_007, 4_102_444_799_999, 68_256_000_000] as [Int64])
    func timestampsReadBack(_ milliseconds: Int64) {
        let written = Timestamp(milliseconds: milliseconds).rfc3339
        #expect(Timestamp(rfc3339: written) == Timestamp(milliseconds: milliseconds))
    }

    @Test(
        "text that is not the server's RFC 3339 form is not read as a timestamp",
        arguments: [
            "", "2026-11-26T23:40:10Z", "2026-11-26T23:40:10.123+00:00", "2026-11-26 23:40:10.123Z",
            "2026-13-26T23:40:10.123Z", "2026-11-26T24:00:00.000Z", "2026-11-2xT23:40:10.123Z",
        ])
    func timestampsRefused(_ text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test("cursors round-trip and forged ones are rejected")
    func cursors() {
        #expect(ListCursor.decode(ListCursor.encode(after: "Ada_1")) == "Ada_1")
        for forged in ["", "c", "cz1", "x616461", "c61646", "c20", "c7a", "c616461", "c6164618fd40cfe"] {
            #expect(ListCursor.decode(forged) == nil)
        }
    }
}
