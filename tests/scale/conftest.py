from tests.s3server import s3_server  # noqa: F401  (the real S3 server these tests share)
