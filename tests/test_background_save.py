import threading

import pytest
import torch

from fcn_lib.background_save import BackgroundWriter, host_copy


def test_a_host_copy_shares_nothing_with_the_live_record():
    live = {"weights": torch.ones(3), "nested": [torch.zeros(2), (torch.ones(1), "name")],
            "history": {"val": [{"step": 1}]}, "step": 4}
    copy = host_copy(live)
    live["weights"].add_(1)
    live["nested"][0].add_(5)
    live["history"]["val"].append({"step": 2})
    assert torch.equal(copy["weights"], torch.ones(3)) and torch.equal(copy["nested"][0], torch.zeros(2))
    assert copy["history"] == {"val": [{"step": 1}]} and copy["step"] == 4
    assert isinstance(copy["nested"][1], tuple) and copy["nested"][1][1] == "name"


def test_a_host_copy_of_a_tensor_that_needs_gradients_is_plain_data():
    parameter = torch.nn.Parameter(torch.ones(2))
    copy = host_copy({"p": parameter})["p"]
    assert not copy.requires_grad and copy.data_ptr() != parameter.data_ptr()


def test_writes_run_beside_the_caller_one_at_a_time_and_in_order():
    writer, events = BackgroundWriter(), []
    started, release = threading.Event(), threading.Event()

    def slow(name):
        events.append(f"{name} starts")
        started.set()
        release.wait(5)
        events.append(f"{name} ends")

    writer.submit(slow, "first")
    started.wait(5)
    events.append("caller goes on")  # while the first write is still waiting
    release.set()
    writer.submit(slow, "second")  # waits for the first before starting
    writer.wait()
    assert events == ["first starts", "caller goes on", "first ends", "second starts", "second ends"]


def test_a_failed_write_is_raised_by_the_next_wait_and_only_once():
    writer = BackgroundWriter()

    def broken():
        raise OSError("disk full")

    writer.submit(broken)
    with pytest.raises(OSError, match="disk full"):
        writer.wait()
    writer.wait()  # reported; nothing more to say
    writer.submit(broken)
    with pytest.raises(OSError, match="disk full"):  # the next submit reports it before writing again
        writer.submit(lambda: None)
