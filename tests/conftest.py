import os

import pytest
import torch

# Tests measure behaviour, not speed; keep them from fighting over the cores.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def digits():
    from ssl_helpers.data import load_dataset

    return load_dataset("digits")
