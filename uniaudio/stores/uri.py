"""Every path is a URI: the one place that knows local paths, ``file://``, ``s3://`` and ``gs://``.

Why one module: stages run on nodes that share nothing but an object store, so each input and output
must be readable and writable wherever the job lands. Remote I/O goes through pyarrow filesystems
(no extra dependency; credentials and endpoint come from each store's standard environment —
S3: ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``; GCS:
``STORAGE_EMULATOR_HOST`` for an emulator, else Google's default credentials such as
``GOOGLE_APPLICATION_CREDENTIALS`` — see docs/STORES.md). Code that needs a real local directory
(safetensors, a codec checkpoint) asks :func:`fetch`, which copies a remote file or tree once per node
into the cache dir (``$UNIAUDIO_CACHE_DIR``, default ``~/.cache/uniaudio``) and verifies it by hash on
every reuse.

>>> scheme("s3://b/k"), scheme("file:///tmp/x"), scheme("/tmp/x"), is_remote("file:///tmp/x")
('s3', 'file', '', False)
>>> join("s3://b/run", "ckpt", "a.bin"), parent("s3://b/run/x"), local_path("file:///tmp/x")
('s3://b/run/ckpt/a.bin', 's3://b/run', '/tmp/x')
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

import pyarrow.fs as pafs

from uniaudio.errors import UserFacingError

GCS_SCHEMES = ("gs", "gcs")
REMOTE_SCHEMES = ("s3", *GCS_SCHEMES)
_FETCH_RECORD = ".uniaudio_fetch.json"


def scheme(uri: str | os.PathLike) -> str:
    """``"s3"``, ``"gs"``, ``"file"``, ... or ``""`` for a plain path."""
    s = str(uri)
    head, sep, _ = s.partition("://")
    return head.lower() if sep and head.isidentifier() else ""


def is_remote(uri: str | os.PathLike) -> bool:
    """True for an object-store (or any non-``file``) URI; False for a plain path or ``file://``."""
    return scheme(uri) not in ("", "file")


def local_path(uri: str | os.PathLike) -> str:
    """The filesystem path of a plain path or ``file://`` URI (a remote URI is refused)."""
    s = str(uri)
    if is_remote(s):
        raise UserFacingError(f"{s}: expected a local path, got a {scheme(s)}:// URI")
    return s[len("file://"):] if s.startswith("file://") else s


def join(uri: str | os.PathLike, *parts: str) -> str:
    s = str(uri)
    if is_remote(s):
        return posixpath.join(s.rstrip("/"), *parts)
    return os.path.join(local_path(s), *parts)


def resolve(ref: str, folder: str | os.PathLike) -> str:
    """``ref`` as written in a file that lives in ``folder``: a URI or an absolute path as it is, a
    relative one against ``folder`` with ``..`` folded (object keys have no ``..``).

    >>> resolve("../audio/a.wav", "s3://b/specs"), resolve("x.wav", "/data/lists"), resolve("gs://c/y", "/d")
    ('s3://b/audio/a.wav', '/data/lists/x.wav', 'gs://c/y')
    """
    if scheme(ref) or os.path.isabs(ref):
        return ref
    base = str(folder)
    if not is_remote(base):
        return os.path.normpath(os.path.join(os.path.abspath(local_path(base)), ref))
    head, _, key = base.partition("://")
    bucket, _, prefix = key.partition("/")
    joined = posixpath.normpath(posixpath.join("/" + prefix, ref)).lstrip("/")
    return f"{head}://{bucket}/{joined}" if joined else f"{head}://{bucket}"


def parent(uri: str | os.PathLike) -> str:
    s = str(uri).rstrip("/")
    if is_remote(s):
        head = s[: s.index("://") + 3]
        rest = posixpath.dirname(s[len(head):])
        return head + rest
    return os.path.dirname(local_path(s)) or "."


def basename(uri: str | os.PathLike) -> str:
    return posixpath.basename(str(uri).rstrip("/"))


def _s3() -> pafs.S3FileSystem:
    """An S3 filesystem configured from the standard AWS environment (endpoint included)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    kwargs: dict[str, Any] = {"region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                              or "us-east-1"}
    if endpoint:
        http = endpoint.startswith("http://")
        kwargs["endpoint_override"] = endpoint.split("://", 1)[1] if "://" in endpoint else endpoint
        kwargs["scheme"] = "http" if http else "https"
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        kwargs["access_key"] = os.environ["AWS_ACCESS_KEY_ID"]
        kwargs["secret_key"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
        if os.environ.get("AWS_SESSION_TOKEN"):
            kwargs["session_token"] = os.environ["AWS_SESSION_TOKEN"]
    return pafs.S3FileSystem(**kwargs)


GCS_EMULATOR_ENV = "STORAGE_EMULATOR_HOST"  # the variable every Google storage client reads for an emulator
_GCS_EMULATOR_RETRY_S = 10  # a missing emulator fails in seconds, not after pyarrow's 15-minute default


def gcs_emulator() -> str | None:
    """``http://host:port`` of the GCS emulator named by ``$STORAGE_EMULATOR_HOST`` (a bare ``host:port``
    means plain HTTP, as for Google's own clients), or None for the real GCS."""
    host = os.environ.get(GCS_EMULATOR_ENV, "").strip().rstrip("/")
    if not host:
        return None
    return host if "://" in host else f"http://{host}"


