"""The sandbox store: cached templates, independent clones, read-only and frozen sandboxes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import sandbox_crm.backends.sqlite_files as store_module
from sandbox_crm.clock import sandbox_now
from sandbox_crm.generator import GenerationSpec
from sandbox_crm.info import origin_meta
from sandbox_crm.models import Customer, SandboxMeta, StaffUser
from sandbox_crm.store import SandboxExists, SandboxFrozen, SandboxNotFound, SandboxStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SandboxStore]:
    """A store with its own (empty) template cache, so generation can be counted."""
    store = SandboxStore(tmp_path / "sandboxes", tmp_path / "templates")
    yield store
    store.dispose()


@pytest.fixture
def generations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the cache key of every template the store generates."""
    calls: list[str] = []
    real = store_module.generate

    def counting(session: Session, spec: GenerationSpec):
        calls.append(spec.cache_key())
        return real(session, spec)

    monkeypatch.setattr(store_module, "generate", counting)
    return calls


def _spec(customers: int = 40) -> GenerationSpec:
    return GenerationSpec("retail", 4207, customers, date(2026, 3, 16))


def test_template_is_generated_once_and_reused(store: SandboxStore, generations: list[str]) -> None:
    spec = _spec()
    template = store.ensure_template(spec)
    assert template == store.template_dir / f"{spec.cache_key()}.sqlite"
    mtime = template.stat().st_mtime_ns
    store.create("one", spec)
    store.create("two", spec)
    assert store.ensure_template(spec) == template
    assert generations == [spec.cache_key()]
    assert template.stat().st_mtime_ns == mtime
    assert not list(store.template_dir.glob("*.tmp"))
    store.create("three", _spec(customers=41))
    assert len(generations) == 2


def test_templates_of_one_spec_are_byte_identical(tmp_path: Path) -> None:
    first = SandboxStore(tmp_path / "a", tmp_path / "ta").ensure_template(_spec())
    # Another interpreter with another hash seed: set and dict-of-set orders must not leak in.
    script = (
        "import sys; from pathlib import Path; from tests.test_store import _spec; "
        "from sandbox_crm.store import SandboxStore; "
        "print(SandboxStore(Path(sys.argv[1]), Path(sys.argv[2])).ensure_template(_spec()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "b"), str(tmp_path / "tb")],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
    )
    second = Path(result.stdout.strip())
    assert second != first and second.name == first.name
    assert first.read_bytes() == second.read_bytes()


