"""The sandbox generator: determinism, realistic distributions, consistency, planted situations."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.orm import Session

from sandbox_crm import plants as plant_registry
from sandbox_crm.campaigns.plants import JEWELLERY_PLANTS
from sandbox_crm.catalogue_data import CHANNEL_CONTACT_KINDS
from sandbox_crm.generator import (
    AML_THRESHOLD_HKD,
    GENERATOR_VERSION,
    GenerationSpec,
    GenerationSummary,
    PlantSpec,
    generate,
)
from sandbox_crm.hk_provider import DISTRICTS
from sandbox_crm.hkid import find_hkids, find_partial_hkids, is_valid_hkid
from sandbox_crm.invoices.plants import CONTROL_PLANTS
from sandbox_crm.models import (
    AuditEvent,
    Branch,
    Campaign,
    CollectionNotice,
    ConsentRecord,
    ContactPoint,
    Customer,
    Department,
    Message,
    OrderLine,
    Product,
    ReportDefinition,
    ReportShare,
    SalesOrder,
    SandboxBase,
    SandboxMeta,
    StaffUser,
)
from sandbox_crm.plants import looks_like_email
from sandbox_crm.query import select_rows
from sandbox_crm.sales.plants import JEWELLERY_PLANTS as SALES_PLANTS
from sandbox_crm.store import SandboxStore

TODAY = date(2026, 3, 16)
DAY0 = datetime(2026, 3, 16)
ALL_PLANTS = (
    PlantSpec.of("opted_out_in_segment", 5),
    PlantSpec.of("opted_out_in_segment", 2, region="Kowloon", channel="sms", tiers=["silver"]),
    PlantSpec.of("hkid_in_notes", 4),
    PlantSpec.of("hkid_on_member", 4),
    PlantSpec.of("invalid_email", 3),
    PlantSpec.of("duplicate_customer", 3),
    PlantSpec.of("dormant_admin", 1),
    PlantSpec.of("customer_profile", 2, tiers=["silver"], spend_hkd=[8000, 9000]),
    PlantSpec.of("service_case", 1),
    PlantSpec.of("leaver_admin_account", 1),
    PlantSpec.of("current_admin_account", 1),
    PlantSpec.of("eshop_accounts", 2),
    PlantSpec.of("incomplete_profile", 1, defect="malformed_email", reach="sms"),
    PlantSpec.of("quality_backlog", 1),
    PlantSpec.of("signup_forms", 1, excessive=True, access_contact=False),
    PlantSpec.of("tracking_data", 6, retention="too_long"),
    PlantSpec.of(
        "data_request",
        1,
        request_kind="correction",
        correction_field="district",
        correction_value="Sai Kung",
        disclosures=1,
    ),
    PlantSpec.of("online_sales", 1),
    PlantSpec.of("access_rights", 2),
    PlantSpec.of("department_access_request", 1),
    PlantSpec.of("staff_misuse", 1, pattern="bulk_export"),
    PlantSpec.of("lapsed_buyer", 2, promotions_30d=3),
)


def _generate(path: Path, spec: GenerationSpec) -> tuple[Engine, GenerationSummary]:
    engine = create_engine(f"sqlite:///{path}")
    SandboxBase.metadata.create_all(engine)
    with Session(engine) as session:
        summary = generate(session, spec)
        session.commit()
    return engine, summary


def _dump(engine: Engine) -> dict[str, list[tuple]]:
    """Every table's rows, ordered by primary key."""
    dump = {}
    with engine.connect() as conn:
        for table in SandboxBase.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            dump[table.name] = [tuple(row) for row in rows]
    return dump


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, GenerationSummary]]:
    """A 1,200-customer retail sandbox with every kind of plant."""
    spec = GenerationSpec("retail", 4207, 1200, TODAY, plants=ALL_PLANTS)
    engine, summary = _generate(tmp_path_factory.mktemp("retail") / "s.sqlite", spec)
    with Session(engine) as session:
        yield session, summary
    engine.dispose()


@pytest.fixture(scope="module")
def jewellery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """A 400-customer jewellery sandbox without plants."""
    spec = GenerationSpec("jewellery", 88, 400, TODAY)
    engine, _ = _generate(tmp_path_factory.mktemp("jewellery") / "s.sqlite", spec)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _meta(session: Session, key: str) -> str:
    return session.get_one(SandboxMeta, key).value


def _latest_dm(session: Session) -> dict[tuple[int, str], ConsentRecord]:
    records = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.purpose == "direct_marketing")
        .order_by(ConsentRecord.captured_at, ConsentRecord.id)
    )
    return {(r.customer_id, r.channel): r for r in records}


# --- determinism and the spec -----------------------------------------------------------------


def test_same_spec_gives_identical_data_and_other_seeds_differ(tmp_path: Path) -> None:
    spec = GenerationSpec("retail", 11, 150, TODAY, plants=ALL_PLANTS[:1])
    first, _ = _generate(tmp_path / "a.sqlite", spec)
    second, _ = _generate(tmp_path / "b.sqlite", spec)
    other, _ = _generate(tmp_path / "c.sqlite", GenerationSpec("retail", 12, 150, TODAY))
    a, b, c = _dump(first), _dump(second), _dump(other)
    assert a == b
    assert sum(len(rows) for rows in a.values()) > 1000
    assert a["customer"] != c["customer"]
    assert a["staff_user"] != c["staff_user"]


