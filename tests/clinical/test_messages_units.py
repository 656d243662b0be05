"""The sanitizer and the plain-text-to-XHTML conversion: nothing from the EHR may run as script."""

import pytest

from smartapp.clinical.messages import PortalMessage, message_from
from smartapp.clinical.sanitize import plain_text, safe_html, text_to_xhtml

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<svg onload="alert(1)"><circle/></svg>',
    '<iframe src="https://evil.example"></iframe>',
    '<p style="background:url(javascript:alert(1))" onclick="alert(1)">x</p>',
    "<style>body{display:none}</style>",
    '<object data="x.swf"></object><embed src="x">',
    '<form action="https://evil.example"><input name="p"><button>go</button></form>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    '<base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<!--<script>alert(1)</script>-->",
    '<div><a href="https://ok.example" target="_blank" onmouseover="alert(1)">ok</a></div>',
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_html_keeps_no_script_handler_style_or_dangerous_url(payload):
    cleaned = str(safe_html(payload)).lower()

    for bad in ("<script", "onerror", "onload", "onclick", "onmouseover", "javascript:", "<iframe",
                "style", "<svg", "<object", "<embed", "<form", "<input", "<base", "<meta", "data:",
                "alert(1)<"):  # fmt: skip
        assert bad not in cleaned, (payload, cleaned)


def test_formatting_survives_and_links_get_rel_noopener():
    cleaned = str(safe_html('<p>Take <b>two</b> <em>daily</em></p><ul><li>A</li></ul>'
                            '<a href="https://ok.example/x" title="t">guide</a>'))  # fmt: skip

    assert "<p>Take <b>two</b> <em>daily</em></p><ul><li>A</li></ul>" in cleaned
    assert '<a href="https://ok.example/x" title="t" rel="noopener noreferrer">guide</a>' in cleaned


def test_a_whole_cerner_html_document_keeps_only_its_text_and_formatting():
    import base64

    from tests.fakehttp import example

    raw = base64.b64decode(example("r4_binary_read_communication.json")["data"]).decode()

    cleaned = str(safe_html(raw))

    assert "Thank you for your message" in cleaned
    assert "XSL FO Document" not in cleaned and "<html" not in cleaned and "style=" not in cleaned


def test_previews_are_plain_text():
    assert plain_text("<p>Hi &amp; <b>bye</b></p><script>x()</script>") == "Hi & bye"


def test_patient_text_becomes_escaped_minimal_xhtml():
    xhtml = text_to_xhtml('I <3 "this" & that\r\nnext line\n\n\n<script>alert(1)</script>')

    assert xhtml == (
        '<div xmlns="http://www.w3.org/1999/xhtml"><p>I &lt;3 &quot;this&quot; &amp; that<br/>'
        "next line</p><p>&lt;script&gt;alert(1)&lt;/script&gt;</p></div>"
    )


def test_a_message_is_read_from_the_apis_summary_and_detail_shapes():
    summary = {
        "id": "710000003",
        "subject": "Before your visit",
        "createDateTime": "2025-01-02T03:04:05Z",
        "status": "UNREAD",
        "notificationType": "MESSAGE",
        "sender": {"id": "4122622", "type": "PERSONNEL", "name": "Cerner Test"},
        "recipients": [{"id": "12724066", "type": "PERSON", "name": "Nancy"}],
        "preview": "Please arrive early",
    }

    message = message_from(summary)
    detail = message_from(
        {**summary, "patientId": "12724066", "content": "<p>x<script>y</script></p>"}
    )

    assert isinstance(message, PortalMessage) and message.unread and message.can_reply
    assert message.preview == "Please arrive early" and message.sender.name == "Cerner Test"
    assert message.created.year == 2025 and message.recipient_names == "Nancy"
    assert str(detail.body_html) == "<p>x</p>" and detail.patient_id == "12724066"
    assert not message_from({**summary, "notificationType": "REMINDER"}).can_reply
