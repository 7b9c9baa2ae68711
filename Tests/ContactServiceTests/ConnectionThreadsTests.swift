import Foundation
import Locking
import Testing
import TestSupport

@testable import ContactService

@Suite("ConnectionThreads and ConnectionLane: a fixed set of threads running serial lanes")
struct ConnectionThreadsTests {
    /// The threads of this process named `name` now (other tests run threads of their own meanwhile).
    static func threads(named name: String) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { task in
            let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)
            return comm?.trimmingCharacters(in: .whitespacesAndNewlines) == name
        }.count
    }

    /// What a test's jobs record, touched only by the lane's jobs (so only one at a time, if the
    /// lane is serial: a sanitizer run would report it otherwise).
    final class Record: @unchecked Sendable {
        var inside = false
        var overlaps = 0
        var lastBySender: [Int: Int] = [:]
        var outOfOrder = 0
        var done = 0
    }

    /// Runs `body` with `count` started threads, and stops them after.
    static func withThreads(count: Int, _ body: (ConnectionThreads) throws -> Void) throws {
        let threads = try ConnectionThreads(count: count)
        threads.start()
        defer { threads.stop() }
        try body(threads)
    }

    /// Takes `lane` out of the epoll set, on the lane, and waits for it.
    static func closeOnLane(_ lane: ConnectionLane) throws {
        let closed = DispatchSemaphore(value: 0)
        lane.async {
            lane.close()
            closed.signal()
        }
        guard closed.wait(timeout: .now() + bound(5)) == .success else { throw TestFailure("the lane did not run") }
    }

    @Test("work posted to a lane from four threads runs one job at a time, in each sender's order")
    func laneIsSerial() throws {
        try Self.withThreads(count: 4) { threads in
            // Never registered: only posted work runs on it.
            let lane = ConnectionLane(fd: 1_000_000, threads: threads)
            let record = Record()
            let perSender = 5_000
            DispatchQueue.concurrentPerform(iterations: 4) { sender in
                for n in 0..<perSender {
                    lane.async {
                        if record.inside { record.overlaps += 1 }
                        record.inside = true
                        if let last = record.lastBySender[sender], last >= n { record.outOfOrder += 1 }
                        record.lastBySender[sender] = n
                        record.done += 1
                        record.inside = false
                    }
                }
            }
            let finished = DispatchSemaphore(value: 0)
            lane.async { finished.signal() }
            #expect(finished.wait(timeout: .now() + bound(15)) == .success)
            lane.async {
                #expect(record.done == 4 * perSender)
                #expect(record.overlaps == 0)
                #expect(record.outOfOrder == 0)
                finished.signal()
            }
            #expect(finished.wait(timeout: .now() + bound(15)) == .success)
        }
    }

    @Test("a lane whose work blocks holds one thread; the other lanes go on")
    func blockedLaneHoldsOneThread() throws {
        try Self.withThreads(count: 2) { threads in
            let a = ConnectionLane(fd: 1_000_001, threads: threads)
            let b = ConnectionLane(fd: 1_000_002, threads: threads)
            let release = DispatchSemaphore(value: 0)
            let blocked = DispatchSemaphore(value: 0)
            a.async {
                blocked.signal()
                release.wait()
            }
            #expect(blocked.wait(timeout: .now() + bound(5)) == .success)
            let done = LockedValue(0)
            let all = DispatchSemaphore(value: 0)
            for _ in 0..<1_000 {
                b.async {
                    if done.withLock({ n in
                        n += 1
                        return n
                    }) == 1_000 { all.signal() }
                }
            }
            #expect(all.wait(timeout: .now() + bound(10)) == .success, "lane b did not run while lane a was blocked")
            release.signal()
        }
    }

    @Test("a lane that always has more work goes to the back of the run queue, so a single thread still runs the others")
    func busyLaneYields() throws {
        try Self.withThreads(count: 1) { threads in
            let busy = ConnectionLane(fd: 1_000_003, threads: threads)
            let other = ConnectionLane(fd: 1_000_004, threads: threads)
            let stop = LockedValue(false)
            @Sendable func spin() {
                if !stop.withLock({ $0 }) { busy.async(spin) }
            }
            busy.async(spin)
            let ran = DispatchSemaphore(value: 0)
            other.async { ran.signal() }
            #expect(ran.wait(timeout: .now() + bound(5)) == .success, "a lane that never runs dry kept the only thread")
            stop.withLock { $0 = true }
        }
    }

    @Test("a connection with input is run even while busy lanes keep the run queue full")
    func readyInputIsNotStarvedByTheRunQueue() throws {
        try Self.withThreads(count: 1) { threads in
            let stop = LockedValue(false)
            let spinners = (0..<2).map { ConnectionLane(fd: 1_000_010 + Int32($0), threads: threads) }
            for lane in spinners {
                @Sendable func spin() {
                    if !stop.withLock({ $0 }) { lane.yield(spin) }
                }
                lane.async(spin)
            }
            defer { stop.withLock { $0 = true } }
            var fds: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0)
            let (ours, peer) = (fds[0], fds[1])
            defer {
                close(ours)
                close(peer)
            }
            let lane = ConnectionLane(fd: ours, threads: threads)
            let readable = DispatchSemaphore(value: 0)
            _ = lane.start(
                interest: .read,
                onReadable: {
                    lane.interest.remove(.read)
                    readable.signal()
                }, onWritable: {})
            #expect(write(peer, "x", 1) == 1)
            #expect(
                readable.wait(timeout: .now() + bound(5)) == .success,
                "input waited in epoll while the only thread ran queued lanes")
            try Self.closeOnLane(lane)
        }
    }

    @Test("input left unread fires again (level-triggered); nothing fires while the lane does not want it")
    func readinessIsLevelTriggered() throws {
        try Self.withThreads(count: 2) { threads in
            var fds: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0)
            let (ours, peer) = (fds[0], fds[1])
            defer { close(peer) }
            let lane = ConnectionLane(fd: ours, threads: threads)
            let bytes = LockedValue<[UInt8]>([])
            let stopAfter = LockedValue(3)
            _ = lane.start(
                interest: .read,
                onReadable: {
                    // One byte per event: the rest must fire again.
                    var byte: UInt8 = 0
                    if read(ours, &byte, 1) == 1 { bytes.withLock { $0.append(byte) } }
                    if bytes.withLock({ $0.count }) >= stopAfter.withLock({ $0 }) { lane.interest.remove(.read) }
                }, onWritable: {})
            let payload: [UInt8] = [1, 2, 3, 4, 5]
            #expect(write(peer, payload, payload.count) == payload.count)
            try waitUntil("three bytes are read, one per event") { bytes.withLock { $0 } == [1, 2, 3] }
            usleep(200_000)
            #expect(bytes.withLock { $0 } == [1, 2, 3], "an event fired although the lane no longer wanted input")
            stopAfter.withLock { $0 = 5 }
            lane.async { lane.interest.insert(.read) }
            try waitUntil("the last two bytes are read once input is wanted again") {
                bytes.withLock { $0 } == [1, 2, 3, 4, 5]
            }
            try Self.closeOnLane(lane)
            close(ours)
        }
    }

    @Test("a descriptor epoll refuses (a regular file), or one started after stop, is reported; posted work still runs")
    func refusedDescriptorIsReported() throws {
        let threads = try ConnectionThreads(count: 1)
        threads.start()
        let file = open("/dev/null", O_RDONLY)
        defer { close(file) }
        let lane = ConnectionLane(fd: file, threads: threads)
        #expect(lane.start(interest: .read, onReadable: {}, onWritable: {}) == false)
        #expect(errno == EPERM)
        let ran = DispatchSemaphore(value: 0)
        lane.async { ran.signal() }
        #expect(ran.wait(timeout: .now() + bound(5)) == .success)
        threads.stop()
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        #expect(ConnectionLane(fd: fds[0], threads: threads).start(interest: .read, onReadable: {}, onWritable: {}) == false)
    }

    @Test("the threads are started once, stay that many, and all exit on stop")
    func threadsAreFixedAndExit() throws {
        let name = "ct-fixed-test"
        let threads = try ConnectionThreads(count: 3, name: name)
        #expect(Self.threads(named: name) == 0)
        threads.start()
        try waitUntil("three threads are running") { Self.threads(named: name) == 3 }
        let lanes = (0..<50).map { ConnectionLane(fd: 1_000_100 + Int32($0), threads: threads) }
        let done = DispatchGroup()
        for lane in lanes {
            for _ in 0..<100 {
                done.enter()
                lane.async {
                    usleep(10)
                    done.leave()
                }
            }
        }
        #expect(done.wait(timeout: .now() + bound(15)) == .success)
        #expect(Self.threads(named: name) == 3)
        threads.stop()
        try waitUntil("the three threads have exited") { Self.threads(named: name) == 0 }
    }
}
