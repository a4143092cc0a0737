"""Loop devices backed by sparse files: real block devices for tests.

LoopDevice.create(size) makes a sparse file, attaches it with losetup and
registers cleanup (unmount anything mounted from it, detach, delete the
file) that runs also when the test process dies on SIGTERM.
"""

import os
import shutil
import subprocess
import tempfile

from . import cleanup

GIB = 1024 ** 3


def _run(cmd, check=True):
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


class LoopDevice:
    def __init__(self, path, backing, tmpdir):
        self.path = path
        self.backing = backing
        self._tmpdir = tmpdir
        self._mounts = []
        self._undo = cleanup.register(self.destroy)

    @classmethod
    def create(cls, size=6 * GIB, read_only=False, direct_io=False):
        tmpdir = tempfile.mkdtemp(prefix="nt-loop-")
        backing = os.path.join(tmpdir, "disk.img")
        with open(backing, "wb") as f:
            f.truncate(size)
        args = ["losetup", "-f", "--show"]
        if read_only:
            args.append("-r")
        if direct_io:
            # The loop driver then writes the backing file with O_DIRECT,
            # as a disk takes writes, rather than into the page cache.
            args.append("--direct-io=on")
        try:
            path = _run(args + [backing]).stdout.strip()
        except subprocess.CalledProcessError as e:
            shutil.rmtree(tmpdir, ignore_errors=True)
            raise RuntimeError("losetup failed: %s" % e.stderr) from e
        # A loop device number can come back with the kernel partitions
        # of its last user (partx -a ones survive losetup -d).
        _run(["partx", "-d", path], check=False)
        return cls(path, backing, tmpdir)

    def mkfs_ext4(self):
        _run(["mkfs.ext4", "-q", "-F", self.path])
        return self

    def partition_gpt(self):
        """One GPT partition over the device; returns the partition path."""
        subprocess.run(["sfdisk", "-q", self.path], input="label: gpt\n,\n",
                       text=True, capture_output=True, check=True)
        _run(["partx", "-u", self.path], check=False)
        return self.path + "p1"

    def mount(self):
        mnt = tempfile.mkdtemp(prefix="nt-mnt-")
        _run(["mount", self.path, mnt])
        self._mounts.append(mnt)
        return mnt

    def umount_all(self):
        while self._mounts:
            mnt = self._mounts.pop()
            _run(["umount", "-l", mnt], check=False)
            shutil.rmtree(mnt, ignore_errors=True)

    def signatures(self):
        """What blkid -p finds on the device ('' when nothing)."""
        proc = _run(["blkid", "-p", "-o", "export", self.path], check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def read(self, offset, length):
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(length)

    def size(self):
        return int(_run(["blockdev", "--getsize64", self.path]).stdout)

    def destroy(self):
        self.umount_all()
        if self.path:
            _run(["partx", "-d", self.path], check=False)
            _run(["losetup", "-d", self.path], check=False)
            self.path = None
        shutil.rmtree(self._tmpdir, ignore_errors=True)
        cleanup.unregister(self._undo)
