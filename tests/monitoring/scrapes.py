"""Reading what a /metrics scrape says, for the tests that scrape one."""

from prometheus_client.parser import text_string_to_metric_families

EhrCallKey = tuple[str, str, str, str]  # api, resource, method, status


def ehr_calls(text: str) -> dict[EhrCallKey, float]:
    """`smartapp_ehr_calls_total` by its labels."""
    return {
        (s.labels["api"], s.labels["resource"], s.labels["method"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "smartapp_ehr_calls_total"
    }