@pytest.mark.parametrize(
    "spec",
    [
        GenerationSpec("retail", 4207, 300, TODAY, plants=ALL_PLANTS[:6]),
        GenerationSpec("jewellery", 88, 300, TODAY, plants=(PlantSpec.of("service_case", 1),)),
    ],
    ids=["retail", "jewellery"],
)
def test_a_template_holds_the_rows_and_indexes_of_a_sandbox_built_with_its_indexes(
    tmp_path: Path, spec: GenerationSpec
) -> None:
    """The store loads the tables first, without foreign key checks, and indexes them after."""
    store = SandboxStore(tmp_path / "sandboxes", tmp_path / "templates")
    template = store.ensure_template(spec)
    store.dispose()
    built, _ = _generate(tmp_path / "built.sqlite", spec)
    loaded = create_engine(f"sqlite:///{template}")
    assert _dump(loaded) == _dump(built)

    def indexes(engine: Engine) -> set[tuple[str, str]]:
        with engine.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
            # The template also has the change log's own table, installed after generation.
            return {row for row in found.all() if row[0] in SandboxBase.metadata.tables}

    assert indexes(loaded) == indexes(built)
    with loaded.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        # Planner statistics are gathered once, at the end, and copied into every clone.
        analysed = conn.exec_driver_sql("SELECT DISTINCT tbl FROM sqlite_stat1").scalars().all()
        assert {"customer", "customer_facts", "sales_order"} <= set(analysed)
    loaded.dispose()
    built.dispose()


@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_the_customer_list_sorted_by_spend_walks_an_index(tmp_path: Path, direction: str) -> None:
    store = SandboxStore(tmp_path / "sandboxes", tmp_path / "templates")
    spec = GenerationSpec("retail", 4207, 300, TODAY)
    store.create("list", spec)
    with store.session("list") as session:
        statements: list[tuple[str, object]] = []
        connection = session.connection()

        def remember(_conn, _cursor, statement, parameters, _context, _many) -> None:
            statements.append((statement, parameters))

        event.listen(connection, "before_cursor_execute", remember)
        page = select_rows(
            session,
            "customers",
            where=None,
            columns=["member_no", "spend_12m"],
            sort=[("spend_12m", direction)],
            as_of=TODAY,
            limit=50,
        )
        event.remove(connection, "before_cursor_execute", remember)
        spends = [row["spend_12m"] for row in page.rows]
        assert spends == sorted(spends, reverse=direction == "desc") and len(spends) == 50
        statement, parameters = next(s for s in statements if "ORDER BY" in s[0])
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        details = " / ".join(row[-1] for row in plan)
        assert "ix_customer_facts_spend_12m" in details
        assert "TEMP B-TREE" not in details, details
    store.dispose()


def test_cache_key_covers_every_field_and_ignores_param_order() -> None:
    spec = GenerationSpec("retail", 1, 150, TODAY)
    key = spec.cache_key()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert key == GenerationSpec("retail", 1, 150, TODAY).cache_key()
    variants = [
        GenerationSpec("jewellery", 1, 150, TODAY),
        GenerationSpec("retail", 2, 150, TODAY),
        GenerationSpec("retail", 1, 151, TODAY),
        GenerationSpec("retail", 1, 150, TODAY + timedelta(days=1)),
        GenerationSpec("retail", 1, 150, TODAY, company="Other Co."),
        GenerationSpec("retail", 1, 150, TODAY, acting_department="marketing"),
        GenerationSpec("retail", 1, 150, TODAY, acting_title="Marketing Officer"),
        GenerationSpec("retail", 1, 150, TODAY, plants=(PlantSpec("dormant_admin", 1),)),
    ]
    assert len({key, *(v.cache_key() for v in variants)}) == len(variants) + 1
    one = PlantSpec.of("opted_out_in_segment", 2, channel="sms", tiers=["gold"])
    two = PlantSpec("opted_out_in_segment", 2, (("tiers", ("gold",)), ("channel", "sms")))
    assert one == two and hash(one) == hash(two)
    assert one.param_dict() == {"channel": "sms", "tiers": ["gold"]}


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"profile": "bakery"}, "unknown profile"),
        ({"customers": 0}, "customers"),
        ({"acting_department": "legal"}, "unknown department"),
    ],
)
def test_invalid_spec_is_rejected(changes: dict, message: str) -> None:
    fields = {"profile": "retail", "seed": 1, "customers": 10, "today": TODAY, **changes}
    with pytest.raises(ValueError, match=message):
        GenerationSpec(**fields)


def test_generate_refuses_a_sandbox_that_has_data(tmp_path: Path) -> None:
    spec = GenerationSpec("retail", 1, 20, TODAY)
    engine, _ = _generate(tmp_path / "s.sqlite", spec)
    with Session(engine) as session, pytest.raises(ValueError, match="empty sandbox"):
        generate(session, spec)


