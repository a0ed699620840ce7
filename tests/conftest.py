
import pytest
import torch

# Tests measure behaviour, not speed. One intra-op thread: the models here are tiny, and with two threads a
# busy machine makes every small op wait for a descheduled partner thread (seen here: 10x slower).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits():
    from ssl_helpers.data import load_dataset

    return load_dataset("digits")
