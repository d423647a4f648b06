import os
import subprocess
import sys
import textwrap

import pytest

from fcn_lib import locks

HOLD = textwrap.dedent("""
    import sys, time
    from fcn_lib import locks
    with locks.exclusive(sys.argv[1]):
        print("holding", flush=True)
        time.sleep(60)
""")


def _holder(target):
    """A second process that takes ``target``'s lock and keeps it until killed."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(target)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "holding"
    return process


def test_a_second_run_is_refused_naming_the_process_that_holds_the_stage(tmp_path):
    target = tmp_path / "fcn32s_white.pt"
    holder = _holder(target)
    try:
        refused = rf"fcn32s_white\.pt: another run \(pid {holder.pid}\)"
        with pytest.raises(locks.RunInProgress, match=refused), locks.exclusive(target):
            pass
    finally:
        holder.kill()
        holder.wait()
    with locks.exclusive(target) as lock:  # a killed holder leaves no stale lock behind
        assert lock.read_text() == str(os.getpid())


def test_the_lock_is_released_when_the_block_ends_or_raises(tmp_path):
    target = tmp_path / "stage.pt"
    with pytest.raises(KeyError), locks.exclusive(target):
        raise KeyError("boom")
    # held: even the same process cannot take it twice
    with locks.exclusive(target), pytest.raises(locks.RunInProgress), locks.exclusive(target):
        pass
