import Foundation
import PHIGuardTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The portal's key directory refusals: each names the file and the problem (exit 69), never
/// "internal error" or "not set up" (issue #15 finding 8).
@Suite("PatientPortal key directory refusals", .serialized)
struct PortalKeysTests {
    func expectRefusal(_ expected: String, _ breakIt: (PatientPortalTests.Portal) throws -> Void) throws {
        let portal = try PatientPortalTests.Portal()
        defer { portal.remove() }
        try breakIt(portal)
        let run = try portal.run(["whoami"])
        #expect(run.status == 69, "\(run.stderr)")
        #expect(run.stderr.contains(expected), "\(run.stderr)")
        #expect(run.stderr.contains("Key directory refused"), "\(run.stderr)")
        #expect(!run.stderr.contains("Internal error") && !run.stderr.contains("not set up"), "\(run.stderr)")
    }

    @Test("key file 0644, key file symlink, key directory 0777, key directory symlink")
    func refusals() throws {
        try expectRefusal("/keys/field.keys: key file has mode 0644") { chmod($0.keys + "/field.keys", 0o644) }
        try expectRefusal("/keys/chain.key: is a symbolic link") { portal in
            rename(portal.keys + "/chain.key", portal.directory.path + "/chain.key")
            symlink(portal.directory.path + "/chain.key", portal.keys + "/chain.key")
        }
        try expectRefusal("/keys: key directory has mode 0777") { chmod($0.keys, 0o777) }
        try expectRefusal("/keys: is a symbolic link") { portal in
            rename(portal.keys, portal.directory.path + "/real-keys")
            symlink(portal.directory.path + "/real-keys", portal.keys)
        }
    }
}