# --- organisation -----------------------------------------------------------------------------


def test_meta_records_the_spec_and_the_trainee(retail: tuple[Session, GenerationSummary]) -> None:
    session, summary = retail
    assert _meta(session, "profile") == "retail"
    assert _meta(session, "seed") == "4207"
    assert _meta(session, "today") == "2026-03-16"
    assert _meta(session, "generator_version") == GENERATOR_VERSION
    assert _meta(session, "company").endswith(("Ltd.", "Co."))
    trainee = session.get_one(StaffUser, int(_meta(session, "trainee_staff_id")))
    assert trainee.is_trainee and trainee.title == "CRM Officer"
    assert trainee.department.code == "customer_service"
    planted = json.loads(_meta(session, "plants"))
    assert planted == {kind: list(ids) for kind, ids in summary.plants.items()}
    assert summary.counts["customer"] == session.scalar(select(func.count(Customer.id)))


def test_branches_departments_and_staff(retail: tuple[Session, GenerationSummary]) -> None:
    session, _ = retail
    branches = session.scalars(select(Branch)).all()
    kinds = Counter(b.kind for b in branches)
    assert 8 <= len(branches) <= 12
    assert kinds["warehouse"] == 1 and kinds["office"] == 1
    assert {b.region for b in branches if b.kind == "store"} == {
        "Hong Kong Island",
        "Kowloon",
        "New Territories",
    }
    remote = [b for b in branches if b.is_remote]
    assert len(remote) >= 2 and all(b.ip_allow_list for b in remote)
    assert all(DISTRICTS[b.district] == b.region for b in branches)
    departments = {d.code: d.name for d in session.scalars(select(Department))}
    assert set(departments) == {
        "marketing",
        "sales",
        "customer_service",
        "finance",
        "it",
        "hr",
        "store_operations",
        "management",
    }
    assert departments["marketing"] == "Marketing"
    staff = session.scalars(select(StaffUser)).all()
    assert 25 <= len(staff) <= 40
    assert sum(s.is_trainee for s in staff) == 1
    assert len({s.username for s in staff}) == len(staff)
    assert all(re.fullmatch(r"[a-z]+[0-9]*", s.username) for s in staff)
    leavers = [s for s in staff if s.left_on is not None and not s.is_admin]
    assert 1 <= len(leavers) <= 2
    assert all(not s.is_active and s.left_on < TODAY for s in leavers)
    admins = [s for s in staff if s.is_admin and s.left_on is None]
    assert len(admins) >= 2 and all(s.mfa_enabled and s.is_active for s in admins)
    assert {s.department.code for s in staff} == set(departments)


def test_collection_notices_state_what_pdpo_requires(
    retail: tuple[Session, GenerationSummary],
) -> None:
    session, _ = retail
    notices = session.scalars(select(CollectionNotice).order_by(CollectionNotice.id)).all()
    assert 2 <= len(notices) <= 3
    assert [n.effective_from for n in notices] == sorted(n.effective_from for n in notices)
    for notice in notices:
        assert notice.purposes and notice.transferee_classes and notice.obligatory_fields
        assert notice.voluntary_fields and notice.data_access_officer
        assert notice.dm_intent_stated and notice.dm_reply_channel
        assert notice.dm_data_kinds == ["name", "email", "mobile", "address"]
        assert notice.dm_marketing_classes == [
            "household goods and lifestyle products offers",
            "membership events",
        ]
    starts = [(n.effective_from, n.id) for n in notices]
    for customer in session.scalars(select(Customer)):
        in_force = max(i for start, i in starts if start <= customer.joined_on)
        assert customer.collection_notice_id == in_force


def test_products_per_profile(
    retail: tuple[Session, GenerationSummary], jewellery: Session
) -> None:
    session, _ = retail
    retail_products = session.scalars(select(Product)).all()
    jewellery_products = jewellery.scalars(select(Product)).all()
    assert 100 <= len(retail_products) <= 140 and 100 <= len(jewellery_products) <= 140
    retail_categories = {p.category for p in retail_products}
    jewellery_categories = {p.category for p in jewellery_products}
    assert {"Kitchen", "Toys", "Beauty"} <= retail_categories
    assert {"Rings", "Necklaces", "Jade", "Gold", "Watches", "Earrings", "Bracelets"} <= (
        jewellery_categories
    )
    assert not retail_categories & jewellery_categories
    assert max(p.price_hkd for p in retail_products) < 5000
    assert sum(p.price_hkd >= AML_THRESHOLD_HKD for p in jewellery_products) >= 10


# --- customers and contact data ---------------------------------------------------------------


