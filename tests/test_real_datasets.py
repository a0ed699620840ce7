"""The real loaders (CIFAR-10, STL-10, ImageFolder), exercised on small fake datasets written here in the
layout each expects, including the download path (served from a local HTTP server) and the offline error."""
import hashlib
import http.server
import pickle
import socket
import tarfile
import threading
from functools import partial

import numpy as np
import pytest
import torch
from PIL import Image

from ssl_helpers import data
from ssl_helpers.data import DatasetUnavailableError, load_dataset


def write_fake_cifar10(root, per_batch=6, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    expected = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, size=(per_batch, 3 * 32 * 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        with open(folder / name, "wb") as handle:
            pickle.dump({"data": images, "labels": labels}, handle)
        expected[name] = (images, labels)
    return folder, expected


def write_fake_stl10(root, n=4, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    expected = {}
    for split in ("train", "test", "unlabeled"):
        images = rng.integers(0, 256, size=(n, 3, 96, 96), dtype=np.uint8)
        # STL-10 stores each channel column-major
        images.transpose(0, 1, 3, 2).tofile(folder / f"{split}_X.bin")
        labels = rng.integers(1, 11, size=n).astype(np.uint8)
        if split != "unlabeled":
            labels.tofile(folder / f"{split}_y.bin")
        expected[split] = (images, labels)
    return folder, expected


def test_cifar10_reads_the_python_batches(tmp_path):
    _, expected = write_fake_cifar10(tmp_path)
    train, test = load_dataset("cifar10", root=tmp_path)
    assert len(train) == 30 and len(test) == 6 and train.images.shape[1:] == (3, 32, 32)
    first = torch.from_numpy(expected["data_batch_1"][0][0].reshape(3, 32, 32)).float() / 255
    assert torch.allclose(train.images[0], first)
    assert test.labels.tolist() == expected["test_batch"][1]
    assert train.classes[0] == "airplane"


def test_cifar10_can_be_resized(tmp_path):
    write_fake_cifar10(tmp_path)
    train, _ = load_dataset("cifar10", root=tmp_path, image_size=16)
    assert train.images.shape[1:] == (3, 16, 16)


def test_stl10_reads_the_binaries_in_the_right_orientation(tmp_path):
    _, expected = write_fake_stl10(tmp_path)
    train, test = load_dataset("stl10", root=tmp_path)
    assert torch.allclose(train.images[1], torch.from_numpy(expected["train"][0][1]).float() / 255)
    assert train.labels.tolist() == (expected["train"][1].astype(int) - 1).tolist()
    unlabeled, train2, _ = data.load_stl10(root=tmp_path, unlabeled=True)
    assert len(unlabeled) == 4 and (unlabeled.labels == -1).all() and torch.equal(train2.images, train.images)


def test_image_folder_with_and_without_a_train_test_layout(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / "flat" / cls).mkdir(parents=True)
        for i in range(10):
            Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(tmp_path / "flat" / cls / f"{i}.png")
        for split, n in (("train", 4), ("test", 2)):
            (tmp_path / "split" / split / cls).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(
                    tmp_path / "split" / split / cls / f"{i}.png")
    train, test = load_dataset("folder", root=tmp_path / "flat", image_size=12)
    assert (len(train), len(test)) == (14, 6) and train.images.shape[1:] == (3, 12, 12)
    assert train.classes == ["cat", "dog"]
    train, test = load_dataset("folder", root=tmp_path / "split", image_size=8)
    assert (len(train), len(test)) == (8, 4)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_dataset("folder", root=tmp_path / "missing")


def test_missing_dataset_without_download_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetUnavailableError, match=r"cifar10 is not in .*download=True.*load_dataset\('digits'\)"):
        load_dataset("cifar10", root=tmp_path)


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_offline_download_fails_with_a_clear_message(tmp_path, monkeypatch):
    url = f"http://127.0.0.1:{closed_port()}/cifar-10-python.tar.gz"  # nothing listens there: like offline
    monkeypatch.setitem(data.DOWNLOADS, "cifar10", {**data.DOWNLOADS["cifar10"], "url": url})
    with pytest.raises(DatasetUnavailableError) as error:
        load_dataset("cifar10", root=tmp_path, download=True)
    message = str(error.value)
    assert "could not download cifar10" in message and "offline" in message
    assert "set FULL_RUN = False in its settings cell and restart the kernel" in message  # the setting to change
    assert "load_dataset('digits')" in message
    assert "URLError" in message  # the cause's one line is kept ...
    assert error.value.__cause__ is None and error.value.__suppress_context__  # ... its chained traceback is not
    assert "\n" not in message and len(message) < 600  # one short paragraph
    # Jupyter shows the message alone instead of a traceback
    assert error.value._render_traceback_() == [f"DatasetUnavailableError: {message}"]
    assert not (tmp_path / "cifar-10-batches-py").exists()


@pytest.fixture
def local_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("name, writer", [("cifar10", write_fake_cifar10), ("stl10", write_fake_stl10)])
def test_download_path_fetches_checks_and_extracts(tmp_path, local_server, monkeypatch, name, writer):
    served, base_url = local_server
    source = tmp_path / "source"
    folder, _ = writer(source)
    archive = served / f"{name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setitem(data.DOWNLOADS, name, {**data.DOWNLOADS[name], "url": f"{base_url}/{archive.name}", "md5": md5})
    root = tmp_path / "downloads"
    train, test = load_dataset(name, root=root, download=True)
    assert (root / folder.name).is_dir() and len(train) > 0 and len(test) > 0
    # a corrupted download (wrong checksum) is refused, not silently used
    monkeypatch.setitem(data.DOWNLOADS, name, {**data.DOWNLOADS[name], "md5": "0" * 32})
    with pytest.raises(DatasetUnavailableError, match=f"could not download {name}"):
        load_dataset(name, root=tmp_path / "elsewhere", download=True)
