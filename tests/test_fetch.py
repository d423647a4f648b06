"""`fcn-sneakers fetch` against a server on 127.0.0.1 serving tiny stand-ins with the real layouts."""

import hashlib
import io
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from fcn_lib import fetch, scenes
from fcn_lib.cli import main
from fcn_lib.images import list_images


def _jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (40, 50, 3), np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def _voc_tar() -> bytes:
    """PASCAL VOC 2012's layout: VOCdevkit/VOC2012/JPEGImages and the segmentation split lists."""
    files = {f"VOCdevkit/VOC2012/JPEGImages/2007_00000{i}.jpg": _jpeg(i) for i in range(4)}
    files["VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt"] = b"2007_000000\n2007_000001\n2007_000002\n"
    files["VOCdevkit/VOC2012/ImageSets/Segmentation/val.txt"] = b"2007_000003\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as packed:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            packed.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zappos_zip(extra: dict | None = None) -> bytes:
    """UT-Zappos50K's layout: category / subcategory / brand / photos (only sneakers are kept)."""
    root = "ut-zap50k-images-square"
    files = {f"{root}/Shoes/Sneakers and Athletic Shoes/Nike/7{i}.jpg": _jpeg(i) for i in range(3)}
    files[f"{root}/Shoes/Sneakers and Athletic Shoes/New Balance/80.jpg"] = _jpeg(9)
    files[f"{root}/Boots/Ankle/Timberland/90.jpg"] = _jpeg(10)
    files.update(extra or {})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as packed:
        for name, data in files.items():
            packed.writestr(name, data)
    return buffer.getvalue()


class Server:
    """Serves ``files`` with Range support; ``cut_after`` bytes makes the next response stop mid-file,
    ``ranges=False`` makes it ignore Range headers as some servers do."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.cut_after, self.ranges, self.requests = files, None, True, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.headers.get("Range"))
                data = server.files.get(self.path.lstrip("/"))
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if server.ranges and self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].rstrip("-"))
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if server.cut_after is not None:
                    body, server.cut_after = body[: server.cut_after], None
                self.wfile.write(body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.http.server_port}/{name}"


@pytest.fixture
def server():
    served = Server({"voc.tar": _voc_tar(), "zappos.zip": _zappos_zip()})
    yield served
    served.http.shutdown()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_voc2012_lands_where_the_profiles_read_it_and_a_rerun_does_nothing(tmp_path, server):
    said = []
    made = fetch.fetch("voc2012", tmp_path, server.url("voc.tar"), _md5(server.files["voc.tar"]),
                       progress=False, say=said.append)
    assert made == tmp_path / "VOCdevkit" and said[0].startswith("licence: PASCAL VOC 2012")
    assert [s.path.name for s in scenes.voc_scenes(made, "val")] == ["2007_000003.jpg"]
    assert not (tmp_path / ".downloads" / "VOCtrainval_11-May-2012.tar").exists()  # the archive is gone
    requests = len(server.requests)
    fetch.fetch("voc2012", tmp_path, server.url("voc.tar"), progress=False, say=said.append)
    assert len(server.requests) == requests and "already there" in said[-1]


def test_the_real_sources_are_torchvisions_voc_and_the_zappos_site():
    from torchvision.datasets.voc import DATASET_YEAR_DICT

    voc = fetch.dataset("voc2012")
    assert (voc.url, voc.md5) == (DATASET_YEAR_DICT["2012"]["url"], DATASET_YEAR_DICT["2012"]["md5"])
    assert fetch.dataset("zappos50k").url.startswith("https://vision.cs.utexas.edu/")
    with pytest.raises(ValueError, match="unknown dataset 'coco'"):
        fetch.dataset("coco")


def test_zappos50k_keeps_only_its_sneakers_flattened_into_data_sneakers(tmp_path, server):
    made = fetch.fetch("zappos50k", tmp_path, server.url("zappos.zip"), progress=False, say=lambda _: None)
    assert sorted(p.name for p in list_images(made)) == ["New_Balance_80.jpg", "Nike_70.jpg", "Nike_71.jpg",
                                                         "Nike_72.jpg"]


def test_a_download_cut_mid_file_is_kept_and_the_next_run_continues_it(tmp_path, server):
    server.cut_after = 3000
    with pytest.raises(fetch.FetchFailed, match=r"stopped at 3,000 of [\d,]+ bytes; run the command again"):
        fetch.fetch("voc2012", tmp_path, server.url("voc.tar"), progress=False, say=lambda _: None)
    assert (tmp_path / ".downloads" / "VOCtrainval_11-May-2012.tar.part").stat().st_size == 3000
    fetch.fetch("voc2012", tmp_path, server.url("voc.tar"), _md5(server.files["voc.tar"]), progress=False,
                say=lambda _: None)
    assert server.requests[-1] == "bytes=3000-" and (tmp_path / "VOCdevkit").is_dir()


def test_a_server_that_ignores_ranges_gets_the_whole_file_again(tmp_path, server):
    server.cut_after, server.ranges = 3000, False
    with pytest.raises(fetch.FetchFailed):
        fetch.fetch("zappos50k", tmp_path, server.url("zappos.zip"), progress=False, say=lambda _: None)
    fetch.fetch("zappos50k", tmp_path, server.url("zappos.zip"), progress=False, say=lambda _: None)
    assert len(list_images(tmp_path / "sneakers")) == 4


def test_a_wrong_checksum_deletes_the_file_and_says_so(tmp_path, server):
    with pytest.raises(fetch.FetchFailed, match=r"MD5 [0-9a-f]{32}, expected 0{32}.*deleted"):
        fetch.fetch("voc2012", tmp_path, server.url("voc.tar"), "0" * 32, progress=False, say=lambda _: None)
    assert not list((tmp_path / ".downloads").iterdir()) and not (tmp_path / "VOCdevkit").exists()


def test_a_damaged_zip_is_deleted_and_a_member_outside_the_folder_refused(tmp_path, server):
    damaged = bytearray(server.files["zappos.zip"])
    damaged[200] ^= 0xFF  # inside the first photo's data: its CRC no longer matches
    server.files["zappos.zip"] = bytes(damaged)
    with pytest.raises(fetch.FetchFailed, match=r"damaged \(CRC mismatch\)"):
        fetch.fetch("zappos50k", tmp_path, server.url("zappos.zip"), progress=False, say=lambda _: None)
    server.files["zappos.zip"] = _zappos_zip({"../../escape.jpg": _jpeg(0)})
    with pytest.raises(fetch.FetchFailed, match=r"would land outside"):
        fetch.fetch("zappos50k", tmp_path, server.url("zappos.zip"), progress=False, say=lambda _: None)
    assert not (tmp_path.parent / "escape.jpg").exists()


def test_offline_the_message_says_which_file_to_put_where(tmp_path, capsys):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = main(["fetch", "voc2012", "--out", str(tmp_path), "--url", f"http://127.0.0.1:{port}/voc.tar"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("licence: PASCAL VOC 2012")
    assert "download that URL by hand and put the file at" in err
    assert str(tmp_path / ".downloads" / "VOCtrainval_11-May-2012.tar") in err


def test_the_command_offers_exactly_the_known_datasets(capsys):
    with pytest.raises(SystemExit):
        main(["fetch", "--help"])
    assert "{" + ",".join(fetch.DATASETS) + "}" in capsys.readouterr().out
