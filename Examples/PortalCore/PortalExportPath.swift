internal import Foundation
public import PHIGuardErrors

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// Why an export's output path was refused (``Portal/exportChart(token:patientID:format:exportDirectory:output:)``).
/// Every refusal happens before anything is written, and the public answer is one fixed line: the
/// reason (and never the path) goes to the log only.
public enum PortalExportError: Error, Sendable, Hashable, PublicErrorMappable {
    /// The path is empty, too long, holds a control character (NUL, newline) or names no file.
    case invalidName
    /// A `..` component.
    case parentTraversal
    /// The file's folder is not the export folder (an absolute path elsewhere, a subfolder).
    case outsideExportFolder
    /// The name is a symbolic link (planted or not): never followed.
    case symbolicLink
    /// A file of that name exists: never overwritten.
    case exists
    /// The export folder is missing or not a directory.
    case exportFolderUnusable
    /// Writing failed (the partial file was removed); the errno goes to the log.
    case writeFailed(Int32)

    /// The fixed public problem; the reason is the internal code.
    public var errorMapping: MappedError {
        let reason: String
        switch self {
        case .invalidName: reason = "invalid_name"
        case .parentTraversal: reason = "parent_traversal"
        case .outsideExportFolder: reason = "outside_export_folder"
        case .symbolicLink: reason = "symbolic_link"
        case .exists: reason = "exists"
        case .exportFolderUnusable: reason = "export_folder_unusable"
        case .writeFailed(let code):
            return MappedError(
                .internalError, internalCode: "portal.export.write_failed", logMessage: "export write failed",
                context: ["errno": .value(String(code))])
        }
        return MappedError(
            .portalExportPathRefused, internalCode: "portal.export.\(reason)", logMessage: "export path refused")
    }
}

extension PublicProblem {
    /// 400: the export's output path is not a new file directly in the export folder.
    public static let portalExportPathRefused = PublicProblem(
        code: "export_path_refused", status: 400, title: "Export path refused",
        detail: "The output must be a new file name in the export folder (no '..', no links, no existing file).")
}

/// Output path rules of an export: the file is created directly in the export folder, new, and
/// never through a symbolic link.
///
/// - The path may be a bare name (taken in the export folder) or a path whose folder *is* the export
///   folder (compared after resolving both with `realpath`); anything else is
///   ``PortalExportError/outsideExportFolder``.
/// - A `..` component is refused outright, even when it would lead back into the folder.
/// - The file is created with `openat(folder, name, O_CREAT | O_EXCL | O_NOFOLLOW)` on a descriptor of
///   the resolved folder: an existing name, including a symbolic link planted there, fails the open
///   itself (no check-then-open race); the folder opened must be the one checked (same device and
///   inode), so swapping it or a parent folder after the check cannot redirect the file.
struct PortalExportPath {
    /// The export folder, resolved.
    let folder: String
    /// The file's name in it (one component).
    let name: String
    /// The folder's device and inode when checked: ``writeNew(_:)`` writes only into that same folder.
    let folderIdentity: (device: UInt64, inode: UInt64)

    static let maximumPathBytes = 4096
    static let maximumNameBytes = 255

    /// Checks `output` against the export folder `directory` (nothing is created).
    init(output: String, exportDirectory directory: String) throws(PortalExportError) {
        guard !output.isEmpty, output.utf8.count <= Self.maximumPathBytes,
            !output.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { throw .invalidName }
        let components = output.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !components.contains("..") else { throw .parentTraversal }
        let kept = components.filter { $0 != "." }
        guard let name = kept.last, name.utf8.count <= Self.maximumNameBytes, !output.hasSuffix("/") else {
            throw .invalidName
        }
        guard let folder = Self.resolved(directory), Self.isDirectory(folder) else { throw .exportFolderUnusable }
        if kept.count > 1 || output.hasPrefix("/") {
            let parent = (output.hasPrefix("/") ? "/" : "") + kept.dropLast().joined(separator: "/")
            guard let resolvedParent = Self.resolved(parent.isEmpty ? "/" : parent), resolvedParent == folder else {
                throw .outsideExportFolder
            }
        }
        var folderStatus = stat()
        guard stat(folder, &folderStatus) == 0 else { throw .exportFolderUnusable }
        self.folder = folder
        self.name = name
        folderIdentity = (UInt64(folderStatus.st_dev), UInt64(folderStatus.st_ino))
        // Early answer (nothing is read for a doomed export); `writeNew` is the race-free check.
        var status = stat()
        if lstat(path, &status) == 0 { throw status.st_mode & S_IFMT == S_IFLNK ? .symbolicLink : .exists }
    }

    /// The full path of the file.
    var path: String { folder == "/" ? "/" + name : folder + "/" + name }

    /// Creates the file (mode 0600) and writes `bytes` to it, then syncs it. A failure after the
    /// file was created removes it.
    func writeNew(_ bytes: [UInt8]) throws(PortalExportError) {
        let directory = open(folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else { throw .exportFolderUnusable }
        defer { close(directory) }
        // The folder checked, not one swapped in at its path since (an ancestor replaced by a link
        // or another folder): O_NOFOLLOW guards only the last component.
        var opened = stat()
        guard fstat(directory, &opened) == 0, UInt64(opened.st_dev) == folderIdentity.device,
            UInt64(opened.st_ino) == folderIdentity.inode
        else { throw .exportFolderUnusable }
        let file = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard file >= 0 else {
            let code = errno
            var status = stat()
            if fstatat(directory, name, &status, AT_SYMLINK_NOFOLLOW) == 0 {
                throw status.st_mode & S_IFMT == S_IFLNK ? .symbolicLink : .exists
            }
            throw code == ELOOP ? .symbolicLink : .writeFailed(code)
        }
        var failure: Int32?
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count, let base = buffer.baseAddress {
                let written = write(file, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(file) != 0 { failure = errno }
        if close(file) != 0, failure == nil { failure = errno }
        if let failure {
            unlinkat(directory, name, 0)
            throw .writeFailed(failure)
        }
    }

    private static func resolved(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    private static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }
}
