import errno
from pathlib import Path

import pytest

from fcn_lib.results import WriteFailed, distinct_stems, input_files, write_result

SUFFIXES = (".png", ".cutout.png")


def _outputs(stems):
    return [f"{stem}{suffix}".casefold() for stem in stems.values() for suffix in SUFFIXES]


@pytest.mark.parametrize("names", [
    ["a/x.jpg", "b/x.jpg", "c/x.png"],
    ["x.jpg", "X.PNG", "x-2.jpg"],           # a numbered name that a file already has
    ["x.jpg", "x.cutout.png"],                # a photo named like another's cut-out
    ["a.jpg", "b.jpg", "c.jpg"],
])
def test_every_input_gets_outputs_no_other_input_has_and_the_first_keeps_its_name(names):
    files = [Path(name) for name in names]
    stems = distinct_stems(files, SUFFIXES)
    assert len(set(_outputs(stems))) == 2 * len(files)
    assert stems[files[0]] == files[0].stem
    assert stems == distinct_stems(list(files), SUFFIXES)  # every run names them alike


def test_shared_names_are_numbered_in_input_order():
    files = [Path("a/x.jpg"), Path("b/x.jpg"), Path("c/x.jpg")]
    assert list(distinct_stems(files, SUFFIXES).values()) == ["x", "x-2", "x-3"]


def test_inputs_list_folders_sorted_and_each_file_once(tmp_path):
    for name in ["b.jpg", "a.png", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    files = input_files([str(tmp_path), str(tmp_path / "a.png"), str(tmp_path / "extra.jpg")])
    assert [p.name for p in files] == ["a.png", "b.jpg", "extra.jpg"]


def test_a_failed_write_names_the_file_and_its_reason(tmp_path):
    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(WriteFailed, match=r"cannot write .*mask\.png: No space left on device"):
        write_result(full, tmp_path / "mask.png", b"")
