"""Schedule read and `_id` search (FACTS §2.4)."""

from typing import Any

from django.db.models import QuerySet

from smartapp.sandbox.fhir import params as p
from smartapp.sandbox.fhir.registry import Access, ResourceHandler, SearchParams, register
from smartapp.sandbox.models import Schedule


@register
class ScheduleHandler(ResourceHandler):
    type_name = "Schedule"
    include_total = False

    model = Schedule

    def search(self, *, tenant: str, params: SearchParams, access: Access) -> QuerySet[Any]:
        p.check_names(params, {"_id"})
        p.require_one(params, {"_id"})
        ids = p.id_list(params["_id"])
        return Schedule.objects.filter(tenant_id=tenant, fhir_id__in=ids).order_by("fhir_id")