def test_customer_distributions(retail: tuple[Session, GenerationSummary]) -> None:
    session, summary = retail
    duplicates = set(summary.plants["duplicate_customer"])
    customers = [c for c in session.scalars(select(Customer)) if c.id not in duplicates]
    assert len(customers) == 1200
    share = {t: n / len(customers) for t, n in Counter(c.tier for c in customers).items()}
    assert 0.48 <= share["classic"] <= 0.62
    assert 0.19 <= share["silver"] <= 0.31
    assert 0.09 <= share["gold"] <= 0.19
    assert 0.03 <= share["platinum"] <= 0.10
    status = Counter(c.status for c in customers)
    assert status["active"] / len(customers) > 0.8 and status["closed"] and status["inactive"]
    assert set(Counter(c.source_system for c in customers)) == {"pos", "eshop", "crm", "event"}
    assert len({c.district for c in customers}) == 18
    years = Counter(c.joined_on.year for c in customers)
    assert len(years) >= 6
    for c in customers:
        assert re.fullmatch(r"M\d{8}", c.member_no) and c.member_no == f"M{c.id:08d}"
        assert c.region == DISTRICTS[c.district]
        assert TODAY - timedelta(days=6 * 366) <= c.joined_on < TODAY
        assert c.created_at <= c.updated_at < DAY0
        assert (c.closed_on is not None) == (c.status == "closed")
        assert c.date_of_birth is None
        assert c.name_zh and c.gender in ("F", "M") and c.preferred_language in ("en", "zh")
    assert {c.hkid for c in customers if c.id not in summary.plants["hkid_on_member"]} == {None}
    noted = [c for c in customers if c.notes and c.id not in summary.plants["hkid_in_notes"]]
    assert 0 < len(noted) < 0.1 * len(customers)


def test_phone_numbers_and_emails(retail: tuple[Session, GenerationSummary]) -> None:
    session, summary = retail
    points = session.scalars(select(ContactPoint)).all()
    by_kind: dict[str, list[ContactPoint]] = {}
    for p in points:
        by_kind.setdefault(p.kind, []).append(p)
    customers = session.scalar(select(func.count(Customer.id)))
    assert len(by_kind["email"]) > 0.8 * customers
    assert len(by_kind["mobile"]) > 0.85 * customers
    assert 0.1 * customers < len(by_kind["phone"]) < 0.3 * customers
    assert len(by_kind["address"]) > 0.5 * customers
    mobiles = [p for p in by_kind["mobile"] if re.fullmatch(r"[569]\d{7}", p.value)]
    assert len(mobiles) > 0.97 * len(by_kind["mobile"])
    bad_mobiles = [p for p in by_kind["mobile"] if p not in mobiles]
    assert bad_mobiles and all(re.fullmatch(r"\d{7}|\d{9}", p.value) for p in bad_mobiles)
    assert all(re.fullmatch(r"[23]\d{7}", p.value) for p in by_kind["phone"])
    bad_emails = [p for p in by_kind["email"] if not looks_like_email(p.value)]
    planted = set(summary.plants["invalid_email"])
    base_bad = [p for p in bad_emails if p.customer_id not in planted]
    assert 0.01 * len(by_kind["email"]) < len(base_bad) < 0.06 * len(by_kind["email"])
    # Some malformed addresses were caught and flagged; others are waiting to be found.
    assert any(p.is_invalid for p in base_bad) and any(not p.is_invalid for p in base_bad)


# --- consent ----------------------------------------------------------------------------------


def test_every_customer_has_a_joining_consent_record_per_channel(
    retail: tuple[Session, GenerationSummary],
) -> None:
    session, _ = retail
    customers = {c.id: c for c in session.scalars(select(Customer))}
    first: dict[tuple[int, str], ConsentRecord] = {}
    for r in session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.purpose == "direct_marketing")
        .order_by(ConsentRecord.captured_at, ConsentRecord.id)
    ):
        first.setdefault((r.customer_id, r.channel), r)
    assert len(first) == 4 * len(customers)
    statuses = Counter(r.status for r in first.values())
    total = sum(statuses.values())
    assert 0.33 <= statuses["given"] / total <= 0.55
    assert 0.05 <= statuses["no_objection"] / total <= 0.15
    assert statuses["withdrawn"] == 0
    for (cid, _), record in first.items():
        assert record.captured_at == customers[cid].created_at
        assert record.notice_id == customers[cid].collection_notice_id
    oral = [r for r in first.values() if r.method == "oral" and r.status != "not_asked"]
    in_time = [
        r
        for r in oral
        if r.confirmed_in_writing_at is not None
        and r.confirmed_in_writing_at - r.captured_at <= timedelta(days=14)
    ]
    assert oral and 0.8 < len(in_time) / len(oral) < 1


def test_consent_log_matches_opted_out_flags(retail: tuple[Session, GenerationSummary]) -> None:
    session, _ = retail
    latest = _latest_dm(session)
    withdrawn = Counter(r.customer_id for r in latest.values() if r.status == "withdrawn")
    customers = session.scalar(select(func.count(Customer.id)))
    assert 0.04 * customers < len(withdrawn) < 0.15 * customers
    assert all(r.captured_at < DAY0 for r in latest.values())
    methods = {r.method for r in latest.values() if r.status == "withdrawn"}
    assert {"unsubscribe_link", "written_form"} <= methods
    for point in session.scalars(select(ContactPoint)):
        reaching = [ch for ch, kinds in CHANNEL_CONTACT_KINDS.items() if point.kind in kinds]
        expected = any(
            (latest.get((point.customer_id, ch)) is not None)
            and latest[(point.customer_id, ch)].status == "withdrawn"
            for ch in reaching
        )
        assert point.opted_out == expected, (point.customer_id, point.kind)


