"""Benchmark: the case list's text search at 10⁶ cases on PostgreSQL (docs/performance.md, "Search").

A migrated schema gets the shipped workflows, then one set-based INSERT … SELECT writes the cases of the
return inspection workflow: a customer out of 2,000 (Chinese and Latin names), a part number out of 5,000
("XJ-200" is one; "XJ-2000" … "XJ-2009" contain it too), a reason out of 50 Chinese phrases and, on one
case in five, a step comment or a note; the search document is written as engine/fulltext.py builds it
(number, data values, comments, lower-cased, one piece per line). The GIN index is dropped for the load
and made again after it, then VACUUM ANALYZE.

Then the first page of the all-cases list, as web/ui/lists.all_cases asks for it (the page's rows and the
total the pager shows, as a service lead sees them), for a part number, a Chinese word and a customer: the median of
several runs with the trigram index, against one run of the same list with the index out of the planner's
reach (`enable_bitmapscan = off`: a GIN index is only read by bitmap scans), which is the sequential scan
every search would be without it.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session

from web.ui import lists
from web.ui.lists import Filters, all_cases
from workflow.engine import Actor, policy, search, worklists
from workflow.models import Case

from .common import Row, create_users, make_clock, pg_schema, pg_url, publish_shipped

WORKFLOW = "return_inspection"
SEARCHES = (("a part number", "XJ-200"), ("a Chinese word", "外壳破损"), ("a customer", "华东机电"))
TARGET_MS = 100.0
PER_PAGE = 25
LEAD = Actor("service_lead", frozenset({"service_lead"}))

REASONS = ["外壳破损", "电机异响", "漏油", "外观划伤", "包装破损", "螺丝松动", "功能失效", "型号不符", "数量短缺",
           "颜色不符", "说明书缺失", "配件缺失", "噪音过大", "温度过高", "无法启动", "显示屏黑屏", "按键失灵",
           "电源故障", "接口松动", "密封不良", "锈蚀", "变形", "裂纹", "异味", "漏电", "过载保护", "转速不稳",
           "振动过大", "润滑不足", "轴承磨损", "齿轮断齿", "线缆破损", "标签错误", "批号不符", "质保过期",
           "运输损坏", "安装错误", "客户误用", "软件故障", "传感器失灵", "阀门卡滞", "泵体渗漏", "滤网堵塞",
           "压力不足", "流量偏低", "控制板烧毁", "继电器粘连", "保险丝熔断", "指示灯不亮", "其他"]
NOTES = ["客户来电催促处理进度", "已联系物流核实破损情况", "Customer order SO-{n} attached",
         "Customer reports noise when running", "现场照片已上传，待质检确认"]

# Every cases column the table requires; the search document as engine/fulltext.py would build it.
LOAD_SQL = """
INSERT INTO cases (id, number, workflow_key, version_id, state, data, lock_version, created_by, created_at,
                   updated_at, search_text)
SELECT i, 'TH' || to_char(:start_day + (i % 730), 'YYYYMMDD') || '-' || lpad(i::text, 7, '0'),
       :workflow, :version, :state, d.data, 1, 'returns_clerk', :start + make_interval(mins => i % 1000000),
       :start + make_interval(mins => i % 1000000 + 60), d.doc
FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS i
CROSS JOIN LATERAL (
    SELECT CASE WHEN i % 2000 = 7 THEN '华东机电' WHEN i % 2 = 0 THEN '客户' || (i % 2000) || '号公司'
                ELSE 'Customer ' || (i % 2000) END AS customer,
           'XJ-' || (i % 5000) || ' × ' || (1 + i % 9) AS products,
           (CAST(:reasons AS text[]))[1 + (i / 7) % 50] AS reason,
           CASE WHEN i % 5 = 0
                THEN replace((CAST(:notes AS text[]))[1 + (i / 5) % 5], '{n}', (80000 + i % 20000)::text) END AS note
) AS v
CROSS JOIN LATERAL (
    SELECT json_build_object('customer', v.customer, 'products', v.products, 'reason', v.reason,
                             'quantity', 1 + i % 9) AS data,
           lower(concat_ws(E'\\n', 'TH' || to_char(:start_day + (i % 730), 'YYYYMMDD') || '-' || lpad(i::text, 7, '0'),
                           v.customer, v.products, v.reason, (1 + i % 9)::text, v.note)) AS doc
) AS d
"""


def _index_ddl(conn: sa.Connection) -> str:
    return str(conn.execute(sa.text(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'ix_cases_search_text'"
    )).scalar_one())


def load(engine: sa.Engine, version_id: int, state: str, count: int, start: Any) -> dict[str, Any]:
    """Write `count` cases by one INSERT … SELECT per 10⁵ rows; the index is rebuilt afterwards."""
    t0 = time.perf_counter()
    with engine.begin() as conn:
        ddl = _index_ddl(conn)
        conn.execute(sa.text("DROP INDEX ix_cases_search_text"))
        first = int(conn.execute(sa.text("SELECT coalesce(max(id), 0) + 1 FROM cases")).scalar_one())
    step = 100_000
    for low in range(first, first + count, step):
        with engine.begin() as conn:
            conn.execute(sa.text(LOAD_SQL), {
                "first": low, "last": min(low + step, first + count) - 1, "workflow": WORKFLOW, "version": version_id,
                "state": state, "start": start, "start_day": start.date(), "reasons": REASONS, "notes": NOTES})
    loaded = time.perf_counter() - t0
    with engine.begin() as conn:
        conn.execute(sa.text(ddl))
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))"))
    indexed = time.perf_counter() - t0 - loaded
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE cases"))
        size = conn.execute(sa.text("SELECT pg_size_pretty(pg_relation_size('ix_cases_search_text'))")).scalar()
    return {"load_s": round(loaded, 1), "index_s": round(indexed, 1), "index_size": size}


def list_query(session: Session, clock: Any, needle: str) -> Select[Any]:
    """The all-cases list's query for a search, built as web/ui/lists.all_cases builds it."""
    filters = Filters(q=needle)
    where = and_(policy.visible(session, LEAD),
                 worklists.matching(session, filters.case_filter, clock.now()),
                 search.desk_clause(filters.desk_filter, LEAD.name, clock))
    order = search.relevance(needle) + [Case.updated_at.desc(), Case.id.desc()]
    return select(Case).where(where).order_by(*order)


def first_page(session: Session, clock: Any, needle: str) -> tuple[float, int]:
    """(milliseconds, total) of the search's first page and the pager's total, paged by the list's own code."""
    t0 = time.perf_counter()
    rows, total, _ = lists._page(session, list_query(session, clock, needle), Filters(q=needle), PER_PAGE)
    elapsed = (time.perf_counter() - t0) * 1000
    session.rollback()
    assert rows, f"the search for {needle!r} found nothing"
    return elapsed, total


def whole_list(session: Session, clock: Any, needle: str) -> float:
    """Milliseconds of the whole list page's data (all_cases: rows, total, the per-workflow counters)."""
    t0 = time.perf_counter()
    all_cases(session, clock, LEAD, Filters(q=needle), PER_PAGE)
    elapsed = (time.perf_counter() - t0) * 1000
    session.rollback()
    return elapsed


def plan(session: Session, needle: str) -> str:
    rows = session.execute(sa.text("EXPLAIN SELECT id FROM cases WHERE search_text LIKE :p"),
                           {"p": f"%{needle.lower()}%"}).scalars()
    return "\n".join(rows)


def run(quick: bool, workdir: Path, pg: str | None = None, **_: Any) -> list[Row]:
    size, runs = (10_000, 5) if quick else (1_000_000, 15)
    clock = make_clock()
    rows: list[Row] = []
    with pg_schema(pg_url(pg), "bench_search") as url:
        engine = sa.create_engine(url)
        try:
            with Session(engine) as session:
                versions = publish_shipped(session, clock)
                create_users(session, clock, {"service_lead"})
                session.commit()
            loaded = load(engine, versions[WORKFLOW], "qc_inspection", size, clock.now().replace(year=2024))
            with Session(engine) as session:
                for label, needle in SEARCHES:
                    first_page(session, clock, needle)  # warm: the definitions, the plan, the cache
                    samples = [first_page(session, clock, needle) for _ in range(runs)]
                    ours, total = statistics.median(s[0] for s in samples), samples[0][1]
                    listing = statistics.median(whole_list(session, clock, needle) for _ in range(3))
                    session.execute(sa.text("SET enable_bitmapscan = off"))
                    scan = first_page(session, clock, needle)[0]
                    session.execute(sa.text("RESET enable_bitmapscan"))
                    rows.append(Row(
                        "search", f"list's first page for {label} “{needle}” at {size:,} cases ({total:,} hits)",
                        ours, scan, ratio=ours / scan, ratio_label="ours ÷ scan", target=f"≤ {TARGET_MS:g} ms",
                        met=ours <= TARGET_MS, note="" if not quick else "quick: 10⁴ cases",
                        extra={"load": loaded, "runs": runs, "whole_list_ms": round(listing, 1),
                               "samples_ms": [round(s[0], 2) for s in samples],
                               "plan": plan(session, needle)},
                    ))
        finally:
            engine.dispose()
    return rows