def test_racing_template_requests_generate_once(
    store: SandboxStore, generations: list[str]
) -> None:
    spec = _spec()
    paths: list[Path] = []
    threads = [
        threading.Thread(target=lambda: paths.append(store.ensure_template(spec))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(generations) == 1 and len(set(paths)) == 1 and paths[0].exists()


def test_clone_starts_the_clock_and_is_independent(store: SandboxStore) -> None:
    spec = _spec()
    store.create("alpha", spec, clock_mode="stepped")
    store.create("beta", spec)
    with store.session("alpha") as session:
        assert session.get_one(SandboxMeta, "clock_mode").value == "stepped"
        assert sandbox_now(session) == datetime(2026, 3, 16, 9, 0)
        customer = session.get_one(Customer, 1)
        original = customer.name_en
        customer.name_en = "Changed In Alpha"
        session.add(Customer(**{**_copy(customer), "id": 999, "member_no": "M00000999"}))
        session.commit()
    with store.session("beta") as session:
        assert session.get_one(SandboxMeta, "clock_mode").value == "real"
        assert session.get_one(Customer, 1).name_en == original
        assert session.get(Customer, 999) is None
    with store.template_session(spec) as session:
        assert session.get_one(Customer, 1).name_en == original
        assert session.get(SandboxMeta, "clock_mode") is None
        assert session.scalar(select(func.count(Customer.id))) == 40


def _copy(customer: Customer) -> dict:
    return {c.key: getattr(customer, c.key) for c in Customer.__table__.columns}


def test_create_refuses_an_existing_sandbox_and_a_bad_clock_mode(store: SandboxStore) -> None:
    spec = _spec()
    store.create("taken", spec)
    with pytest.raises(SandboxExists):
        store.create("taken", spec)
    with pytest.raises(ValueError, match="clock mode"):
        store.create("other", spec, clock_mode="fast")
    assert store.keys() == ["taken"]


@pytest.mark.parametrize("key", ["", "../escape", "a/b", "a b", "a.b", "x" * 65, "ключ"])
def test_bad_keys_are_rejected(store: SandboxStore, key: str) -> None:
    with pytest.raises(ValueError, match="invalid sandbox key"):
        store.create(key, _spec())
    with pytest.raises(ValueError, match="invalid sandbox key"):
        store.path(key)
    assert not store.sandbox_dir.exists() or not list(store.sandbox_dir.iterdir())


def test_read_only_session_refuses_writes(store: SandboxStore) -> None:
    store.create("ro", _spec())
    with store.session("ro", read_only=True) as session:
        assert session.scalar(select(func.count(Customer.id))) == 40
        session.get_one(Customer, 1).name_en = "Not Allowed"
        with pytest.raises(OperationalError, match="readonly"):
            session.commit()
    with store.template_session(_spec()) as session:
        session.add(SandboxMeta(key="x", value="y"))
        with pytest.raises(OperationalError, match="readonly"):
            session.commit()


def test_freeze_blocks_writable_sessions(store: SandboxStore) -> None:
    store.create("done", _spec())
    store.freeze("done")
    store.freeze("done")  # idempotent
    assert store.is_frozen("done")
    assert store.path("done").stat().st_mode & 0o777 == 0o444
    with pytest.raises(SandboxFrozen, match="frozen"):
        with store.session("done"):
            pass
    with store.session("done", read_only=True) as session:
        stamp = session.get_one(SandboxMeta, "frozen_at").value
        assert datetime.fromisoformat(stamp)
        assert session.scalars(select(StaffUser).where(StaffUser.is_trainee)).one()


def test_missing_sandbox_and_delete(store: SandboxStore) -> None:
    with pytest.raises(SandboxNotFound):
        with store.session("nothing"):
            pass
    store.create("gone", _spec())
    assert store.exists("gone")
    store.freeze("gone")
    store.delete("gone")
    assert not store.exists("gone")
    store.delete("gone")  # no error


def test_purge_deletes_only_old_frozen_sandboxes(store: SandboxStore) -> None:
    spec = _spec()
    for key in ("old-frozen", "new-frozen", "old-open"):
        store.create(key, spec)
    store.freeze("old-frozen")
    store.freeze("new-frozen")
    long_ago = time.time() - 40 * 86400
    for key in ("old-frozen", "old-open"):
        os.utime(store.path(key), (long_ago, long_ago))
    assert store.purge(timedelta(days=30)) == ["old-frozen"]
    assert store.keys() == ["new-frozen", "old-open"]
    assert store.purge(timedelta(days=30)) == []


def test_a_template_opened_by_key_is_read_only_and_never_generated(
    store: SandboxStore, generations: list[str]
) -> None:
    spec = _spec()
    key = spec.cache_key()
    with pytest.raises(store_module.TemplateNotFound):
        with store.template_session_for_key(key):
            pass
    assert generations == [] and not store.has_template(key)
    store.ensure_template(spec)
    with store.template_session_for_key(key) as template:
        assert template.scalar(select(func.count(Customer.id))) == spec.customers
        template.add(SandboxMeta(key="tampered", value="yes"))
        with pytest.raises(OperationalError):
            template.flush()
    with pytest.raises(ValueError, match="invalid template key"):
        store.has_template("../attempt-1")


def test_purge_templates_keeps_the_keys_it_is_given(store: SandboxStore) -> None:
    kept, spare = _spec(), _spec(customers=41)
    store.ensure_template(kept)
    store.ensure_template(spare)
    keep = [kept.cache_key()]
    assert store.purge_templates(keep, dry_run=True) == [spare.cache_key()]
    assert store.has_template(spare.cache_key())
    assert store.purge_templates(keep) == [spare.cache_key()]
    assert store.template_keys() == keep
    assert store.purge_templates(keep) == []


def test_shared_fixtures_give_a_stepped_sandbox_and_the_trainee(
    sandbox_session: Session, sandbox_actor: StaffUser, sandbox_spec: GenerationSpec
) -> None:
    assert sandbox_actor.is_trainee
    assert sandbox_actor.department.code == sandbox_spec.acting_department
    assert sandbox_session.get_one(SandboxMeta, "clock_mode").value == "stepped"
    first, second = sandbox_now(sandbox_session), sandbox_now(sandbox_session)
    assert second - first == timedelta(minutes=1)
    assert sandbox_session.scalar(select(func.count(Customer.id))) == sandbox_spec.customers


def test_a_sandbox_replaced_by_another_process_is_read_afresh(tmp_path: Path) -> None:
    """Engines pool their connections; one whose file was replaced elsewhere is reopened."""
    here = SandboxStore(tmp_path / "sandboxes", tmp_path / "templates")
    elsewhere = SandboxStore(tmp_path / "sandboxes", tmp_path / "templates")
    here.create("one", _spec())
    with here.session("one") as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 40
    elsewhere.delete("one")
    elsewhere.create("one", _spec(customers=41))
    with here.session("one") as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 41
    here.dispose()
    elsewhere.dispose()


def test_racing_creates_of_one_key_cannot_both_succeed(
    store: SandboxStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec()
    store.ensure_template(spec)
    both_copied = threading.Barrier(2)
    real_publish = store_module._publish

    def publish_together(tmp: Path, path: Path) -> None:
        # Both have seen the name free and written their clone before either names it.
        both_copied.wait(timeout=30)
        real_publish(tmp, path)

    monkeypatch.setattr(store_module, "_publish", publish_together)
    outcomes: list[str] = []

    def start(mode: str) -> None:
        try:
            store.create("contested", spec, clock_mode=mode)
            outcomes.append(mode)
        except SandboxExists:
            outcomes.append("refused")

    threads = [threading.Thread(target=start, args=(mode,)) for mode in ("real", "stepped")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("refused") == 1
    (winner,) = [mode for mode in outcomes if mode != "refused"]
    with store.session("contested") as session:
        assert session.get_one(SandboxMeta, "clock_mode").value == winner
    assert store.keys() == ["contested"]
    assert [p.name for p in store.sandbox_dir.iterdir()] == ["contested.sqlite"]


def test_a_clone_that_fails_to_start_leaves_nothing_behind(
    store: SandboxStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(tmp: Path, path: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store_module, "_publish", broken)
    with pytest.raises(OSError, match="disk full"):
        store.create("broken", _spec())
    assert not store.exists("broken")
    assert list(store.sandbox_dir.iterdir()) == []


@pytest.mark.parametrize("in_memory_up_to", [0, 64 * 1024 * 1024], ids=["file", "memory"])
def test_clones_of_alternating_templates_are_whole_and_their_own(
    store: SandboxStore, monkeypatch: pytest.MonkeyPatch, in_memory_up_to: int
) -> None:
    """Whether a clone is copied from the file or taken from the template in memory (and one
    template is dropped for the other when there is room for only one), each clone is its own
    template's data with its own first rows, and nothing of the clone before it."""
    monkeypatch.setattr(store_module, "_IMAGED_TEMPLATE_BYTES", in_memory_up_to)
    small, large = _spec(), _spec(customers=41)
    room_for_one = max(store.ensure_template(s).stat().st_size for s in (small, large))
    monkeypatch.setattr(store_module, "_IMAGED_TOTAL_BYTES", room_for_one)
    plan = [(small, 0, "stepped"), (small, None, "real"), (large, 2, "real"), (small, 3, "real")]
    for i, (spec, variant, clock) in enumerate(plan):
        store.create(f"clone-{i}", spec, clock, variant=variant)
        with store.session(f"clone-{i}") as session:
            assert session.scalar(select(func.count(Customer.id))) == spec.customers
            assert session.get_one(SandboxMeta, "template_key").value == spec.cache_key()
            assert session.get_one(SandboxMeta, "clock_mode").value == clock
            found = session.get(SandboxMeta, "variant")
            assert (found and found.value) == (None if variant is None else str(variant))
            assert session.connection().exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            # Written in this clone so far: its first rows, nothing else.
            assert set(store.tracked_keys(session, "sandbox_meta") or []) == set(
                origin_meta(spec.cache_key(), variant)
            ) | {"clock_mode", "clock_anchor_sandbox", "clock_anchor_real"}
            assert store.tracked_keys(session, "customer") == []
            session.get_one(Customer, 1).name_en = f"Changed in clone {i}"
            session.commit()
    with store.template_session(small) as template:
        assert template.get_one(Customer, 1).name_en != "Changed in clone 0"
        assert template.get(SandboxMeta, "clock_mode") is None


def test_a_template_replaced_on_disk_is_cloned_as_it_is_now(store: SandboxStore) -> None:
    spec, other = _spec(), _spec(customers=41)
    store.create("before", spec)
    template = store.ensure_template(spec)
    # Another process deletes the template and a different file takes its name.
    replacement = template.with_suffix(".new")
    replacement.write_bytes(store.ensure_template(other).read_bytes())
    os.replace(replacement, template)
    store.create("after", spec)
    with store.session("before") as session:
        assert session.scalar(select(func.count(Customer.id))) == 40
    with store.session("after") as session:
        assert session.scalar(select(func.count(Customer.id))) == 41


def test_a_new_sandbox_reuses_the_sql_compiled_for_another(store: SandboxStore) -> None:
    """A sandbox's first pages do not compile again what was compiled for other sandboxes, and
    each still reads its own file."""
    store.create("forty", _spec())
    store.create("forty-one", _spec(customers=41))
    query = select(func.count(Customer.id)).where(Customer.id > 0)
    with store.session("forty") as session:
        assert session.connection().execute(query).scalar() == 40
    with store.session("forty-one", read_only=True) as session:
        result = session.connection().execute(query)
        assert result.context.cache_hit == result.context.dialect.CACHE_HIT
        assert result.scalar() == 41


class _FailingOnce:
    """A connection whose next serialize() fails, as if memory ran out mid-clone."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self.failed = False

    def serialize(self) -> bytes:
        if not self.failed:
            self.failed = True
            raise MemoryError("no room for the copy")
        return self._connection.serialize()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def test_a_clone_that_fails_midway_leaves_nothing_to_the_next(store: SandboxStore) -> None:
    spec = _spec()
    store.create("first", spec, variant=1)
    (image,) = store._images.values()
    image.connection = _FailingOnce(image.connection)
    with pytest.raises(MemoryError):
        store.create("second", spec, clock_mode="stepped", variant=2)
    assert not store.exists("second")
    for key in ("third", "fourth"):  # from the template read afresh
        store.create(key, spec)
        with store.session(key) as session:
            assert session.get_one(SandboxMeta, "clock_mode").value == "real"
            assert session.get(SandboxMeta, "variant") is None
            assert set(store.tracked_keys(session, "sandbox_meta") or []) == {
                "clock_mode",
                "clock_anchor_sandbox",
                "clock_anchor_real",
                "template_key",
            }
