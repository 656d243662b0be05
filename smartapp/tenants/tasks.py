"""Background upkeep of tenant credentials."""

import logging

from celery import shared_task

from smartapp.tenants.discovery import DiscoveryError
from smartapp.tenants.models import Tenant
from smartapp.tenants.oauth import TokenEndpointError
from smartapp.tenants.system_client import messages_token, system_token

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def refresh_system_tokens() -> None:
    """Keeps every enabled tenant's system token fresh, so background work never waits on one."""
    for tenant in Tenant.objects.filter(enabled=True):
        try:
            system_token(tenant=tenant)
            if tenant.messages_token_endpoint:
                messages_token(tenant=tenant)
        except (DiscoveryError, TokenEndpointError) as error:
            logger.warning("system token for tenant %s not refreshed: %s", tenant.slug, error)
