"""The mutant generator the payload tests stand on: each mutant changes the document, and making
them (they share unchanged parts with it) never changes the document itself."""

from tests.examples import cerner_example
from tests.mutants import fingerprint, mutants


def test_every_mutant_differs_and_the_document_is_left_as_published():
    document = cerner_example("r4_appointment_search_bundle.json")
    published = fingerprint(document)

    made = list(mutants(document))

    assert fingerprint(document) == published
    unchanged = [change for change, mutant in made if fingerprint(mutant) == published]
    assert unchanged == [] and len(made) > 300
