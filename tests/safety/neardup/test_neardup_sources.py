import json

import pytest

from safety.neardup.errors import SourceError
from safety.neardup.sources import read_source


def _png(path):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), (1, 2, 3)).save(path)


def test_folder_lists_images_recursively_ignores_others(tmp_path):
    _png(tmp_path / "b.png")
    _png(tmp_path / "sub" / "a.JPG")
    _png(tmp_path / ".hidden" / "x.png")
    (tmp_path / "notes.txt").write_text("x")
    listing = read_source(tmp_path, licence="CC0", owner="me")
    assert [i.id for i in listing.items] == ["b.png", "sub/a.JPG"]
    assert listing.ignored == ["notes.txt"]
    assert all(i.licence == "CC0" and i.owner == "me" for i in listing.items)


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SourceError, match="no images to index") as e:
        read_source(tmp_path)
    assert "1 other files ignored" in e.value.message


def test_missing_source(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        read_source(tmp_path / "nope")


def test_csv_manifest_with_rights_and_defaults(tmp_path):
    (tmp_path / "m.csv").write_text(
        "path,id,license,owner,caption\nimgs/a.png,work-1,CC-BY,Ann,a cat\nimgs/b.png,,,,\n"
    )
    listing = read_source(tmp_path / "m.csv", licence="all rights reserved", owner="Studio")
    a, b = listing.items
    assert (a.id, a.licence, a.owner, a.path) == ("work-1", "CC-BY", "Ann", tmp_path / "imgs/a.png")
    assert (b.id, b.licence, b.owner) == ("imgs/b.png", "all rights reserved", "Studio")


def test_jsonl_manifest_and_its_errors(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"path": "/abs/x.png", "id": "k1", "licence": "CC0"}) + "\n\n")
    (item,) = read_source(m).items
    assert str(item.path) == "/abs/x.png" and item.id == "k1"
    m.write_text('{"path": "a.png"}\n{"path": "https://example.com/b.png"}\n')
    with pytest.raises(SourceError, match=r"m.jsonl:2: path .* is a URL"):
        read_source(m)
    m.write_text('{"path": "a.png", "id": "s3://bucket/a"}\n')
    with pytest.raises(SourceError, match="URL-less id"):
        read_source(m)
    m.write_text('{"path": "a.png"}\n[1]\n')
    with pytest.raises(SourceError, match=":2: each line must be a JSON object"):
        read_source(m)


def test_manifest_needs_path_and_unique_ids(tmp_path):
    (tmp_path / "m.csv").write_text("file,id\na.png,1\n")
    with pytest.raises(SourceError, match='must name a "path" column'):
        read_source(tmp_path / "m.csv")
    (tmp_path / "m.csv").write_text("path,id\na.png,1\nb.png,1\n")
    with pytest.raises(SourceError, match="1 duplicate ids"):
        read_source(tmp_path / "m.csv")


def test_other_files_are_not_sources(tmp_path):
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    with pytest.raises(SourceError, match="neither a folder nor"):
        read_source(tmp_path / "x.parquet")
