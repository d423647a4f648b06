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
