from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures, found by name)
from conftest_gcs import gcs_bucket, gcs_env, gcs_server  # noqa: F401  (fixtures, found by name)