def _gcs() -> pafs.GcsFileSystem:
    """A GCS filesystem from the standard environment: the emulator of ``$STORAGE_EMULATOR_HOST``
    (anonymous, its scheme), else Google's default credentials (``GOOGLE_APPLICATION_CREDENTIALS``,
    gcloud's login, or the metadata server on GCP)."""
    emulator = gcs_emulator()
    if emulator is None:
        return pafs.GcsFileSystem()
    import datetime

    sch, host = emulator.split("://", 1)
    return pafs.GcsFileSystem(anonymous=True, scheme=sch, endpoint_override=host,
                              retry_time_limit=datetime.timedelta(seconds=_GCS_EMULATOR_RETRY_S))


STORAGE_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
               "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ALLOW_HTTP",
               "AWS_EC2_METADATA_DISABLED", GCS_EMULATOR_ENV, "GOOGLE_APPLICATION_CREDENTIALS",
               "GOOGLE_CLOUD_PROJECT", "GOOGLE_SERVICE_ACCOUNT", "GOOGLE_SERVICE_ACCOUNT_PATH",
               "GOOGLE_SERVICE_ACCOUNT_KEY")


def storage_env() -> dict[str, str]:
    """The object-store settings of this process, for the Ray workers it starts (``runtime_env``), so
    a task on another node reaches the same bucket the same way."""
    return {k: os.environ[k] for k in STORAGE_ENV if os.environ.get(k)}


def filesystem(uri: str | os.PathLike) -> tuple[pafs.FileSystem, str]:
    """``(pyarrow filesystem, path inside it)`` for any supported URI."""
    s = str(uri)
    sch = scheme(s)
    if sch in ("", "file"):
        return pafs.LocalFileSystem(), os.path.abspath(local_path(s))
    if sch == "s3":
        return _s3(), s[len("s3://"):].rstrip("/")
    if sch in GCS_SCHEMES:
        return _gcs(), s[len(sch) + 3:].rstrip("/")
    try:
        return pafs.FileSystem.from_uri(s)
    except (ValueError, OSError) as err:  # pyarrow.ArrowInvalid is a ValueError
        raise UserFacingError(f"{s}: unsupported storage URI ({str(err).splitlines()[0][:200]})") from None


def subtree(uri: str | os.PathLike) -> pafs.FileSystem:
    """A filesystem rooted at ``uri`` (paths inside it are relative)."""
    fs, path = filesystem(uri)
    return pafs.SubTreeFileSystem(path, fs)


def exists(uri: str | os.PathLike) -> bool:
    fs, path = filesystem(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def is_file(uri: str | os.PathLike) -> bool:
    fs, path = filesystem(uri)
    return fs.get_file_info(path).type == pafs.FileType.File


def is_dir(uri: str | os.PathLike) -> bool:
    """A directory (locally) or a non-empty prefix (object stores have no empty directories)."""
    fs, path = filesystem(uri)
    if fs.get_file_info(path).type == pafs.FileType.Directory:
        return True
    if is_remote(uri):
        return bool(fs.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=False)))
    return False


def list_files(uri: str | os.PathLike, recursive: bool = True) -> list[tuple[str, int]]:
    """``(relative path, size)`` of every file under ``uri``, sorted (empty when it does not exist)."""
    fs, path = filesystem(uri)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=recursive))
    base = path.rstrip("/") + "/"
    return sorted((i.path[len(base):], int(i.size or 0)) for i in infos if i.type == pafs.FileType.File)


def open_read(uri: str | os.PathLike) -> IO[bytes]:
    """A binary stream over ``uri`` (seekable)."""
    fs, path = filesystem(uri)
    try:
        return fs.open_input_file(path)
    except FileNotFoundError:
        raise UserFacingError(f"{uri} does not exist") from None


def open_write(uri: str | os.PathLike) -> IO[bytes]:
    """A binary output stream (parents created). Object stores publish the object on close only."""
    fs, path = filesystem(uri)
    if not is_remote(uri):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return fs.open_output_stream(path)


def read_bytes(uri: str | os.PathLike) -> bytes:
    with open_read(uri) as f:
        return f.read()


def read_text(uri: str | os.PathLike) -> str:
    return read_bytes(uri).decode()


