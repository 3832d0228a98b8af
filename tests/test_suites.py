"""Every built-in task file parses, every suite names existing tasks, and the paper's suite is the 12."""

from __future__ import annotations

import pytest

from spatialeval.tasks import apply_protocol, builtin_suites, builtin_task_files, load_task_file, resolve_tasks


@pytest.mark.parametrize("task_id", sorted(builtin_task_files()))
def test_task_file_is_valid(task_id):
    t = load_task_file(builtin_task_files()[task_id])
    assert t.id == task_id and t.version and t.licence and t.metrics
    assert t.source.kind == "synth" or t.source.dataset
    for proto in t.protocols:
        p = apply_protocol(t, proto)
        assert p.protocol == proto and p.metrics


def test_suites_name_existing_tasks():
    files = builtin_task_files()
    for name, tasks in builtin_suites().items():
        assert tasks, name
        assert set(tasks) <= set(files), (name, set(tasks) - set(files))


def test_spatialthinker_suite_is_the_papers_12_with_its_protocol():
    tasks = resolve_tasks("spatialthinker")
    assert len(tasks) == 12
    assert {t.id for t in resolve_tasks("spatial_core")} < {t.id for t in tasks}
    for t in tasks:
        p = apply_protocol(t, "spatialthinker")
        assert p.max_new_tokens == 2048, t.id
        assert p.extractor != "default", t.id
