"""Binary: the body of a Communication, by the Communication's id (FACTS §2.10).

`Accept: application/fhir+json` → a Binary with base64 `data`; `Accept: text/html` → the raw
content. Needs Binary read and Communication read scopes; provider and system personas only.
"""

import base64
from typing import Any

from smartapp.sandbox.fhir.communication import provider_or_system
from smartapp.sandbox.fhir.registry import Access, InsufficientScope, ResourceHandler, register
from smartapp.sandbox.models import Communication
from smartapp.sandbox.oauth import scopes as scope_rules


def _row(tenant: str, fhir_id: str, access: Access) -> Communication | None:
    provider_or_system(access)
    if scope_rules.granting_prefix(access.scopes, access.persona, "Communication", "read") is None:
        raise InsufficientScope
    return Communication.objects.filter(tenant_id=tenant, fhir_id=fhir_id).first()


@register
class BinaryHandler(ResourceHandler):
    type_name = "Binary"
    raw_types = ("text/html",)

    def read(self, *, tenant: str, fhir_id: str, access: Access) -> dict[str, Any] | None:
        row = _row(tenant, fhir_id, access)
        if row is None:
            return None
        return {
            "resourceType": "Binary",
            "id": row.fhir_id,
            "contentType": row.content_type,
            "data": base64.b64encode(bytes(row.content)).decode(),
        }

    def raw(self, *, tenant: str, fhir_id: str, access: Access) -> tuple[bytes, str] | None:
        row = _row(tenant, fhir_id, access)
        return (bytes(row.content), row.content_type) if row else None