def test_consent_ids_follow_capture_time(retail: tuple[Session, GenerationSummary]) -> None:
    session, summary = retail
    planted_after = sum(len(ids) for ids in summary.plants.values())
    times = session.scalars(select(ConsentRecord.captured_at).order_by(ConsentRecord.id)).all()
    out_of_order = sum(1 for a, b in zip(times, times[1:], strict=False) if b < a)
    assert out_of_order <= planted_after  # only records appended by plants come later


# --- sales, marketing, reports ----------------------------------------------------------------


def test_orders_are_consistent_and_in_the_past(retail: tuple[Session, GenerationSummary]) -> None:
    session, _ = retail
    orders = session.scalars(select(SalesOrder).order_by(SalesOrder.id)).all()
    assert len(orders) > 1200
    assert max(o.ordered_at for o in orders) < DAY0
    assert min(o.ordered_at for o in orders) >= DAY0 - timedelta(days=550)
    assert [o.order_no for o in orders] == [f"SO-{o.id:07d}" for o in orders]
    line_totals = dict(
        session.execute(
            select(OrderLine.order_id, func.sum(OrderLine.line_total_hkd)).group_by(
                OrderLine.order_id
            )
        ).all()
    )
    assert all(line_totals[o.id] == o.total_hkd for o in orders)
    lines_per_order = Counter(
        session.scalars(select(func.count(OrderLine.id)).group_by(OrderLine.order_id))
    )
    assert set(lines_per_order) == {1, 2, 3, 4}
    status = Counter(o.status for o in orders)
    assert status["completed"] / len(orders) > 0.8 and status["cancelled"] and status["refunded"]
    assert set(Counter(o.channel for o in orders)) == {"store", "eshop", "phone"}
    customers = {c.id: c for c in session.scalars(select(Customer))}
    for order in orders:
        customer = customers[order.customer_id]
        assert order.ordered_at.date() >= customer.joined_on
        assert customer.closed_on is None or order.ordered_at.date() <= customer.closed_on
    spend: Counter[str] = Counter()
    counts = Counter(c.tier for c in customers.values())
    for order in orders:
        spend[customers[order.customer_id].tier] += order.total_hkd
    mean = {tier: spend[tier] / counts[tier] for tier in counts}
    assert mean["classic"] < mean["silver"] < mean["gold"] < mean["platinum"]


def test_past_campaigns_reached_only_consenting_customers(
    retail: tuple[Session, GenerationSummary],
) -> None:
    session, summary = retail
    # A planted data-quality defect rewrites a contact afterwards, on purpose.
    rewritten = set(summary.plants.get("incomplete_profile", ()))
    campaigns = session.scalars(select(Campaign)).all()
    assert 3 <= len(campaigns) <= 5
    assert all(c.sent_at < DAY0 and c.created_at < c.sent_at for c in campaigns)
    messages = session.scalars(select(Message)).all()
    assert messages
    history: dict[tuple[int, str], list[ConsentRecord]] = {}
    for r in session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.purpose == "direct_marketing")
        .order_by(ConsentRecord.captured_at, ConsentRecord.id)
    ):
        history.setdefault((r.customer_id, r.channel), []).append(r)
    contacts = {(p.customer_id, p.kind): p for p in session.scalars(select(ContactPoint))}
    for m in messages:
        assert m.kind == "promotional" and m.has_opt_out_notice and m.sent_at < DAY0
        before = [r for r in history[(m.customer_id, m.channel)] if r.captured_at <= m.sent_at]
        assert before[-1].status in ("given", "no_objection")
        if before[-1].method == "oral":
            assert before[-1].confirmed_in_writing_at <= m.sent_at
        kind = "email" if m.channel == "email" else "mobile"
        point = contacts[(m.customer_id, kind)]
        if m.customer_id in rewritten:
            continue
        assert m.to_address == point.value and not point.is_invalid


def test_reports_are_owned_by_other_staff_and_no_audit_events(
    retail: tuple[Session, GenerationSummary],
) -> None:
    session, _ = retail
    reports = session.scalars(select(ReportDefinition)).all()
    assert 2 <= len(reports) <= 3
    assert reports[0].name == "Monthly sales by branch"
    shared_with = {s.department.code for s in reports[0].shares}
    assert shared_with == {"sales", "management"}
    assert all(not r.owner.is_trainee for r in reports)
    assert session.scalar(select(func.count(ReportShare.id))) >= 4
    assert session.scalar(select(func.count(AuditEvent.id))) == 0


def test_reports_use_the_query_language(retail: tuple[Session, GenerationSummary]) -> None:
    query = pytest.importorskip("sandbox_crm.query")
    session, _ = retail
    for report in session.scalars(select(ReportDefinition)):
        assert query.validate_condition(report.source, report.filters) == []
        assert query.validate_columns(report.source, report.columns) == []
        assert query.validate_sort(report.source, report.sort) == []


