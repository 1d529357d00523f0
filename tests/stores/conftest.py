from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures, found by name)
from conftest_gcs import gcs_bucket, gcs_env, gcs_server  # noqa: F401  (fixtures, found by name)

import pytest  # noqa: E402


@pytest.fixture(params=["s3", "gs"])
def remote_bucket(request) -> str:
    """A fresh bucket on the loopback S3 server, then (second run) on the loopback GCS emulator: tests
    that must hold on every object store take this instead of one store's bucket."""
    return request.getfixturevalue("s3_bucket" if request.param == "s3" else "gcs_bucket")