def put(uri: str | os.PathLike, data: bytes | str) -> None:
    """Atomic put: readers see the old content or the whole new one, never a partial file
    (local: temp file + fsync + rename; object stores: a single PUT is atomic)."""
    blob = data.encode() if isinstance(data, str) else data
    if is_remote(uri):
        with open_write(uri) as f:
            f.write(blob)
        return
    p = Path(local_path(uri))
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def upload_dir(local_dir: str | os.PathLike, uri: str | os.PathLike) -> int:
    """Copy every file under ``local_dir`` to ``uri`` (same relative layout); returns the file count."""
    src = Path(local_dir)
    n = 0
    for p in sorted(src.rglob("*")):
        if p.is_file():
            rel = p.relative_to(src).as_posix()
            if is_remote(uri):
                with open_write(join(uri, rel)) as f, p.open("rb") as g:
                    shutil.copyfileobj(g, f, 1 << 20)
            else:
                dst = Path(local_path(join(uri, rel)))
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(p, dst)
            n += 1
    return n


def cache_dir() -> Path:
    """Where fetched remote artifacts live on this node (``$UNIAUDIO_CACHE_DIR`` or ``~/.cache/uniaudio``)."""
    return Path(os.environ.get("UNIAUDIO_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "uniaudio"))


def staging_dir(uri: str | os.PathLike, kind: str) -> Path:
    """This node's folder for a job whose output ``uri`` is on an object store: what must be a real local
    file while the job runs (a sqlite MLflow store, files built before their upload) lives here, under
    the cache dir, keyed by the URI so a resumed run on the same node finds it again."""
    return cache_dir() / kind / hashlib.sha256(str(uri).rstrip("/").encode()).hexdigest()[:24]


def sha256(uri: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes, streamed in 1 MiB blocks (local path, ``file://`` or object-store URI):
    the one content hash of the project (fetch cache, mirrors, fingerprints, import and lineage records)."""
    h = hashlib.sha256()
    with open_read(uri) as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def tree_hash(files: dict[str, str]) -> str:
    """One hash over ``{relative path: sha256}`` (order-independent)."""
    return hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()


def _verified(dst: Path, listing: list[tuple[str, int]]) -> bool:
    rec_p = dst / _FETCH_RECORD
    if not rec_p.is_file():
        return False
    try:
        rec = json.loads(rec_p.read_text())
    except ValueError:
        return False
    if rec.get("listing") != [list(x) for x in listing]:
        return False  # the remote changed (or the record is from another layout)
    files = rec.get("sha256", {})
    return all((dst / "data" / rel).is_file() and sha256(dst / "data" / rel) == h for rel, h in files.items())


def fetch(uri: str | os.PathLike, expect_hash: str | None = None, cache: str | os.PathLike | None = None) -> Path:
    """A local path holding ``uri``: a local path as is; a remote file or directory tree copied into the
    node's cache once and re-verified (sha256 of every file) before each reuse. ``expect_hash`` (a
    :func:`tree_hash`) refuses content that differs from what the caller was promised."""
    s = str(uri)
    if not is_remote(s):
        p = Path(local_path(s))
        if not p.exists():
            raise UserFacingError(f"{s} does not exist")
        return p
    fs, path = filesystem(s)
    info = fs.get_file_info(path)
    single = info.type == pafs.FileType.File
    listing = [(basename(s), int(info.size or 0))] if single else list_files(s)
    if not listing:
        raise UserFacingError(f"{s} does not exist (no object or prefix of that name)")
    dst = Path(cache or cache_dir()) / "fetch" / hashlib.sha256(s.encode()).hexdigest()[:32]
    if not _verified(dst, listing):
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dst.parent, prefix=".fetch-"))
        hashes: dict[str, str] = {}
        for rel, _size in listing:
            src = path if single else f"{path}/{rel}"
            out = tmp / "data" / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            with fs.open_input_stream(src) as f, out.open("wb") as g:
                shutil.copyfileobj(f, g, 1 << 20)
            hashes[rel] = sha256(out)
        (tmp / _FETCH_RECORD).write_text(json.dumps({"uri": s, "listing": listing, "sha256": hashes}))
        shutil.rmtree(dst, ignore_errors=True)
        try:
            os.replace(tmp, dst)
        except OSError:  # another process on this node won the race; use its verified copy
            shutil.rmtree(tmp, ignore_errors=True)
    rec = json.loads((dst / _FETCH_RECORD).read_text())
    if expect_hash and tree_hash(rec["sha256"]) != expect_hash:
        raise UserFacingError(f"{s}: content hash {tree_hash(rec['sha256'])[:16]}… differs from the expected "
                              f"{expect_hash[:16]}…")
    return dst / "data" / basename(s) if single else dst / "data"