def test_jewellery_hkids_only_with_an_aml_basis(jewellery: Session) -> None:
    with_hkid = jewellery.scalars(select(Customer).where(Customer.hkid.is_not(None))).all()
    assert with_hkid
    orders = {o.order_no: o for o in jewellery.scalars(select(SalesOrder))}
    for customer in with_hkid:
        assert is_valid_hkid(customer.hkid)
        order_no = re.fullmatch(r"AML CDD for order (SO-\d{7})", customer.hkid_basis).group(1)
        order = orders[order_no]
        assert order.customer_id == customer.id and order.total_hkd >= AML_THRESHOLD_HKD
    # Member numbers never derive from HKIDs.
    assert not any(find_partial_hkids(no) for no in jewellery.scalars(select(Customer.member_no)))


# --- plants -----------------------------------------------------------------------------------


def test_each_plant_affects_exactly_count(retail: tuple[Session, GenerationSummary]) -> None:
    _, summary = retail
    # The bridal, sales and control kinds need the jewellery profile (tested in their areas'
    # tests).
    jewellery_only = JEWELLERY_PLANTS | SALES_PLANTS | CONTROL_PLANTS
    assert set(summary.plants) == set(plant_registry.known_plant_kinds()) - jewellery_only
    expected = Counter()
    for p in ALL_PLANTS:
        expected[p.kind] += p.count
    assert {kind: len(ids) for kind, ids in summary.plants.items()} == dict(expected)
    assert all(len(set(ids)) == len(ids) for ids in summary.plants.values())


def test_security_plants_name_a_leaver_still_active_and_a_current_admin(
    retail: tuple[Session, GenerationSummary],
) -> None:
    session, summary = retail
    (leaver,) = summary.plants["leaver_admin_account"]
    (current,) = summary.plants["current_admin_account"]
    left = session.get_one(StaffUser, leaver)
    assert left.is_active and left.is_admin and left.left_on is not None and left.left_on < TODAY
    kept = session.get_one(StaffUser, current)
    assert kept.is_active and kept.is_admin and kept.left_on is None


def test_opted_out_in_segment(retail: tuple[Session, GenerationSummary]) -> None:
    session, summary = retail
    ids = summary.plants["opted_out_in_segment"]
    details = json.loads(_meta(session, "plant_details"))
    assert details["opted_out_in_segment"]["channel"] in ("email", "sms")
    latest = _latest_dm(session)
    since = DAY0 - timedelta(days=365)
    by_segment = Counter()
    for cid in ids:
        customer = session.get_one(Customer, cid)
        spend = session.scalar(
            select(func.sum(SalesOrder.total_hkd)).where(
                SalesOrder.customer_id == cid,
                SalesOrder.status.in_(("paid", "shipped", "completed")),
                SalesOrder.ordered_at >= since,
            )
        )
        assert customer.status == "active" and spend and spend > 0
        if customer.tier in ("gold", "platinum"):
            channel, kind = "email", "email"
        else:
            assert customer.tier == "silver" and customer.region == "Kowloon"
            channel, kind = "sms", "mobile"
        by_segment[channel] += 1
        record = latest[(cid, channel)]
        assert record.status == "withdrawn" and DAY0 - timedelta(days=46) < record.captured_at
        assert record.captured_at < DAY0
        point = session.scalars(
            select(ContactPoint).where(ContactPoint.customer_id == cid, ContactPoint.kind == kind)
        ).one()
        assert point.opted_out
        history = session.scalars(
            select(ConsentRecord.status)
            .where(ConsentRecord.customer_id == cid, ConsentRecord.channel == channel)
            .order_by(ConsentRecord.captured_at, ConsentRecord.id)
        ).all()
        assert history[-2] == "given"
    # Six of the gold/platinum customers could be tier-matched; the silver SMS plant is separate.
    assert by_segment == {"email": 5, "sms": 2}


def test_hkid_plants(retail: tuple[Session, GenerationSummary]) -> None:
    session, summary = retail
    customers = session.scalars(select(Customer)).all()
    in_notes = {c.id for c in customers if find_hkids(c.notes)}
    assert in_notes == set(summary.plants["hkid_in_notes"])
    on_member = {c.id for c in customers if c.hkid is not None}
    assert on_member == set(summary.plants["hkid_on_member"])
    for cid in on_member:
        customer = session.get_one(Customer, cid)
        assert customer.hkid_basis is None
        assert is_valid_hkid(customer.hkid) or find_partial_hkids(customer.hkid)


def test_invalid_email_plant(retail: tuple[Session, GenerationSummary]) -> None:
    session, summary = retail
    for cid in summary.plants["invalid_email"]:
        point = session.scalars(
            select(ContactPoint).where(
                ContactPoint.customer_id == cid, ContactPoint.kind == "email"
            )
        ).one()
        assert not looks_like_email(point.value) and not point.is_invalid


