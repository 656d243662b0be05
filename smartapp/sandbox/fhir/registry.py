"""Resource handlers by type. Later resource types add a module and `@register` a handler."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.db.models import Model, QuerySet

if TYPE_CHECKING:
    # request.GET as the stubs type it: `params[name]` is a str. (A QueryDict's may also be an
    # empty list, which Django's own parsing of a query string never makes.)
    from django.http.request import _ImmutableQueryDict as SearchParams
else:
    from django.http import QueryDict as SearchParams


@dataclass
class Access:
    """Who is calling, from a verified access token."""

    persona: str
    scopes: list[str]
    client_id: str
    user_type: str
    user: str
    patient: str
    # Set per call when only a patient/ scope allows it: results are limited to this patient.
    compartment_patient: str | None = None


class OutcomeError(Exception):
    """Ends the request with an OperationOutcome (or an empty body for 406)."""

    def __init__(self, status: int, code: str = "", text: str = "", severity: str = "error"):
        super().__init__(text or code)
        self.status, self.code, self.text, self.severity = status, code, text, severity

    def outcome(self) -> dict[str, Any]:
        issue: dict[str, Any] = {"severity": self.severity, "code": self.code}
        if self.text:
            issue["details"] = {"text": self.text}
        return {"resourceType": "OperationOutcome", "issue": [issue]}


class InsufficientScope(Exception):
    """Ends the request with Millennium's 403 insufficient-scope body (e.g. for an `_include`)."""


class ResourceHandler:
    type_name: ClassVar[str]
    include_total: ClassVar[bool] = True
    default_count: ClassVar[int] = 20
    max_count: ClassVar[int] = 200
    # Resources whose rows belong to one patient (patient persona sees only its own).
    in_patient_compartment: ClassVar[bool] = False
    # Who may create/patch (Millennium: provider|system; never the patient persona).
    write_personas: ClassVar[frozenset[str]] = frozenset({"provider", "system"})
    # Accept types answered with the raw content (Binary) instead of FHIR JSON.
    raw_types: ClassVar[tuple[str, ...]] = ()

    # Handlers backed by one table of rows with a `resource` JSON field read it the same way.
    model: ClassVar[type[Model] | None] = None
    # The row's path to its patient's id, for resources in the patient compartment.
    patient_lookup: ClassVar[str] = ""

    def rows(self, tenant: str, access: Access) -> QuerySet[Any]:
        """This tenant's rows, narrowed to the caller's own patient for a patient-scoped call."""
        if self.model is None:
            raise OutcomeError(405, "not-supported", "read is not supported for this resource")
        rows = self.model.objects.filter(tenant_id=tenant)  # type: ignore[attr-defined]
        if self.patient_lookup and access.compartment_patient is not None:
            rows = rows.filter(**{self.patient_lookup: access.compartment_patient})
        return rows

    def read(self, *, tenant: str, fhir_id: str, access: Access) -> dict[str, Any] | None:
        row = self.rows(tenant, access).filter(fhir_id=fhir_id).first()
        return row.resource if row else None

    def raw(self, *, tenant: str, fhir_id: str, access: Access) -> tuple[bytes, str] | None:
        """(content, content type) for a read asking for one of `raw_types`."""
        return None

    def search(self, *, tenant: str, params: SearchParams, access: Access) -> QuerySet[Any]:
        """Rows with a `resource` JSON field, in page order."""
        raise OutcomeError(405, "not-supported", "search is not supported for this resource")

    def includes(
        self, *, tenant: str, params: SearchParams, rows: list[Any], access: Access
    ) -> list[dict[str, Any]]:
        """Resources for `_include` on one page of `rows` (entries with search.mode include)."""
        return []

    def create(self, *, tenant: str, body: Any, access: Access) -> tuple[str, int]:
        """The new resource's id and version."""
        raise OutcomeError(405, "not-supported", "create is not supported for this resource")

    def patch(
        self, *, tenant: str, fhir_id: str, operations: Any, version: str, access: Access
    ) -> int:
        """Applies a JSON Patch when `version` (from If-Match) is current; the new version."""
        raise OutcomeError(405, "not-supported", "patch is not supported for this resource")


HANDLERS: dict[str, ResourceHandler] = {}


def register(cls: type[ResourceHandler]) -> type[ResourceHandler]:
    HANDLERS[cls.type_name] = cls()
    return cls


def handler_for(resource_type: str) -> ResourceHandler | None:
    _load()
    return HANDLERS.get(resource_type)


def supported_types() -> list[str]:
    _load()
    return sorted(HANDLERS)


def _load() -> None:
    # Importing the modules registers their handlers.
    from smartapp.sandbox.fhir import (  # noqa: F401
        account,
        appointment,
        basic,
        binary,
        communication,
        encounter,
        location,
        patient,
        practitioner,
        schedule,
        slot,
    )
