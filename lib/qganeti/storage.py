"""File-based disks on a node: sparse files created, grown, removed, snapshotted.

Disk templates and where their files live (the path in the disk's
logical_id is Ganeti's, i.e. without the state root):

    file         <file_storage_dir>/<instance>/<disk uuid>.file.disk<N>
                 on the node at $QGANETI_ROOT/<that path>
    sharedfile   <shared_file_storage_dir>/<instance>/<disk uuid>.sharedfile.disk<N>
                 used as given, without the root prefix: a directory that
                 every (virtual) node sees

A node only touches files below the storage directories its ssconf names
(check_path); names from users never reach a path unchecked.

Snapshots (beyond Ganeti) of an instance's disks live next to them, in
<instance dir>/snapshots/<snapshot>/<disk file name>.  They are reflinks
(copy-on-write clones, FICLONE) where the filesystem can, full sparse
copies (only the data extents, SEEK_DATA/SEEK_HOLE) otherwise.
"""

import errno
import os
import re

from qganeti import errors, paths

MIB = 1024 * 1024
FILE_TEMPLATES = ("file", "sharedfile")
SNAPSHOT_DIR = "snapshots"
_FICLONE = 0x40049409
_SNAPSHOT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")


class StorageError(errors.StorageError):
    pass


# -- paths -------------------------------------------------------------------

def logical_path(base_dir, instance, disk_uuid, index, template):
    """The logical_id path of disk INDEX of INSTANCE (Ganeti's naming)."""
    return os.path.join(base_dir, instance, "%s.%s.disk%d" % (disk_uuid, template, index))


def instance_dir(base_dir, instance):
    return os.path.join(base_dir, instance)


def local(template, path):
    """The path on this node of a logical path (file: under the state root)."""
    if template == "file":
        return paths.under_root(path)
    return path


def base_dir(template):
    """The storage directory of TEMPLATE as this node's ssconf says."""
    from qganeti import fileio
    key = "file_storage_dir" if template == "file" else "shared_file_storage_dir"
    value = fileio.read_first_line(paths.ssconf_file(key))
    if not value:
        raise StorageError("No %s configured on this node" % key.replace("_", " "))
    return value


def check_path(template, path, depth=2):
    """PATH (logical) if it lies at least DEPTH levels below TEMPLATE's storage dir.

    depth 2: a disk file (<dir>/[<subdir>/]<instance>/<file>); depth 1: an
    instance's directory.  Anything else (.., other dirs) is refused.
    """
    if template not in FILE_TEMPLATES:
        raise StorageError("Unsupported disk template '%s'" % template)
    if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
        raise StorageError("Invalid path '%s'" % (path,))
    norm = os.path.normpath(path)
    base = os.path.normpath(base_dir(template))
    rest = norm[len(base) + 1:].split("/") if norm.startswith(base + "/") else []
    if (norm != path or len(rest) < depth
            or any(part in ("", ".", "..") or part.startswith(".") for part in rest)):
        raise StorageError("Path '%s' is not under the %s storage directory %s"
                           % (path, template, base))
    return norm


def check_snapshot_name(name):
    if not isinstance(name, str) or not _SNAPSHOT_RE.match(name):
        raise StorageError("Invalid snapshot name '%s': use up to 64 letters,"
                           " digits and . _ + - (not first)" % (name,))
    return name


def snapshot_path(disk_path, snapshot):
    """Where SNAPSHOT of the disk at DISK_PATH (any form of the path) lives."""
    head, tail = os.path.split(disk_path)
    return os.path.join(head, SNAPSHOT_DIR, check_snapshot_name(snapshot), tail)


# -- disks ---------------------------------------------------------------------

def _ensure_dir(path):
    try:
        os.makedirs(path, 0o750, exist_ok=True)
    except OSError as err:
        raise StorageError("Cannot create directory '%s': %s" % (path, err.strerror))


def create(path, size_mib):
    """A new sparse file of SIZE_MIB at PATH (refused if PATH exists)."""
    if not isinstance(size_mib, int) or size_mib <= 0:
        raise StorageError("Invalid disk size %s" % (size_mib,))
    _ensure_dir(os.path.dirname(path))
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
    except FileExistsError:
        raise StorageError("File already exists: %s" % path)
    except OSError as err:
        raise StorageError("Could not create file %s: %s" % (path, err.strerror))
    try:
        os.ftruncate(fd, size_mib * MIB)
    except OSError as err:
        os.close(fd)
        os.unlink(path)
        raise StorageError("Could not set the size of %s: %s" % (path, err.strerror))
    os.close(fd)


def size_mib(path):
    try:
        return os.stat(path).st_size // MIB
    except FileNotFoundError:
        raise StorageError("File %s does not exist" % path)


def allocated_mib(path):
    """MiB actually allocated on disk (a sparse file takes little)."""
    st = os.stat(path)
    return st.st_blocks * 512 // MIB


