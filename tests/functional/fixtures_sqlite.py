from tests.functional.gabbi_harness import make_fixture

APIFixture = make_fixture("sqlite")
