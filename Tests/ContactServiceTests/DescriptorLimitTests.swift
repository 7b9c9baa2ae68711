import Foundation
import JSONRPC
import TestSupport
import Testing

@Suite("descriptor limits")
struct DescriptorLimitTests {
    private let ping = #"{"jsonrpc":"2.0","id":1,"method":"server.ping"}"#

    @Test("under ulimit -n 64, 80 connections at once are each served or refused with a line, and the server lives on")
    func connectionsOverTheDescriptorLimit() throws {
        let server = try TestServer(openFileLimit: 64)
        // Every connection is made before any is answered: those past the limit wait in the backlog.
        var clients: [LineClient?] = try (0..<80).map { _ in try server.connect() }
        for client in clients { try client?.send(ping) }
        var served = 0
        var refused = 0
        for index in clients.indices {
            let answer = try #require(try clients[index]?.readJSON())
            if answer["result"] != nil {
                served += 1
            } else {
                #expect(answer.errorCode == -32000, "\(answer.jsonString)")
                #expect(try clients[index]?.readLine() == nil, "a refused connection was not closed")
                refused += 1
                clients[index] = nil  // frees the server's refusal slot at once
            }
        }
        #expect(served > 0)
        #expect(served + refused == 80)
        #expect(server.process.isRunning)
        clients.removeAll()
        try waitUntil("a new client is served") {
            (try? server.connect().call(ping))?["result"] != nil
        }
        #expect(server.stop() == 0)
        #expect(server.stderrText().contains("lowered --max-connections from 4096 to"))
    }

    @Test("an open-file limit too low for even one connection is refused at start with exit 78")
    func limitTooLow() throws {
        let server = try TestServer(waitForSocket: false, openFileLimit: 24)
        #expect(server.stop(signal: 0) == 78)
        #expect(server.stderrText().contains("the open-file limit (ulimit -n) is 24, too low"))
    }
}
