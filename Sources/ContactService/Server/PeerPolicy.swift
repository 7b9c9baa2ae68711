import Glibc

/// Which peers may use the socket, judged by the uid and groups the kernel reports for the process
/// at the other end (`SO_PEERCRED` and `SO_PEERGROUPS`, read once on accept). A peer is served
/// when its uid, its primary gid or one of its supplementary groups is allowed (group access to a
/// socket is usually given by a supplementary group, as the file mode itself checks).
///
/// Always allowed: the server's own uid and root (uid 0). Also allowed by default: the socket
/// file's group, when `--socket-mode` grants the group any access. `--allow-uid` and
/// `--allow-gid` add to these.
struct PeerPolicy: Sendable {
    /// Allowed uids.
    let uids: Set<UInt32>
    /// Allowed gids.
    let gids: Set<UInt32>

    /// The default policy for a socket with `mode` and `group`, plus `extraUIDs` and `extraGIDs`.
    init(extraUIDs: [UInt32], extraGIDs: [UInt32], socketMode: UInt32, socketGroup: UInt32) {
        uids = Set(extraUIDs + [getuid(), 0])
        gids = Set(extraGIDs + (socketMode & 0o070 != 0 ? [socketGroup] : []))
    }

    /// True when a peer with `uid`, primary `gid` and supplementary `groups` (read only when
    /// needed) may be served.
    func allows(uid: UInt32, gid: UInt32, groups: () -> [UInt32]) -> Bool {
        if uids.contains(uid) || gids.contains(gid) { return true }
        return !gids.isEmpty && groups().contains(where: gids.contains)
    }
}