def test_duplicate_customer_plant(retail: tuple[Session, GenerationSummary]) -> None:
    session, summary = retail
    originals = json.loads(_meta(session, "plant_details"))["duplicate_customer"]["original_of"]
    assert sorted(int(k) for k in originals) == list(summary.plants["duplicate_customer"])
    for dup_id, original_id in originals.items():
        dup, original = (
            session.get_one(Customer, int(dup_id)),
            session.get_one(Customer, original_id),
        )
        assert dup.id > 1200 and dup.member_no != original.member_no
        assert " ".join(dup.name_en.split()).lower() in original.name_en.lower()
        mobiles = [
            {p.value for p in c.contact_points if p.kind == "mobile"} for c in (dup, original)
        ]
        assert mobiles[0] == mobiles[1] != set()
        assert dup.created_at < DAY0 and dup.joined_on > original.joined_on
        assert len({r.channel for r in dup.consents}) == 4


def test_dormant_admin_plant(retail: tuple[Session, GenerationSummary]) -> None:
    session, summary = retail
    (staff_id,) = summary.plants["dormant_admin"]
    user = session.get_one(StaffUser, staff_id)
    assert user.is_admin and user.is_active and not user.is_trainee
    assert user.left_on is not None and user.left_on < TODAY


def test_unknown_plant_kind_names_the_known_kinds() -> None:
    with pytest.raises(ValueError, match="unknown plant kind 'optout'") as info:
        PlantSpec("optout", 3)
    for kind in plant_registry.known_plant_kinds():
        assert kind in str(info.value)
    assert plant_registry.known_plant_kinds()[0] == "opted_out_in_segment"


@pytest.mark.parametrize(
    "params, message",
    [
        ({"tier": ["gold"]}, "unknown parameter"),
        ({"tiers": ["diamond"]}, "not one of"),
        ({"channel": "fax"}, "not one of"),
        ({"tiers": []}, "non-empty list"),
        ({"spend_days": -1}, ">= 0"),
    ],
)
def test_plant_parameters_are_validated(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PlantSpec.of("opted_out_in_segment", 1, **params)


def test_plant_kinds_cannot_be_registered_twice() -> None:
    before = plant_registry.known_plant_kinds()
    with pytest.raises(ValueError, match="already registered"):
        plant_registry.plant("hkid_in_notes")(lambda session, run: plant_registry.PlantResult())
    assert plant_registry.known_plant_kinds() == before


def test_plant_with_too_few_candidates_fails_clearly(tmp_path: Path) -> None:
    spec = GenerationSpec(
        "retail", 1, 20, TODAY, plants=(PlantSpec.of("opted_out_in_segment", 50),)
    )
    with pytest.raises(ValueError, match="needs 50 .* only"):
        _generate(tmp_path / "s.sqlite", spec)


# --- customer_profile: members at the edges of a segment ---------------------------------------

PROFILE_PLANTS = (
    PlantSpec.of("opted_out_in_segment", 2),
    PlantSpec.of("customer_profile", 2, tiers=["silver", "classic"], spend_hkd=[8000, 9000]),
    PlantSpec.of("customer_profile", 1, tiers=["gold"], status="closed", spend_hkd=8000),
    PlantSpec.of("customer_profile", 1, tiers=["platinum"], consent="no_objection"),
)


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, dict]]:
    """A 200-customer retail sandbox with opted-out VIPs and members of given profiles."""
    spec = GenerationSpec("retail", 4207, 200, TODAY, plants=PROFILE_PLANTS)
    engine, summary = _generate(tmp_path_factory.mktemp("profiled") / "s.sqlite", spec)
    with Session(engine) as session:
        yield session, summary.plants
    engine.dispose()


def _profiles(session: Session, ids) -> dict[int, dict]:
    """Planted members as the query language sees them (the same door as a report)."""
    rows = select_rows(
        session,
        "customers",
        where={"field": "customer_id", "op": "in", "value": list(ids)},
        columns=["customer_id", "tier", "status", "spend_12m", "dm_email"],
        as_of=TODAY,
    ).rows
    return {row["customer_id"]: row for row in rows}


def test_customer_profile_gives_members_the_profile_asked_for(profiled) -> None:
    session, plants = profiled
    ids = plants["customer_profile"]
    assert len(ids) == 4 and not set(ids) & set(plants["opted_out_in_segment"])
    rows = _profiles(session, ids)
    by_tier = {row["tier"]: row for row in rows.values()}
    assert set(by_tier) == {"silver", "classic", "gold", "platinum"}
    for tier in ("silver", "classic"):
        assert by_tier[tier]["status"] == "active" and by_tier[tier]["dm_email"] == "given"
        assert 8000 <= by_tier[tier]["spend_12m"] <= 9000
    gold = by_tier["gold"]
    assert (gold["status"], gold["spend_12m"], gold["dm_email"]) == ("closed", 8000, "given")
    assert by_tier["platinum"]["dm_email"] == "no_objection"
    assert by_tier["platinum"]["status"] == "active"
    closed = session.get_one(Customer, gold["customer_id"])
    last_order = session.scalar(
        select(func.max(SalesOrder.ordered_at)).where(SalesOrder.customer_id == closed.id)
    )
    assert closed.closed_on is not None and last_order.date() < closed.closed_on < TODAY


