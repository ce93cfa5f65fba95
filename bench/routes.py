"""One route with its inputs through each shipped workflow: what the benchmarks walk.

The routes and inputs follow the path tests (tests/test_paths_*.py), copied so that the benchmarks
never import the test suite. Each step is taken by a user named after their role, so the four-eyes
rule holds as it does in the tests; where a definition names the person who acts (an assignee
field), the case names that same user. A definition that changes its fields or steps needs its
route here changed with it: the benchmark reports the refusal for that workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple


class Step(NamedTuple):
    role: str  # the acting user is named after the role
    action: str
    inputs: dict[str, Any]
    to: str


class Route(NamedTuple):
    workflow: str
    opener: str
    data: dict[str, Any]
    steps: list[Step]
    per_case: Callable[[int], dict[str, Any]] | None = None  # data that must differ from case to case

    def opening(self, n: int) -> dict[str, Any]:
        """The data to open case number `n` of this route with."""
        return {**self.data, **(self.per_case(n) if self.per_case else {})}


_PROMISE = {"promised_date": "2026-12-05", "call_note": "Customer confirms four hinges are needed"}

REPLACEMENT_PART = Route("replacement_part", "service_specialist", {
    "customer": "Hengda Furniture", "product": "Wardrobe W-1200", "part": "Left door hinge", "quantity": 4,
    "reason": "Hinges cracked on arrival", "request_date": "2026-11-20",
}, [
    Step("service_specialist", "analyse", {"cause": "material", "charge": "free"}, "analysed"),
    Step("service_specialist", "confirm_with_customer", _PROMISE, "confirmed"),
    Step("service_specialist", "open_request", {}, "lead_review"),
    Step("service_lead", "return_by_lead", {"return_reason": "The cause is process technique, not material"},
         "analysed"),
    Step("service_specialist", "analyse", {"cause": "process_technique", "charge": "free"}, "analysed"),
    Step("service_specialist", "confirm_with_customer", _PROMISE, "confirmed"),
    Step("service_specialist", "open_request", {}, "lead_review"),
    Step("service_lead", "approve", {}, "director_approval"),
    Step("quality_director", "produce", {"supplier": "replenishment_group"}, "in_production"),
    Step("warehouse", "reject_part", {"failure_reason": "Label names the wrong customer"}, "in_production"),
    Step("warehouse", "receive_part", {"packaging_intact": True, "labels_correct": True, "inspection_passed": True},
         "in_stock"),
    Step("parts_shipper", "ship", {"loading_list_no": "BZ-0001"}, "shipped"),
    Step("service_specialist", "confirm_delivery", {"delivered_on": "2026-12-03"}, "closed"),
])

RETURN_INSPECTION = Route("return_inspection", "service_lead", {
    "customer": "Hengda Furniture", "products": "Wardrobe W-1200 x 10, nightstand N-40 x 2", "quantity": 12,
    "reason": "Doors warped within the warranty period",
}, [
    Step("service_lead", "collect_opinions",
         {"application_ref": "THSQ-0001", "opinions": "Quality office and sales agree to take the goods back"},
         "awaiting_approval"),
    Step("qc_director", "approve", {}, "approved"),
    Step("returns_clerk", "receive", {
        "received_quantity": 12, "packaging_intact": True, "heavy_damage": False, "rain_wetted": False,
        "returned_by": "Liu Qiang (driver)",
    }, "received"),
    Step("fg_qa", "record_inspection", {"inspection_result": "8 doors warped, 4 in order"}, "inspected"),
    Step("quality_director", "decide", {"disposition": "rework"}, "decided"),
    Step("service_lead", "send_record", {"sent_via": "email"}, "awaiting_customer"),
    Step("service_lead", "customer_disputes", {"dispute_reason": "Customer wants new doors, not repaired ones"},
         "inspected"),
    Step("quality_director", "decide", {"disposition": "exchange", "decision_note": "Exchange the 8 warped doors"},
         "decided"),
    Step("service_lead", "send_record", {"sent_via": "fax"}, "awaiting_customer"),
    Step("service_lead", "customer_confirms", {}, "confirmed"),
    Step("service_lead", "start_final_handling", {}, "in_final_handling"),
    Step("service_lead", "complete", {"handling_result": "8 doors exchanged, 4 sent back"}, "closed"),
])

_COMPLAINT_FORM = {
    "quantity": 500, "ship_date": "2026-11-02", "defective_quantity": 40, "customer_demand": "exchange",
    "demand_quantity": 40, "sample_attached": True, "sales_opinion": "Long-standing customer; exchange quickly",
}

COMPLAINT = Route("complaint", "sales", {
    "customer": "Hengda Furniture", "market": "domestic", "order_number": "SO-26-1107", "part_number": "HG-35-L",
    "description": "Hinges crack when the door is closed",
}, [
    Step("sales", "submit", _COMPLAINT_FORM, "registered"),
    Step("gm_office", "register", {}, "quality_investigation"),
    Step("quality_dept", "investigate", {"cause": "Hinge steel too brittle", "responsible_department": "Stamping",
                                         "founded": True, "needs_rnd": False}, "countermeasure"),
    Step("manufacturing", "propose_countermeasure", {
        "cause_analysis": "Die worn on line 3", "countermeasure_plan": "Replace the die; 100% check",
        "production_details": "Line 3, night shift, 2026-10-28"}, "manager_review"),
    Step("deputy_gm", "refer_to_gm_office", {"manager_comment": "Agree with the countermeasure"}, "gm_office_check"),
    Step("gm_office", "check", {}, "sales_proposal"),
    Step("sales", "propose_handling", {"proposed_handling": "Exchange the defective hinges", "loss_amount": "9999.99"},
         "consolidation"),
    Step("gm_office", "consolidate", {"consolidated_opinion": "Exchange 40 hinges"}, "approval"),
    Step("sales_manager", "approve_by_sales_manager", {"decision": "Exchange", "founded": True},
         "customer_negotiation"),
    Step("sales", "record_outcome", {"negotiation_outcome": "Customer wants a discount too",
                                     "customer_accepts": False}, "negotiation_review"),
    Step("sales_manager", "return_outcome", {"reason": "Explain the exchange terms again"}, "customer_negotiation"),
    Step("sales", "record_outcome", {"negotiation_outcome": "Customer accepts", "customer_accepts": True},
         "negotiation_review"),
    Step("sales_manager", "review_outcome", {}, "final_consolidation"),
    Step("gm_office", "close", {"final_opinion": "Closed on time"}, "closed"),
])

def _month(n: int) -> dict[str, Any]:
    # One sheet per employee and month, and an employee's months follow each other: case n is month n
    # from 2030 on, so that no deadline of a fresh case has passed already.
    return {"period": f"{2030 + n // 12:04d}-{n % 12 + 1:02d}"}


APPRAISAL = Route("appraisal", "supervisor", {
    "employee": "employee", "supervisor": "supervisor", "department": "After-sales service", "period": "2026-11",
    "template": "field_service",
}, [
    Step("supervisor", "agree_goals", {"goals": "All 7-day repairs completed; parts requests within 24 hours"},
         "agreement"),
    Step("employee", "sign_agreement", {}, "countersignature"),
    Step("supervisor", "countersign_agreement", {}, "in_progress"),
    Step("employee", "self_report", {"work_summary": "31 visits, 2 repairs late"}, "scoring"),
    Step("supervisor", "score", {"sheet": {"occurrences": {"late_modification": 1}},
                                 "interview_record": "Talked through the late modification"}, "dept_review"),
    Step("dept_head", "approve", {}, "confirmation"),
    Step("employee", "confirm", {}, "awaiting_archive"),
    Step("hr", "archive", {}, "archived"),
], per_case=_month)

REPAIR_DISPATCH = Route("repair_dispatch", "service_clerk", {
    "customer": "Hengda Furniture", "address": "88 Gongye Road", "phone": "0571-8888 0000",
    "product_model": "XJ-200", "fault": "Motor hums and does not start", "area": "town",
}, [
    Step("service_supervisor", "dispatch", {"technician": "technician"}, "dispatched"),
    Step("technician", "arrive", {}, "on_site"),
    Step("technician", "take_back", {"goods_receipt_no": "SJ-0001", "customer_signed": True}, "in_workshop"),
    Step("technician", "finish_repair", {"repair_hours": "3.5"}, "supervisor_check"),
    Step("service_supervisor", "reject_repair", {"reason": "Still hums at full load"}, "in_workshop"),
    Step("technician", "finish_repair", {"repair_hours": "1.5", "parts_used": "Capacitor C-12"}, "supervisor_check"),
    Step("service_supervisor", "approve_repair", {}, "ready_for_return"),
    Step("technician", "return_goods", {"charged": True, "fee": "180.00", "receipt_recovered": True}, "returned"),
    Step("service_clerk", "record_callback", {"customer_rating": 4}, "closed"),
])

# The staff register the appraisal route needs: name, department, template, standard pay, supervisor.
# Sheets are opened only for people on it, and a department head reviews only their own department's.
STAFF = [
    ("employee", "After-sales service", "field_service", "1500", "supervisor"),
    ("dept_head", "After-sales service", "field_service", "2000", "hr"),
]

ROUTES: dict[str, Route] = {r.workflow: r for r in (
    REPLACEMENT_PART, RETURN_INSPECTION, COMPLAINT, APPRAISAL, REPAIR_DISPATCH,
)}

# Every user the routes need, one per role.
ROLES: set[str] = {r.opener for r in ROUTES.values()} | {s.role for r in ROUTES.values() for s in r.steps}
