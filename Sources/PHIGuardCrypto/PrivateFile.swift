#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// Key files and other small private files: the one implementation of "create it only if it does
/// not exist, never through a symbolic link, mode 0600 from the start" and of "read it only if it
/// is a regular file nobody but its owner can access".
///
/// ```swift
/// try PrivateFile.write(Array(keyText.utf8), to: path)            // fails if `path` exists
/// let bytes = try PrivateFile.read(path, maximumByteCount: 4096)  // refuses links and 0644 files
/// ```
package enum PrivateFile {
    /// Who may read a file written by ``write(_:to:access:replacing:)``.
    package enum Access: Sendable {
        /// Mode 0600: the owner only (every secret).
        case ownerOnly
        /// Mode 0644: anyone may read, only the owner may write (public keys).
        case publiclyReadable

        var mode: mode_t {
            switch self {
            case .ownerOnly: 0o600
            case .publiclyReadable: 0o644
            }
        }
    }

    /// Why a private file could not be written or read. Carries the path and `errno`, never contents.
    package enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The file exists already (writes never replace a file unless asked to).
        case exists(path: String)
        /// The file does not exist.
        case notFound(path: String)
        /// The path is a symbolic link, a directory or another non-regular file.
        case notRegularFile(path: String)
        /// The file is accessible to its group or to others (`mode` is its octal mode, e.g. `0644`).
        case insecurePermissions(path: String, mode: String)
        /// The file is longer than the caller's limit.
        case tooLarge(path: String, limit: Int)
        /// `open`, `write`, `fchmod`, `fsync` or `rename` failed with `errno`.
        case writeFailed(path: String, errno: Int32)
        /// `open`, `fstat` or `read` failed with `errno`.
        case readFailed(path: String, errno: Int32)
        /// The file belongs to another user (`owner` is its uid) than the one running the process.
        case wrongOwner(path: String, owner: UInt32)
        /// The file is empty.
        case empty(path: String)

        /// A description with the path and error number only.
        package var description: String {
            switch self {
            case .exists(let path): "\(path) already exists"
            case .notFound(let path): "\(path) does not exist"
            case .notRegularFile(let path): "\(path) is not a regular file"
            case .insecurePermissions(let path, let mode): "\(path) has mode \(mode); it must be 0600"
            case .tooLarge(let path, let limit): "\(path) is larger than \(limit) bytes"
            case .writeFailed(let path, let code): "\(path) could not be written (errno \(code))"
            case .readFailed(let path, let code): "\(path) could not be read (errno \(code))"
            case .wrongOwner(let path, let owner): "\(path) belongs to uid \(owner), not to the user running PHIGuard"
            case .empty(let path): "\(path) is empty"
            }
        }
    }

    /// Writes `bytes` to a new file at `path` (`O_CREAT | O_EXCL | O_NOFOLLOW`, then `fchmod` and
    /// `fsync`, so the mode is exact whatever the umask).
    ///
    /// Without `replacing`, an existing file (or link) at `path` is ``Failure/exists(path:)``. With it,
    /// the bytes go to a new file beside `path` that is then renamed over it, so a crash leaves either
    /// the old or the new contents, never a partial file. The caller zeroes its copy of `bytes`.
    package static func write(
        _ bytes: [UInt8], to path: String, access: Access = .ownerOnly, replacing: Bool = false
    ) throws(Failure) {
        let target = replacing ? path + ".tmp-\(getpid())" : path
        let descriptor = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, access.mode)
        guard descriptor >= 0 else {
            let code = errno
            throw code == EEXIST && !replacing ? .exists(path: path) : .writeFailed(path: path, errno: code)
        }
        var writeError = writeAll(bytes, to: descriptor)
        if writeError == 0, fchmod(descriptor, access.mode) != 0 || fsync(descriptor) != 0 { writeError = errno }
        close(descriptor)
        if writeError == 0, replacing, rename(target, path) != 0 { writeError = errno }
        if writeError != 0 {
            unlink(target)
            throw .writeFailed(path: path, errno: writeError)
        }
    }

    /// Reads a regular file that only its owner may access (no group or other permission bits),
    /// refusing symbolic links and files longer than `maximumByteCount`. Scratch copies are zeroed.
    package static func read(_ path: String, maximumByteCount: Int) throws(Failure) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT { throw .notFound(path: path) }
            if code == ELOOP { throw .notRegularFile(path: path) }
            throw .readFailed(path: path, errno: code)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .readFailed(path: path, errno: errno) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .notRegularFile(path: path) }
        let permissions = status.st_mode & 0o7777
        guard permissions & 0o077 == 0 else {
            throw .insecurePermissions(path: path, mode: "0" + String(permissions, radix: 8))
        }
        guard status.st_size <= maximumByteCount else { throw .tooLarge(path: path, limit: maximumByteCount) }
        // One byte more than allowed, to notice a file that grew after `fstat`.
        var bytes = [UInt8](repeating: 0, count: maximumByteCount + 1)
        defer { Sodium.zero(&bytes) }
        var count = 0
        var readError: Int32 = 0
        bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while count < buffer.count {
                let got = Self.read(descriptor, base + count, buffer.count - count)
                if got < 0 {
                    if errno == EINTR { continue }
                    readError = errno
                    return
                }
                if got == 0 { return }
                count += got
            }
        }
        guard readError == 0 else { throw .readFailed(path: path, errno: readError) }
        guard count <= maximumByteCount else { throw .tooLarge(path: path, limit: maximumByteCount) }
        return Array(bytes[0..<count])
    }

    /// Reads a key file straight into guarded memory: like ``read(_:maximumByteCount:)``, and the
    /// file must also belong to the effective user and not be empty. The contents never pass through
    /// an ordinary array or string: `read(2)` writes them into the `SecretBytes` allocation.
    package static func readSecret(_ path: String, maximumByteCount: Int) throws(Failure) -> SecretBytes {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT { throw .notFound(path: path) }
            if code == ELOOP { throw .notRegularFile(path: path) }
            throw .readFailed(path: path, errno: code)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .readFailed(path: path, errno: errno) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .notRegularFile(path: path) }
        guard status.st_uid == geteuid() else { throw .wrongOwner(path: path, owner: UInt32(status.st_uid)) }
        let permissions = status.st_mode & 0o7777
        guard permissions & 0o077 == 0 else {
            throw .insecurePermissions(path: path, mode: "0" + String(permissions, radix: 8))
        }
        guard status.st_size <= maximumByteCount else { throw .tooLarge(path: path, limit: maximumByteCount) }
        guard status.st_size > 0 else { throw .empty(path: path) }
        let size = Int(status.st_size)
        do {
            return try SecretBytes(count: size) { (buffer) throws(Failure) in
                guard let base = buffer.baseAddress else { throw .empty(path: path) }
                var count = 0
                while count < size {
                    let got = Self.read(descriptor, base + count, size - count)
                    if got < 0 {
                        if errno == EINTR { continue }
                        throw .readFailed(path: path, errno: errno)
                    }
                    if got == 0 { break }
                    count += got
                }
                // The file changed size between `fstat` and `read`: refuse rather than use part of it.
                var extra: UInt8 = 0
                guard count == size, Self.read(descriptor, &extra, 1) == 0 else {
                    throw .readFailed(path: path, errno: EAGAIN)
                }
            }
        } catch {
            switch error {
            case .initializer(let failure): throw failure
            case .memory: throw .readFailed(path: path, errno: ENOMEM)
            }
        }
    }

    /// The C library's `read` (the name is taken by ``read(_:maximumByteCount:)`` in this scope).
    private static func read(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
            Glibc.read(descriptor, buffer, count)
        #else
            Darwin.read(descriptor, buffer, count)
        #endif
    }

    /// Writes all of `bytes` to `descriptor`; returns 0 or the `errno` of the failing `write`.
    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Int32 {
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            var offset = 0
            while offset < buffer.count {
                let written = Self.writeSome(descriptor, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return 0
        }
    }

    private static func writeSome(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
            Glibc.write(descriptor, buffer, count)
        #else
            Darwin.write(descriptor, buffer, count)
        #endif
    }
}
