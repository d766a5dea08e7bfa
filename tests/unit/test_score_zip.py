"""The ZIP writer behind the streamed score reports: entries written one at a time into an
unseekable sink, each call handing back its bytes, make one archive that any reader opens,
and nothing stays buffered between entries."""

from __future__ import annotations

import io
import os
import zipfile

from exam_service.reports.score_zip import ZipStream

WHEN = (2026, 12, 7, 9, 0, 0)


def test_entries_written_one_by_one_make_one_archive() -> None:
    stream = ZipStream(WHEN)
    files = {f"cand{n:03d}-attempt-1.pdf": os.urandom(1000 + n) for n in range(50)}
    chunks = stream.add("index.csv", b"username\ncand000\n")
    for name, data in files.items():
        parts = stream.add(name, data)
        assert any(part is data for part in parts)  # the entry's data itself, not a copy
        assert stream.sink.parts == []  # nothing kept back
        chunks += parts
    chunks += stream.finish()
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.testzip() is None
    assert archive.namelist() == ["index.csv", *files]
    assert all(archive.read(name) == data for name, data in files.items())
    info = archive.getinfo("cand007-attempt-1.pdf")
    assert info.compress_type == zipfile.ZIP_STORED and info.date_time == WHEN


def test_an_archive_without_reports_still_opens() -> None:
    stream = ZipStream(WHEN)
    body = b"".join(stream.add("index.csv", b"username\n") + stream.finish())
    assert zipfile.ZipFile(io.BytesIO(body)).namelist() == ["index.csv"]
