import pytest

from fcn_lib.atomic import atomic_dir, atomic_file, atomic_write_bytes


class Failure(Exception):
    pass


def _leftovers(folder):
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


def test_a_file_is_replaced_whole_and_nothing_temporary_is_left(tmp_path):
    target = tmp_path / "deep" / "state.bin"
    atomic_write_bytes(target, b"first")
    with atomic_file(target) as file:
        file.write(b"second, ")
        file.write(b"streamed")
    assert target.read_bytes() == b"second, streamed"
    assert _leftovers(target.parent) == []


def test_a_failed_write_keeps_the_previous_version_and_removes_its_temporary_file(tmp_path):
    target = tmp_path / "state.bin"
    atomic_write_bytes(target, b"good")
    with pytest.raises(Failure), atomic_file(target) as file:
        file.write(b"half of the new")
        raise Failure
    assert target.read_bytes() == b"good"
    assert _leftovers(tmp_path) == []


def test_a_folder_appears_complete_or_not_at_all(tmp_path):
    target = tmp_path / "catalog"
    with pytest.raises(Failure), atomic_dir(target) as staging:
        (staging / "half.txt").write_text("x")
        raise Failure
    assert not target.exists() and _leftovers(tmp_path) == []
    with atomic_dir(target) as staging:
        (staging / "a.txt").write_text("a")
    with atomic_dir(target) as staging:  # a rebuilt folder replaces the old one entirely
        (staging / "b.txt").write_text("b")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert _leftovers(tmp_path) == []


def test_written_files_and_folders_follow_the_umask_not_the_private_temporary_mode(tmp_path):
    import os

    old = os.umask(0o027)
    try:
        path = atomic_write_bytes(tmp_path / "mask.png", b"x")
        with atomic_dir(tmp_path / "catalog") as staging:
            (staging / "a.txt").write_text("a")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "catalog").stat().st_mode & 0o777 == 0o750


CRASH_BETWEEN_RENAMES = """
import os, sys
from pathlib import Path
from fcn_lib import atomic

renames = 0
real_rename = Path.rename
def rename_then_die(self, target):
    global renames
    renames += 1
    if renames == int(sys.argv[2]):  # the process dies right before this rename
        os._exit(9)
    return real_rename(self, target)
Path.rename = rename_then_die
with atomic.atomic_dir(sys.argv[1]) as staging:
    (staging / "new.txt").write_text("new")
"""


@pytest.mark.parametrize("dies_before", [1, 2])
def test_a_folder_replacement_killed_between_its_renames_loses_nothing(tmp_path, dies_before):
    import subprocess
    import sys

    from fcn_lib.atomic import recover_dir

    target = tmp_path / "catalog"
    with atomic_dir(target) as staging:
        (staging / "old.txt").write_text("old")
    died = subprocess.run([sys.executable, "-c", CRASH_BETWEEN_RENAMES, str(target), str(dies_before)])
    assert died.returncode == 9
    recover_dir(target)  # what the next atomic_dir (or a reader) does first
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    with atomic_dir(target) as staging:  # and the next replacement works as usual
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert not any(p.name.endswith(".previous") for p in tmp_path.iterdir())


def test_a_folder_replacement_killed_after_its_renames_keeps_the_new_version(tmp_path):
    from fcn_lib.atomic import recover_dir

    target = tmp_path / "catalog"
    (tmp_path / ".catalog.previous").mkdir()  # the old copy a crash left before it was deleted
    target.mkdir()
    (target / "new.txt").write_text("new")
    recover_dir(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog"]
    assert (target / "new.txt").read_text() == "new"


KILLED_WHILE_WRITING = """
import os, signal, sys
from fcn_lib.atomic import atomic_file
with atomic_file(sys.argv[1]) as file:
    file.write(b"half of the new checkpoint")
    file.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_writer_killed_mid_file_leaves_the_previous_file_intact(tmp_path):
    import subprocess
    import sys

    target = atomic_write_bytes(tmp_path / "fcn8s.pt", b"the previous checkpoint")
    died = subprocess.run([sys.executable, "-c", KILLED_WHILE_WRITING, str(target)])
    assert died.returncode == -9
    assert target.read_bytes() == b"the previous checkpoint"


def test_a_full_disk_raises_and_keeps_the_previous_file(tmp_path):
    import errno
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root): " + mounted.stderr.decode().strip())
    try:
        target = atomic_write_bytes(disk / "fcn8s.pt", b"previous")
        with pytest.raises(OSError) as full:
            atomic_write_bytes(target, bytes(1024 * 1024))
        assert full.value.errno == errno.ENOSPC
        assert target.read_bytes() == b"previous"
        assert sorted(p.name for p in disk.iterdir()) == ["fcn8s.pt"]  # the temporary file is gone
    finally:
        subprocess.run(["umount", str(disk)], check=True)
