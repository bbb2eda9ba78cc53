"""Acceptance: altered copies of real photographs are found; unrelated photos and noise are not."""

from safety.neardup.query import LoadedIndex
from safety.neardup.testing import ALTERATIONS, INDEXED_PHOTOS, evaluate_robustness


def test_altered_copies_found_unrelated_not(built):
    report = evaluate_robustness(LoadedIndex.open(built, "train"), radius=8)
    assert len(report.rows) == len(INDEXED_PHOTOS) * len(ALTERATIONS)
    missed = [(r.photo, r.alteration, r.phash_distance, r.dhash_distance) for r in report.rows if not r.found]
    assert missed == []
    assert [r for r in report.rows if r.wrong_matches] == []
    assert report.false_positives == [] and report.unrelated_queries >= 40
    # the mirrored query is what finds mirrors: both codes are far from the original's otherwise
    assert all(r.best_distance == 0 for r in report.rows if r.alteration == "mirror")