def test_ids_of_a_kind_planted_twice_follow_the_order_of_the_plants(profiled) -> None:
    # So that $plant:customer_profile:2 is the closed Gold member in every variant.
    session, plants = profiled
    ids = plants["customer_profile"]
    rows = _profiles(session, ids)
    assert {rows[ids[0]]["tier"], rows[ids[1]]["tier"]} == {"silver", "classic"}
    assert ids[0] < ids[1]
    assert [rows[ids[2]]["tier"], rows[ids[3]]["tier"]] == ["gold", "platinum"]


def test_customer_profile_orders_add_up(profiled) -> None:
    session, plants = profiled
    for cid in plants["customer_profile"]:
        for order in session.scalars(select(SalesOrder).where(SalesOrder.customer_id == cid)):
            assert order.total_hkd == sum(line.line_total_hkd for line in order.lines)
            assert order.ordered_at < DAY0


def test_customer_profile_is_deterministic(tmp_path: Path) -> None:
    spec = GenerationSpec("retail", 4207, 200, TODAY, plants=PROFILE_PLANTS)
    first, _ = _generate(tmp_path / "a.sqlite", spec)
    second, _ = _generate(tmp_path / "b.sqlite", spec)
    assert _dump(first) == _dump(second)
    first.dispose()
    second.dispose()


def test_customer_profile_finds_members_never_asked_for_consent(tmp_path: Path) -> None:
    # Never asked: with no consent record on the channel, or one that says not_asked.
    plants = (PlantSpec.of("customer_profile", 2, tiers=["classic"], consent="not_asked"),)
    spec = GenerationSpec("retail", 4207, 200, TODAY, plants=plants)
    engine, summary = _generate(tmp_path / "s.sqlite", spec)
    with Session(engine) as session:
        rows = _profiles(session, summary.plants["customer_profile"])
        emails = {
            point.customer_id: point
            for point in session.scalars(
                select(ContactPoint).where(
                    ContactPoint.customer_id.in_(rows), ContactPoint.kind == "email"
                )
            )
        }
    engine.dispose()
    assert len(rows) == 2
    for cid, row in rows.items():
        assert (row["tier"], row["status"], row["dm_email"]) == ("classic", "active", "not_asked")
        assert not emails[cid].is_invalid and not emails[cid].opted_out


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"spend_hkd": [9000, 8000]}, "low <= high"),
        ({"spend_hkd": "a lot"}, "whole number of HK$ or [low, high]"),
        ({"status": "inactive"}, "status='inactive' is not one of"),
        ({"consent": "withdrawn"}, "consent='withdrawn' is not one of"),
    ],
)
def test_customer_profile_rejects_bad_parameters(params, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        plant_registry.validate_plant("customer_profile", params)


def test_customer_profile_says_when_the_sandbox_is_too_small(tmp_path: Path) -> None:
    plants = (PlantSpec.of("customer_profile", 500, tiers=["platinum"]),)
    with pytest.raises(ValueError, match="lower the count or enlarge the sandbox"):
        _generate(tmp_path / "s.sqlite", GenerationSpec("retail", 4207, 200, TODAY, plants=plants))


def test_later_stages_read_members_and_big_tables_as_the_rows_written(tmp_path: Path) -> None:
    """Members are stored by column and big tables made when written; stages still see dicts."""
    from sandbox_crm.areas import load_areas
    from sandbox_crm.generator import GenerationRun

    load_areas()
    run = GenerationRun(GenerationSpec("jewellery", 88, 120, TODAY))
    run.build()
    members = [(dict(m.row), m.contacts, m.consent) for m in run.members]
    orders = list(run.rows[SalesOrder])
    assert orders == list(run.rows[SalesOrder])  # read twice, the same rows
    engine = create_engine(f"sqlite:///{tmp_path / 's.sqlite'}")
    SandboxBase.metadata.create_all(engine)
    with Session(engine) as session:
        run.insert(session)
        session.commit()
        written = session.execute(select(Customer.__table__).order_by(Customer.id)).mappings()
        assert [dict(row) for row in written] == [row for row, _, _ in members]
        stored = session.execute(select(SalesOrder.__table__).order_by(SalesOrder.id)).mappings()
        assert [dict(row) for row in stored] == orders
        for row, contacts, consent in members:
            points = session.scalars(
                select(ContactPoint).where(ContactPoint.customer_id == row["id"])
            ).all()
            assert {p.kind: p.value for p in points} == {k: c.value for k, c in contacts.items()}
            assert {p.kind: p.opted_out for p in points} == {
                k: c.opted_out for k, c in contacts.items()
            }
            records = session.scalars(
                select(ConsentRecord)
                .where(ConsentRecord.customer_id == row["id"])
                .order_by(ConsentRecord.id)
            ).all()
            assert sum(len(history) for history in consent.values()) == len(records)
    engine.dispose()
