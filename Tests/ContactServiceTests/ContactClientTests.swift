import ContactClient
import Foundation
import JSONRPC
import Testing

@Suite("the ContactClient library against a real server")
struct ContactClientTests {
    @Test("the typed API creates, gets, lists, updates and deletes")
    func typedAPI() throws {
        try withRunningServer { server in
            let client = try ContactClient(socketPath: server.socketPath)
            let created = try client.create(username: "ada", firstName: "Ada", lastName: "Lovelace", emails: ["ada@example.com"])
            #expect(created.version == 1 && created.emails == ["ada@example.com"])
            #expect(try client.get("ADA").username == "ada")
            #expect(try client.list(limit: 10).contacts.map(\.username) == ["ada"])
            var changes = JSONObject()
            changes.append("add_emails", ["lovelace@example.org"])
            #expect(try client.update("ada", changes).emails == ["ada@example.com", "lovelace@example.org"])
            #expect(try client.delete("ada", expectedVersion: 2) == "ada")
        }
    }

    @Test("server errors come back typed, with the error object")
    func typedErrors() throws {
        try withRunningServer { server in
            let client = try ContactClient(socketPath: server.socketPath)
            do throws(ClientError) {
                _ = try client.get("nobody")
                Issue.record("expected a 404")
            } catch .server(let error) {
                #expect(error.code == 404 && error.message == "no contact named \"nobody\"")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test("pipelined and batched requests come back in request order")
    func pipelineAndBatch() throws {
        try withRunningServer { server in
            let client = try ContactClient(socketPath: server.socketPath)
            let requests = (0..<10).map { n in
                ContactClient.Request(method: "contacts.create", params: [.string("u\(n)"), "F", "L"])
            }
            let created = try client.pipeline(requests)
            #expect(created.compactMap { try? $0.get()["username"]?.stringValue } == (0..<10).map { "u\($0)" })
            let batch = try client.batch([
                ContactClient.Request(method: "contacts.get", params: ["u3"]),
                ContactClient.Request(method: "contacts.get", params: ["missing"]),
                ContactClient.Request(method: "server.ping"),
            ])
            #expect(try batch[0].get()["username"] == "u3")
            #expect(throws: ClientError.self) { try batch[1].get() }
            #expect(try batch[2].get()["pong"] == true)
        }
    }

    @Test("no server gives cannotConnect; a server that stops mid-call gives connectionClosed")
    func transportErrors() throws {
        #expect(throws: ClientError.self) { try ContactClient(socketPath: "/tmp/contacts-client-none.sock") }
        let server = try TestServer()
        let client = try ContactClient(socketPath: server.socketPath, readTimeout: 5)
        server.stop(signal: SIGKILL)
        do throws(ClientError) {
            _ = try client.get("x")
            Issue.record("expected a failure")
        } catch {
            #expect(error.isUnreachable)
        }
    }
}