def remove(path):
    """Remove a disk file; a missing one is not an error (as Ganeti's)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        raise StorageError("Cannot remove %s: is a directory" % path)
    except OSError as err:
        raise StorageError("Cannot remove file %s: %s" % (path, err.strerror))


def grow(path, new_size_mib):
    """Grow the file at PATH to NEW_SIZE_MIB (never shrinks)."""
    current = size_mib(path)
    if new_size_mib < current:
        raise StorageError("Can't shrink %s from %d MiB to %d MiB"
                           % (path, current, new_size_mib))
    try:
        os.truncate(path, new_size_mib * MIB)
    except OSError as err:
        raise StorageError("Can't grow %s: %s" % (path, err.strerror))


def remove_dir(path):
    """Remove an (empty, but for an empty snapshots/) instance directory."""
    snaps = os.path.join(path, SNAPSHOT_DIR)
    try:
        os.rmdir(snaps)
    except (FileNotFoundError, OSError):
        pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        raise StorageError("Cannot remove file storage directory '%s': %s"
                           % (path, err.strerror))


def rename_dir(old, new):
    if os.path.exists(new):
        raise StorageError("Cannot rename '%s' to '%s': destination exists" % (old, new))
    if not os.path.isdir(old):
        if os.path.isdir(new):
            return    # already done (a retried rename)
        raise StorageError("Cannot rename '%s': no such directory" % old)
    try:
        os.rename(old, new)
    except OSError as err:
        raise StorageError("Cannot rename '%s' to '%s': %s" % (old, new, err.strerror))


def space(path):
    """(total MiB, free MiB) of the filesystem holding PATH (or its nearest parent)."""
    while path and not os.path.exists(path):
        path = os.path.dirname(path)
    st = os.statvfs(path or "/")
    return st.f_blocks * st.f_frsize // MIB, st.f_bavail * st.f_frsize // MIB


# -- copies --------------------------------------------------------------------

def _reflink(src_fd, dst_fd):
    import fcntl
    try:
        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
        return True
    except OSError as err:
        if err.errno in (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL,
                         errno.ENOSYS, errno.EPERM):
            return False
        raise


def _sparse_copy(src_fd, dst_fd, size, progress=None):
    """Copy only the data extents; holes stay holes."""
    offset = 0
    copied = 0
    while offset < size:
        try:
            data = os.lseek(src_fd, offset, os.SEEK_DATA)
        except OSError as err:
            if err.errno == errno.ENXIO:
                break     # only a hole is left
            raise
        hole = os.lseek(src_fd, data, os.SEEK_HOLE)
        pos = data
        while pos < hole:
            chunk = min(hole - pos, 8 * MIB)
            try:
                done = os.copy_file_range(src_fd, dst_fd, chunk, pos, pos)
            except OSError as err:
                if err.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP,
                                     errno.EINVAL):
                    raise
                buf = os.pread(src_fd, chunk, pos)
                done = os.pwrite(dst_fd, buf, pos)
            if done <= 0:
                raise StorageError("Short copy at offset %d" % pos)
            pos += done
            copied += done
            if progress:
                progress(copied)
        offset = hole
    os.ftruncate(dst_fd, size)
    return copied


def clone(src, dst, exclusive=True):
    """Copy SRC to DST as a reflink, else a sparse copy; 'reflink' or 'copy'.

    DST is written under a temporary name and renamed into place, so a
    half-made copy is never seen under DST.
    """
    tmp = os.path.join(os.path.dirname(dst), ".%s.tmp.%d" % (os.path.basename(dst),
                                                            os.getpid()))
    if exclusive and os.path.exists(dst):
        raise StorageError("File already exists: %s" % dst)
    src_fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(src_fd).st_size
        dst_fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
        try:
            method = "reflink" if _reflink(src_fd, dst_fd) else None
            if method is None:
                _sparse_copy(src_fd, dst_fd, size)
                method = "copy"
            os.fsync(dst_fd)
        except BaseException:
            os.close(dst_fd)
            os.unlink(tmp)
            raise
        os.close(dst_fd)
    finally:
        os.close(src_fd)
    if exclusive:
        try:
            os.link(tmp, dst)
        except FileExistsError:
            os.unlink(tmp)
            raise StorageError("File already exists: %s" % dst)
        os.unlink(tmp)
    else:
        os.rename(tmp, dst)
    return method


def snapshot(disk_path, snapshot_name):
    """Snapshot the disk file at DISK_PATH (local path); the method used."""
    dst = snapshot_path(disk_path, snapshot_name)
    _ensure_dir(os.path.dirname(dst))
    if not os.path.exists(disk_path):
        raise StorageError("File %s does not exist" % disk_path)
    try:
        return clone(disk_path, dst)
    except OSError as err:
        raise StorageError("Cannot snapshot %s: %s" % (disk_path, err.strerror))


def rollback(disk_path, snapshot_name):
    """Replace the disk file by its snapshot's content; the method used."""
    src = snapshot_path(disk_path, snapshot_name)
    if not os.path.exists(src):
        raise StorageError("Snapshot %s of %s does not exist" % (snapshot_name, disk_path))
    try:
        return clone(src, disk_path, exclusive=False)
    except OSError as err:
        raise StorageError("Cannot roll back %s: %s" % (disk_path, err.strerror))


def remove_snapshot(disk_path, snapshot_name):
    path = snapshot_path(disk_path, snapshot_name)
    remove(path)
    for directory in (os.path.dirname(path), os.path.dirname(os.path.dirname(path))):
        try:
            os.rmdir(directory)
        except OSError:
            break


def list_snapshots(disk_path):
    """Snapshot names of the disk at DISK_PATH found on this node."""
    head, tail = os.path.split(disk_path)
    root = os.path.join(head, SNAPSHOT_DIR)
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if os.path.exists(os.path.join(root, n, tail)))
