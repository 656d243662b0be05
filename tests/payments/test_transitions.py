"""The payment's state table: one function moves a payment, only along the table, and the
README's diagram and the staff page are drawn from the same table."""

import ast
import re
from decimal import Decimal
from itertools import product
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db.models import Q

from smartapp.payments.models import Actor, Payment, State, Transition
from smartapp.payments.transitions import (
    TRANSITIONS,
    IllegalTransition,
    is_allowed,
    mermaid,
    next_steps,
    payment_move,
)
from smartapp.tenants.models import Tenant
from tests.fakehttp import BASE

pytestmark = pytest.mark.django_db
README = Path(__file__).resolve().parents[2] / "README.md"
CODE = Path(__file__).resolve().parents[2] / "smartapp"
ALL_MOVES = [(s, t, a) for s, t, a in product(State, State, Actor)]
ALLOWED = {(m.source, m.target, m.actor) for m in TRANSITIONS}


@pytest.fixture
def payment():
    tenant = Tenant.objects.create(slug="t", name="T", ehr_tenant_id="t1", provider_fhir_base=BASE)
    return Payment.objects.create(
        request_key="k1",
        tenant=tenant,
        patient_id="12724066",
        encounter_id="97953477",
        amount=Decimal("10.00"),
        amount_source="entered",
    )


def _at(payment: Payment, state: State) -> Payment:
    Payment.objects.filter(pk=payment.pk).update(state=state)  # test set-up, not a move
    payment.refresh_from_db()
    return payment


@pytest.mark.parametrize(
    ("source", "target", "actor"), [m for m in ALL_MOVES if m not in ALLOWED][::7]
)
def test_a_move_the_table_does_not_hold_is_refused_and_writes_nothing(
    payment, source, target, actor
):
    _at(payment, source)

    with pytest.raises(IllegalTransition):
        payment_move(payment=payment, to=target, actor=actor, reason="test")

    payment.refresh_from_db()
    assert payment.state == source and not Transition.objects.exists()


def test_every_move_outside_the_table_is_illegal_and_every_move_inside_is_legal():
    refused = [m for m in ALL_MOVES if not is_allowed(*m)]

    assert set(ALL_MOVES) - set(refused) == ALLOWED
    assert len(refused) == len(ALL_MOVES) - len(ALLOWED)


@pytest.mark.parametrize(("source", "target", "actor"), sorted(ALLOWED)[::3])
def test_a_move_in_the_table_writes_the_state_and_one_history_row(payment, source, target, actor):
    _at(payment, source)

    moved = payment_move(payment=payment, to=target, actor=actor, reason="why", by="alice")

    payment.refresh_from_db()
    row = Transition.objects.get()
    assert moved and payment.state == target
    assert (row.source, row.target, row.actor, row.by, row.reason) == (
        source,
        target,
        actor,
        "alice",
        "why",
    )


def test_a_move_whose_guard_no_longer_holds_changes_nothing(payment):
    _at(payment, State.CAPTURED)

    moved = payment_move(
        payment=payment,
        to=State.POSTING,
        actor=Actor.WORKER,
        reason="x",
        guard=Q(claim_token="not-ours"),
    )

    payment.refresh_from_db()
    assert not moved and payment.state == State.CAPTURED and not Transition.objects.exists()


def test_a_caller_acting_from_other_states_leaves_the_row_alone(payment):
    _at(payment, State.POSTED)

    moved = payment_move(
        payment=payment,
        to=State.CAPTURED,
        actor=Actor.PROCESSOR,
        reason="a replayed capture",
        sources=(State.NEW, State.CANCELLED),
    )

    assert not moved and Payment.objects.get().state == State.POSTED


def test_sources_outside_the_table_are_a_bug_caught_before_any_write(payment):
    with pytest.raises(IllegalTransition):
        payment_move(
            payment=payment, to=State.POSTED, actor=Actor.PROCESSOR, reason="x", sources=[State.NEW]
        )


WRITES = {"update", "create", "get_or_create", "update_or_create", "bulk_create"}


def _state_writes(tree: ast.AST) -> list[int]:
    """Lines that write a `state`: `x.state = …`, or `.update(state=…)`, `.create(state=…)`."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Attribute) and t.attr == "state" for t in targets):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in WRITES and any(k.arg == "state" for k in node.keywords):
                lines.append(node.lineno)
    return lines


def test_only_the_transition_function_assigns_a_payments_state():
    offenders = [
        f"{path.relative_to(CODE)}:{line}"
        for path in (CODE / "payments").rglob("*.py")
        if path.name != "transitions.py" and "migrations" not in path.parts
        for line in _state_writes(ast.parse(path.read_text()))
    ]
    assert offenders == []
    assert _state_writes(ast.parse((CODE / "payments" / "transitions.py").read_text()))


@pytest.mark.parametrize("state", [State.OUTCOME_UNKNOWN, State.NEW, State.POSTED])
def test_the_table_the_readme_diagram_and_the_staff_page_agree(client, payment, state):
    diagram = README.read_text().split("<!-- payment-states:begin -->")[1]
    diagram = diagram.split("<!-- payment-states:end -->")[0]
    User.objects.create_superuser("staff", "s@example.org", "pw")
    client.login(username="staff", password="pw")
    _at(payment, state)

    page = client.get(f"/staff/payments/{payment.public_id}/").content.decode()

    assert diagram.strip() == f"```mermaid\n{mermaid()}```"
    for move in TRANSITIONS:
        if move.source != move.target:
            assert f"{move.source.value} --> {move.target.value}:" in diagram
    shown = set(re.findall(r'<li data-target="([a-z_]+)">', page))
    table = {m.target.value for m in TRANSITIONS if m.source == state and m.target != state}
    assert shown == table == {target.value for target, _ in next_steps(state)}
    for target in shown:
        assert f"{state.value} --> {target}:" in diagram
    if not table:
        assert "Nowhere: this is where a payment ends." in page
